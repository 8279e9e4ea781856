"""Typed progress events of uploads and exports, over loopback HTTP to the emulator."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from basicai_async import (
    AsyncBasicAI,
    BatchRegistered,
    BytesSent,
    ExactLimiter,
    ExportEvent,
    ExportFinished,
    ExportProgress,
    ExportStarted,
    FileDone,
    FileFailed,
    LimiterWaited,
    Limits,
    ManifestMismatchError,
    Reservation,
    UploadEvent,
    UploadFinished,
    UploadSource,
    UploadStarted,
    Window,
    export_results,
)
from basicai_async.emulator import Emulator

pytestmark = pytest.mark.integration

KEY = "events-key"
NO_LIMITS = Limits((Window(1_000_000, 1.0),))


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMITS) as c:
        yield c


def _sources() -> list[UploadSource]:
    """230 images (three batches), a text file refused at registration, an empty file refused up front."""
    sources = [UploadSource.from_bytes(f"img-{i:03d}.png", b"px" * (1 + i % 5)) for i in range(230)]
    sources.insert(150, UploadSource.from_bytes("notes.txt", b"not an image"))
    sources.insert(7, UploadSource.from_bytes("empty.png", b""))
    return sources


def _check_upload_events(events: list[UploadEvent]) -> None:
    """The contract of one upload's events, whatever consumer took them."""
    first, last = events[0], events[-1]
    assert first == UploadStarted(files=232, to_upload=231, bytes=sum(1 + i % 5 for i in range(230)) * 2 + 12)
    assert isinstance(last, UploadFinished)
    report = last.report
    # Files settled before any PUT come right after the start.
    assert isinstance(events[1], FileFailed)
    assert events[1].result.name == "empty.png"
    assert events[1].result.stage == "validate"
    done = [e.result for e in events if isinstance(e, FileDone)]
    failed = [e.result for e in events if isinstance(e, FileFailed)]
    # Every registered file comes once, as the very result object of the report.
    assert len(done) == 230
    assert {id(r) for r in done} == {id(r) for r in report.succeeded}
    assert all(r.data_id is not None for r in done)
    assert sorted(r.name for r in failed) == ["empty.png", "notes.txt"]
    assert {id(r) for r in failed} == {id(r) for r in report.failed}
    # Registration calls account for every FileDone, each before the files it registered.
    assert sum(e.files for e in events if isinstance(e, BatchRegistered)) == 230
    seen = 0
    for event in events:
        if isinstance(event, BatchRegistered):
            seen += event.files
        elif isinstance(event, FileDone):
            seen -= 1
            assert seen >= 0
    # Bytes: everything PUT, the refused text file included.
    assert sum(e.nbytes for e in events if isinstance(e, BytesSent)) == report.bytes_uploaded + 12
    assert sum(isinstance(e, (UploadStarted, UploadFinished)) for e in events) == 2


async def test_an_upload_tells_its_consumer_every_file_batch_and_byte(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="events", type="IMAGE")
    events: list[UploadEvent] = []

    report = await client.uploader(on_event=events.append).upload(ds.id, _sources())

    _check_upload_events(events)
    last = events[-1]
    assert isinstance(last, UploadFinished)
    assert last.report is report


async def test_the_event_iterator_yields_the_same_stream_and_ends_with_the_report(
    client: AsyncBasicAI,
) -> None:
    ds = await client.datasets.create(name="iterated", type="IMAGE")
    also: list[UploadEvent] = []

    events = [event async for event in client.uploader(on_event=also.append).events(ds.id, _sources())]

    _check_upload_events(events)
    assert events == also


async def test_leaving_the_event_iterator_early_cancels_the_upload(
    emu: Emulator, client: AsyncBasicAI
) -> None:
    ds = await client.datasets.create(name="left", type="IMAGE")
    sources = [UploadSource.from_bytes(f"img-{i:04d}.png", b"px") for i in range(1000)]
    before = asyncio.all_tasks()

    async with aclosing(client.uploader(concurrency=4).events(ds.id, sources)) as events:
        async for event in events:
            if isinstance(event, FileDone):
                break

    # Nothing of the upload runs on: no new task but the emulator's connection handlers.
    left = {t for t in asyncio.all_tasks() - before if "RequestHandler" not in repr(t.get_coro())}
    assert left == set()
    registered = len(emu.state.datasets[ds.id].items)
    await asyncio.sleep(0)
    assert len(emu.state.datasets[ds.id].items) == registered < 1000


async def test_the_event_iterator_raises_what_stops_the_upload(client: AsyncBasicAI, tmp_path: Path) -> None:
    first = await client.datasets.create(name="first", type="IMAGE")
    second = await client.datasets.create(name="second", type="IMAGE")
    manifest = tmp_path / "m.jsonl"
    one = [UploadSource.from_bytes("a.png", b"px")]
    (await client.uploader().upload(first.id, one, manifest=manifest)).raise_for_failures()

    with pytest.raises(ManifestMismatchError):
        async for _ in client.uploader().events(second.id, one, manifest=manifest):
            pass


async def test_a_consumer_that_raises_stops_the_upload_with_its_exception(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="raising", type="IMAGE")

    class Full(Exception):
        pass

    def consumer(event: UploadEvent) -> None:
        if isinstance(event, FileDone):
            raise Full("the service's queue is full")

    with pytest.raises(ExceptionGroup) as caught:
        await client.uploader(on_event=consumer).upload(ds.id, _sources())
    assert caught.group_contains(Full)


async def test_a_consumer_must_be_callable(client: AsyncBasicAI) -> None:
    with pytest.raises(TypeError, match="on_event must be a callable"):
        client.uploader(on_event=[])  # type: ignore[arg-type]


class SlowLimiter(ExactLimiter):
    """Admits at once but says every call waited a quarter second (as a busy shared key would)."""

    async def acquire(self) -> float:
        return await super().acquire() + 0.25

    async def reserve(self) -> Reservation:  # what the pipeline takes its slots with
        slot = await super().reserve()
        slot.waited += 0.25
        return slot


async def test_calls_held_by_the_limiter_are_reported_as_waits(emu: Emulator) -> None:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limiter=SlowLimiter(NO_LIMITS)) as client:
        ds = await client.datasets.create(name="held", type="IMAGE")
        events: list[UploadEvent] = []
        sources = [UploadSource.from_bytes(f"img-{i:03d}.png", b"px") for i in range(250)]
        report = await client.uploader(on_event=events.append).upload(ds.id, sources)
        told = len(events)
        await client.datasets.get(ds.id)  # not the upload's: its consumer is not told
        assert len(events) == told
    report.raise_for_failures()
    waits = [e.seconds for e in events if isinstance(e, LimiterWaited)]
    # Three pre-signs and three registrations, each reported once, inside the run.
    assert waits == [0.25] * 6


async def test_an_export_reports_its_start_progress_and_summary(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="exported", type="IMAGE")
    sources = [UploadSource.from_bytes(f"img-{i:03d}.png", b"px") for i in range(250)]
    (await client.uploader().upload(ds.id, sources)).raise_for_failures()
    events: list[ExportEvent] = []
    out = io.BytesIO()

    summary = await export_results(client, ds.id, out, on_event=events.append)

    assert events[0] == ExportStarted(ds.id)
    assert events[-1] == ExportFinished(summary)
    progress = [e for e in events if isinstance(e, ExportProgress)]
    assert progress
    assert progress[-1] == ExportProgress(summary.data_items, summary.results, summary.bytes_written)
    assert summary.bytes_written == len(out.getvalue()) > 64 * 1024 or len(progress) == 1
    totals = [(p.results, p.bytes_written) for p in progress]
    assert totals == sorted(totals)
    assert len(set(totals)) == len(totals)
