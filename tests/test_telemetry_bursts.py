"""Finished attempts reach OpenTelemetry in bursts: every 64, after 50 ms, at a collection, at close.

The real SDK (in-memory span exporter and metric reader) against the emulator
over loopback HTTP. Bursts only move *when* the SDK is called: each span keeps
its attempt's start and end and the parent current when the attempt ended.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from basicai_async import AsyncBasicAI, UploadSource
from basicai_async.emulator import Emulator
from basicai_async.telemetry import _otel

pytestmark = pytest.mark.integration

KEY = "bursts-key"


class Spans(SpanExporter):
    """Keeps the spans, and wakes a waiting test each time some arrive."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.arrived = asyncio.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        self.arrived.set()  # the flush runs on the event loop's thread
        return SpanExportResult.SUCCESS

    def clients(self) -> list[ReadableSpan]:
        return [s for s in self.spans if s.kind == SpanKind.CLIENT]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


def _client(
    emu: Emulator, spans: Spans, reader: InMemoryMetricReader, tracer_provider: TracerProvider | None = None
) -> AsyncBasicAI:
    tracer_provider = tracer_provider or TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return AsyncBasicAI(
        KEY,
        base_url=emu.base_url,
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )


def _durations(reader: InMemoryMetricReader, method: str | None = None) -> int:
    """How many attempts (of ``method``, else all) ``http.client.request.duration`` has counted so far."""
    data = reader.get_metrics_data()
    assert data is not None
    return sum(
        point.count
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.client.request.duration"
        for point in metric.data.data_points
        if method is None or point.attributes["http.request.method"] == method
    )


def _durations_on_another_thread(reader: InMemoryMetricReader, method: str | None = None) -> int:
    """``_durations`` as a periodic reader's own thread sees them."""
    counted: list[int] = []
    other = threading.Thread(target=lambda: counted.append(_durations(reader, method)))
    other.start()
    other.join()
    return counted[0]


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_attempts_go_out_every_64_and_the_rest_at_a_collection_or_at_close(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_otel, "_BURST_DELAY", 3600.0)  # only the count, a collection or close
    spans, reader = Spans(), InMemoryMetricReader()
    async with _client(emu, spans, reader) as client:
        ds = await client.datasets.create(name="bursts", type="IMAGE")
        for _ in range(62):
            await client.datasets.get(ds.id)
        assert spans.clients() == []  # 63 attempts held
        await client.datasets.get(ds.id)
        assert len(spans.clients()) == 64  # the 64th hands them all over, in order
        assert [s.name for s in spans.clients()[:2]] == [
            "POST /dataset/create",
            "GET /dataset/info/{datasetId}",
        ]
        await client.datasets.get(ds.id)
        assert len(spans.clients()) == 64
        # A reader collecting on the client's thread gets every attempt so far.
        assert _durations(reader) == 65
        assert len(spans.clients()) == 65
        await client.datasets.get(ds.id)
        assert len(spans.clients()) == 65
    assert len(spans.clients()) == 66  # closing hands over what is held
    starts = [s.start_time or 0 for s in spans.clients()]
    assert starts == sorted(starts)
    assert all((s.start_time or 0) < (s.end_time or 0) for s in spans.clients())


async def test_a_held_attempt_goes_out_after_the_delay_without_close(emu: Emulator) -> None:
    spans, reader = Spans(), InMemoryMetricReader()
    async with _client(emu, spans, reader) as client:
        ds = await client.datasets.create(name="delay", type="IMAGE")
        assert spans.clients() == []
        await asyncio.wait_for(spans.arrived.wait(), timeout=10)
        [span] = spans.clients()
        assert span.name == "POST /dataset/create"
        assert _attrs(span)["http.response.status_code"] == 200
        assert (span.end_time or 0) - (span.start_time or 0) > 0
        spans.arrived.clear()
        await client.datasets.get(ds.id)
        await asyncio.wait_for(spans.arrived.wait(), timeout=10)  # the timer is set again
        assert [s.name for s in spans.clients()] == ["POST /dataset/create", "GET /dataset/info/{datasetId}"]


async def test_a_span_nests_under_the_span_current_when_its_attempt_ended(emu: Emulator) -> None:
    spans, reader, provider = Spans(), InMemoryMetricReader(), TracerProvider()
    async with _client(emu, spans, reader, provider) as client:
        with provider.get_tracer("test").start_as_current_span("outer") as outer:
            ds = await client.datasets.create(name="nested", type="IMAGE")
        await client.datasets.get(ds.id)
    nested, alone = spans.clients()
    assert nested.parent is not None
    assert nested.parent.span_id == outer.get_span_context().span_id
    assert nested.context.trace_id == outer.get_span_context().trace_id
    assert alone.parent is None


async def test_a_collection_on_another_thread_leaves_held_attempts_to_the_next(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A periodic reader collects on a thread of its own: the client's attempts are
    # taken on the event loop's thread and stay there until the next burst.
    monkeypatch.setattr(_otel, "_BURST_DELAY", 3600.0)
    spans, reader = Spans(), InMemoryMetricReader()
    async with _client(emu, spans, reader) as client:
        await client.datasets.create(name="threads", type="IMAGE")
        assert _durations_on_another_thread(reader) == 0
        assert spans.clients() == []
        assert _durations(reader) == 1  # on the client's thread
        assert len(spans.clients()) == 1


async def test_storage_puts_are_held_and_counted_like_api_attempts(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_otel, "_BURST_DELAY", 3600.0)
    spans, reader = Spans(), InMemoryMetricReader()
    async with _client(emu, spans, reader) as client:
        ds = await client.datasets.create(name="puts", type="IMAGE")
        sources = [UploadSource.from_bytes(f"p{i}.png", b"px" * (i + 1)) for i in range(3)]
        report = await client.uploader().upload(ds.id, sources)
        assert len(report.succeeded) == 3
        assert _durations_on_another_thread(reader, "PUT") == 0  # held: counted there next time
        assert _durations(reader, "PUT") == 3
    data = reader.get_metrics_data()
    assert data is not None
    puts = [
        point.attributes
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.client.request.duration"
        for point in metric.data.data_points
        if point.attributes["http.request.method"] == "PUT"
    ]
    port = int(emu.base_url.split(":")[2].split("/")[0])
    assert puts == [
        {
            "http.request.method": "PUT",
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
        }
    ]
