"""OpenTelemetry spans and metrics, read back through the real SDK's in-memory exporter and reader.

A faulty run against the emulator over loopback HTTP: a 429 and a 503 on the
first pre-signs and a 503 on a PUT (all retried), the answer of a registration lost after the
server acted (looked up, not repeated), and a text file the dataset refuses
(it fails alone); then an export. Every attempt is a span, every retry, 429 and
limiter wait is counted, and nothing exported holds a secret.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import redis
from _redis_server import RedisServer, redis_server
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from basicai_async import (
    AsyncBasicAI,
    ExactLimiter,
    Limits,
    ProgressEvent,
    ResourceNotFoundError,
    RetryPolicy,
    UploadSource,
    Window,
    export_results,
)
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import STORE_ENDPOINT, Fault, Faults
from basicai_async.ratelimit import Reservation

__all__ = ["redis_server"]  # the fixture, imported for pytest

pytestmark = pytest.mark.integration

KEY = "otel-key-SECRET-4f9a"
PRESIGN = "storage/batchGeneratePreSignedUploadUrl"
REGISTER = "dataset/batchAddData"
FAST = RetryPolicy(backoff_start=0.002, backoff_cap=0.01)
FILES = 120  # two batches


class Scripted(Faults):
    """The emulator's faults, told in order per endpoint instead of drawn at random."""

    def __init__(self, plan: dict[str, list[Fault]]) -> None:
        super().__init__()
        self.plan = plan

    def decide(self, endpoint: str) -> Fault:
        queue = self.plan.get(endpoint)
        if queue:
            fault = queue.pop(0)
            self.injected[endpoint, fault.kind or "none"] += 1
            return fault
        return super().decide(endpoint)


def _faulty_plan() -> dict[str, list[Fault]]:
    return {
        PRESIGN: [Fault(kind="rate_limit", retry_after=0), Fault(kind="error", status=503)],
        REGISTER: [Fault(kind="drop_after")],
        STORE_ENDPOINT: [Fault(), Fault(), Fault(kind="error", status=503)],
    }


@dataclass
class Otel:
    """A tracer and a meter provider of the real SDK, exporting into memory."""

    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    tracer_provider: TracerProvider = field(default_factory=TracerProvider)
    meter_provider: MeterProvider = field(init=False)

    def __post_init__(self) -> None:
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """Every data point of every metric, by metric name."""
        data: MetricsData | None = self.reader.get_metrics_data()
        points: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None, faults=Scripted(_faulty_plan())) as emulator:
        yield emulator


class Signatures:
    """The query strings of the pre-signed URLs the client PUTs to (what must never leak)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)

    async def _start(
        self, session: object, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if params.method == "PUT":
            self.seen.add(params.url.query["Signature"])


class HeldLimiter(ExactLimiter):
    """Admits as the limiter does, and says each call waited a little longer than it did (as a
    busy shared key would make it), each wait a different one: every attempt's is told apart."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.waits: list[float] = []

    async def reserve(self) -> Reservation:  # what the pipeline takes its slots with
        slot = await super().reserve()
        slot.waited += 0.001 * (len(self.waits) + 1)
        self.waits.append(slot.waited)
        return slot


def _sources() -> list[UploadSource]:
    sources = [UploadSource.from_bytes(f"img-{i:03d}.png", b"px" * (1 + i % 3)) for i in range(FILES)]
    sources.insert(70, UploadSource.from_bytes("notes.txt", b"not an image"))
    return sources


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_faulty_upload_and_an_export_show_every_call_retry_429_and_wait(
    emu: Emulator, otel: Otel
) -> None:
    limiter = HeldLimiter(Limits((Window(1_000_000, 1.0),)))
    async with AsyncBasicAI(
        KEY,
        base_url=emu.base_url,
        limiter=limiter,
        retry=FAST,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    ) as client:
        ds = await client.datasets.create(name="watched", type="IMAGE")
        report = await client.uploader().upload(ds.id, _sources())
        summary = await export_results(client, ds.id, io.BytesIO())
        points = otel.metrics()  # while the client is open, its limiter is observed

    assert [r.name for r in report.failed] == ["notes.txt"]
    assert len(report.succeeded) == FILES
    assert summary.data_items == FILES
    spans = otel.finished()
    [run] = [s for s in spans if s.name == "basicai.upload"]
    [export] = [s for s in spans if s.name == "basicai.export"]
    batches = [s for s in spans if s.name == "basicai.upload.batch"]
    calls = [s for s in spans if s.kind == SpanKind.CLIENT]

    # The run and its batches.
    assert _attrs(run)["basicai.dataset.id"] == ds.id
    assert _attrs(run)["basicai.upload.files"] == FILES + 1
    assert _attrs(run)["basicai.upload.registered"] == FILES
    assert _attrs(run)["basicai.upload.failed"] == 1
    assert len(batches) == 2
    assert all(b.parent is not None and b.parent.span_id == run.context.span_id for b in batches)
    assert sorted(_attrs(b)["basicai.upload.registered"] for b in batches) == [21, 99]
    assert sum(_attrs(b)["basicai.upload.failed"] for b in batches) == 1

    # Every attempt is a CLIENT span with the HTTP semantic conventions, no URL.
    port = int(emu.base_url.split(":")[2].split("/")[0])
    for call in calls:
        attrs = _attrs(call)
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == port
        assert call.name == f"{attrs['http.request.method']} {attrs['url.template']}"
        assert "url.full" not in attrs
        assert attrs["basicai.limiter.wait"] > 0  # every attempt waited here (HeldLimiter)
    presigns = [c for c in calls if _attrs(c)["url.template"] == "/" + PRESIGN]
    # The 429 and the 503 met the first pre-sign attempts (of one batch or of both: they run
    # at once); each was retried, the retries saying how many attempts came before.
    tried = sorted(
        (
            (_attrs(p).get("http.response.status_code", 0), _attrs(p).get("http.request.resend_count", 0), p)
            for p in presigns
        ),
        key=lambda t: t[:2],
    )
    assert Counter(status for status, _, _ in tried) == {200: 2, 429: 1, 503: 1}
    assert sorted(resent for _, resent, _ in tried if resent) in ([1, 1], [1, 2])
    failed = {status: _attrs(p) for status, _, p in tried if status != 200}
    assert failed[429]["error.type"] == "429"
    assert failed[429]["basicai.error.code"] == "TOO_MANY_REQUESTS"
    assert failed[503]["error.type"] == "503"
    statuses = [p.status.status_code for _, _, p in tried]  # in status order: 200, 200, 429, 503
    assert statuses == [StatusCode.UNSET, StatusCode.UNSET, StatusCode.ERROR, StatusCode.ERROR]
    # Pre-signs and registrations nest under their batch; the batch under the run.
    batch_ids = {b.context.span_id for b in batches}
    registers = [c for c in calls if _attrs(c)["url.template"] == "/dataset/batchAddData/{datasetId}"]
    for call in presigns + registers:
        assert call.parent is not None
        assert call.parent.span_id in batch_ids
    # The lost answer: no status, the error class, then look-ups under the same batch.
    [dropped] = [c for c in registers if "http.response.status_code" not in _attrs(c)]
    assert _attrs(dropped)["error.type"] == "APIConnectionError"
    assert dropped.status.status_code == StatusCode.ERROR
    lost_in = dropped.parent
    assert lost_in is not None
    listings = [c for c in calls if "listItem" in _attrs(c)["url.template"]]
    parents = Counter(c.parent.span_id if c.parent else None for c in listings)
    assert parents[lost_in.span_id] >= 1  # the look-up
    assert set(parents) == {lost_in.span_id, export.context.span_id}  # and the export's listings
    # The refused text file: an HTTP 200 whose envelope says no, halved until it failed alone.
    refused = [_attrs(c) for c in registers if _attrs(c).get("basicai.error.code")]
    assert refused
    assert {a["basicai.error.code"] for a in refused} == {"FILE_FORMAT_NOT_SUPPORTED"}
    assert {a["error.type"] for a in refused} == {"FileFormatNotSupportedError"}
    assert all(a["http.response.status_code"] == 200 for a in refused)
    # The export's calls nest under its span.
    exported = [c for c in calls if c.start_time is not None and c.start_time >= (export.start_time or 0)]
    assert exported
    for call in exported:
        parent = call.parent
        assert parent is not None
        assert parent.span_id == export.context.span_id
    assert _attrs(export)["basicai.export.results"] == summary.results

    # Metrics.
    durations = points["http.client.request.duration"]
    api = [p for p in durations if p.attributes["http.request.method"] != "PUT"]
    puts = [p for p in durations if p.attributes["http.request.method"] == "PUT"]
    assert sum(p.count for p in api) == len(calls)
    statuses = Counter(p.attributes.get("http.response.status_code") for p in api for _ in range(p.count))
    assert statuses[429] == 1
    assert statuses[503] == 1
    # Every PUT attempt too (one refused with a 503 and retried), storage's host and port only.
    put_statuses = Counter(
        p.attributes.get("http.response.status_code") for p in puts for _ in range(p.count)
    )
    assert put_statuses == {200: FILES + 1, 503: 1}
    assert {(p.attributes["server.address"], p.attributes["server.port"]) for p in puts} == {
        ("127.0.0.1", port)
    }
    retries = {
        (p.attributes["http.request.method"], p.attributes["basicai.retry.reason"]): p.value
        for p in points["basicai.client.retries"]
    }
    assert retries == {("POST", "429"): 1, ("POST", "503"): 1, ("PUT", "503"): 1}
    assert [p.value for p in points["basicai.client.rate_limited"]] == [1]
    # Every attempt, retries included, took its slot from the limiter and says how long it waited.
    assert sorted(_attrs(c)["basicai.limiter.wait"] for c in calls) == sorted(limiter.waits)
    waits = points["basicai.limiter.wait"]
    assert sum(p.count for p in waits) == len(calls)
    assert sum(p.sum for p in waits) == pytest.approx(sum(limiter.waits))
    files = {p.attributes["basicai.upload.outcome"]: p.value for p in points["basicai.upload.files"]}
    assert files == {"registered": FILES, "failed": 1}
    [stored] = points["basicai.upload.bytes"]
    assert stored.value == report.bytes_uploaded + len(b"not an image")
    [results] = points["basicai.export.results"]
    assert results.value == summary.results
    # The limiter's one window and its queue are observed.
    remaining = points["basicai.limiter.remaining"]
    assert {p.attributes["basicai.limiter.window"] for p in remaining} == {"1s"}
    admitted = limiter.stats().admitted
    assert all(1_000_000 - admitted <= p.value < 1_000_000 for p in remaining)
    assert [p.value for p in points["basicai.limiter.queue"]] == [0]


async def test_nothing_exported_holds_the_key_a_signature_or_the_redis_password(
    emu: Emulator,
    otel: Otel,
    redis_server: RedisServer,
) -> None:
    password = "redis-PASSWORD-7e1c"
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.config_set("requirepass", password)
    signatures = Signatures()
    events: list[ProgressEvent] = []
    async with (
        aiohttp.ClientSession(trace_configs=[signatures.config]) as session,
        AsyncBasicAI(
            KEY,
            base_url=emu.base_url,
            session=session,
            redis_url=f"redis://:{password}@127.0.0.1:{redis_server.port}/0",
            retry=FAST,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        ) as client,
    ):
        ds = await client.datasets.create(name="secret", type="IMAGE")
        report = await client.uploader(on_event=events.append).upload(ds.id, _sources())
        await export_results(client, ds.id, io.BytesIO(), on_event=events.append)
        with pytest.raises(ResourceNotFoundError):
            await client.datasets.get(999_999)
        points = otel.metrics()  # collected while the Redis limiter is watched
    assert len(report.failed) == 1
    assert emu.faults.injected[PRESIGN, "rate_limit"] == 1
    assert emu.faults.injected[REGISTER, "drop_after"] == 1
    assert len(signatures.seen) >= FILES

    dumped = [span.to_json() for span in otel.finished()]
    dumped += [json.dumps([str(p.attributes), str(p)]) for pts in points.values() for p in pts]
    dumped += [repr(event) for event in events]
    everything = "\n".join(dumped)
    assert "basicai.upload.batch" in everything  # the dump is not empty
    assert KEY not in everything
    assert password not in everything
    leaked = [s for s in signatures.seen if s in everything]
    assert leaked == []


async def test_the_escape_hatch_names_a_path_template_only_when_it_has_no_id(
    emu: Emulator, otel: Otel
) -> None:
    emu.faults.plan.clear()  # type: ignore[attr-defined]
    async with AsyncBasicAI(
        KEY, base_url=emu.base_url, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    ) as client:
        ds = await client.datasets.create(name="hatch", type="IMAGE")
        await client.request("GET", f"/dataset/info/{ds.id}")
        await client.request("GET", "/dataset/list")
    names = [s.name for s in otel.finished()]
    assert names == ["POST /dataset/create", "GET", "GET /dataset/list"]
    assert "url.template" not in _attrs(otel.finished()[1])
    # Nothing waited for the limiter here: no wait is said.
    assert all("basicai.limiter.wait" not in _attrs(s) for s in otel.finished())


async def test_no_op_providers_turn_telemetry_off() -> None:
    client = AsyncBasicAI(
        KEY, tracer_provider=trace.NoOpTracerProvider(), meter_provider=metrics.NoOpMeterProvider()
    )
    assert client.telemetry is None
    await client.close()


_WITHOUT_OTEL = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, Blocked())
import basicai_async
from basicai_async import AsyncBasicAI, ConfigurationError

client = AsyncBasicAI("k")
assert client.telemetry is None
try:
    AsyncBasicAI("k", tracer_provider=object())
except ConfigurationError as exc:
    assert "basicai-async[otel]" in str(exc), exc
else:
    raise AssertionError("a provider without OpenTelemetry was accepted")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry") or m.endswith("._otel"))
assert loaded == [], loaded
print("ok")
"""


def test_without_opentelemetry_nothing_is_imported_and_nothing_recorded() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_OTEL], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


_GLOBAL = """
import asyncio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from basicai_async import AsyncBasicAI
from basicai_async.emulator import Emulator

def configure():
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return spans, reader

async def main():
    async with Emulator(keys={"k": "team"}, limits=None) as emu:
        # Made before OpenTelemetry is configured, as a library's client often is.
        async with AsyncBasicAI("k", base_url=emu.base_url) as client:
            exported = configure()
            await client.datasets.create(name="global", type="IMAGE")
    return exported

spans, reader = asyncio.run(main())
names = [s.name for s in spans.get_finished_spans()]
metric_names = {m.name for r in reader.get_metrics_data().resource_metrics
                for s in r.scope_metrics for m in s.metrics}
print(names, "http.client.request.duration" in metric_names)
"""


def test_the_global_providers_are_used_by_default() -> None:
    # In a process of its own: a global provider can be set once per process. The client
    # is made before the providers are set, and still records through them.
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_GLOBAL)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "['POST /dataset/create'] True", done.stderr
