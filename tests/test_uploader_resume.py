"""Interrupted uploads resumed from their manifest: nothing twice, nothing missing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basicai_async import (
    APIStatusError,
    AsyncBasicAI,
    FileDone,
    Limits,
    RetryPolicy,
    UploadEvent,
    UploadReport,
    UploadSource,
    Window,
)
from basicai_async._manifest import Manifest, ManifestEntry
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import FaultRule

pytestmark = pytest.mark.integration

KEY = "upload-resume-key"
ADD = "dataset/batchAddData"
LOOKUP = "dataset/listItemById"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=Limits((Window(100_000, 1.0),))) as c:
        yield c


def _payloads(count: int) -> dict[str, bytes]:
    return {f"img-{i:04d}.png": f"image {i}".encode() * 10 for i in range(count)}


def _sources(payloads: dict[str, bytes]) -> list[UploadSource]:
    return [UploadSource.from_bytes(name, data) for name, data in payloads.items()]


def _data_names(emu: Emulator, dataset_id: int) -> Counter[str]:
    return Counter(i.name for i in emu.state.datasets[dataset_id].items.values() if i.kind == "DATA")


def _statuses(manifest: Path, payloads: dict[str, bytes]) -> Counter[str | None]:
    """The latest journaled status of each file (None: not journaled yet)."""
    with Manifest(manifest) as journal:
        entries = [journal.get(name, len(data)) for name, data in payloads.items()]
    return Counter(e.status if e is not None else None for e in entries)


def _calls(emu: Emulator, fragment: str) -> int:
    return sum(fragment in r.path for r in emu.requests(KEY))


def _fast_client(emu: Emulator) -> AsyncBasicAI:
    """A client with one quick retry: look-ups that keep failing give up fast."""
    fast = RetryPolicy(max_retries=1, backoff_start=0.001, backoff_cap=0.002)
    return AsyncBasicAI(KEY, base_url=emu.base_url, limits=Limits((Window(100_000, 1.0),)), retry=fast)


async def _left_unsure(
    c: AsyncBasicAI, emu: Emulator, dataset_id: int, payloads: dict[str, bytes], manifest: Path
) -> UploadReport:
    """Upload ``payloads`` while every registration answer is lost and every look-up fails (faults kept)."""
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint=ADD)
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint=LOOKUP)
    return await c.uploader().upload(dataset_id, _sources(payloads), manifest=manifest)


class StopAfter:
    """Progress that signals once ``count`` files are registered."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.registered = 0
        self.reached = asyncio.Event()

    def __call__(self, event: UploadEvent) -> None:
        if isinstance(event, FileDone):
            self.registered += 1
            if self.registered >= self.count:
                self.reached.set()


async def test_a_cancelled_run_resumes_without_duplicates(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="cancelled", type="IMAGE")
    payloads = _payloads(1000)
    manifest = tmp_path / "m" / "upload.jsonl"
    stop = StopAfter(150)
    task = asyncio.create_task(
        client.uploader(concurrency=8, on_event=stop).upload(ds.id, _sources(payloads), manifest=manifest)
    )
    await stop.reached.wait()
    task.cancel()  # Ctrl-C in the middle of the run
    with pytest.raises(asyncio.CancelledError):
        await task
    first = _data_names(emu, ds.id)
    assert 150 <= sum(first.values()) < 1000
    statuses = _statuses(manifest, payloads)
    assert statuses["registered"] >= 150

    report = await client.uploader(concurrency=8).upload(ds.id, _sources(payloads), manifest=manifest)

    assert report.failed == []
    assert [r.name for r in report.results] == list(payloads)
    names = _data_names(emu, ds.id)
    assert names == Counter(dict.fromkeys(payloads, 1))  # every file exactly once
    resumed = [r for r in report.results if r.resumed]
    assert len(resumed) == sum(first.values())
    items = emu.state.datasets[ds.id].items
    for r in report.results:
        assert items[r.data_id or 0].name == r.name
        assert emu.read_object(items[r.data_id or 0].files[0].path) == payloads[r.name]
    # A third run has nothing to do and makes no call at all.
    before = len(emu.requests(KEY))
    again = await client.uploader().upload(ds.id, _sources(payloads), manifest=manifest)
    assert all(r.ok and r.resumed for r in again.results)
    assert [r.data_id for r in again.results] == [r.data_id for r in report.results]
    assert len(emu.requests(KEY)) == before


async def test_registration_cut_off_after_the_server_acted_is_looked_up_not_repeated(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="dropped", type="IMAGE")
    batch = await client.batches.add(ds.id, name="b")
    payloads = _payloads(250)
    manifest = tmp_path / "upload.jsonl"
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint=ADD)

    report = await client.uploader().upload(ds.id, _sources(payloads), batch_id=batch.id, manifest=manifest)

    # The server added them all but no answer came: the batch is looked up, not added again.
    assert report.failed == []
    assert report.maybe_registered == []
    assert all(r.ok and r.resumed is False for r in report.results)
    assert _data_names(emu, ds.id) == Counter(dict.fromkeys(payloads, 1))
    assert _calls(emu, ADD) == 3  # one per batch: a POST is never retried after an ambiguous failure
    items = emu.state.datasets[ds.id].items
    assert all(items[r.data_id or 0].name == r.name for r in report.results)
    assert set(_statuses(manifest, payloads)) == {"registered"}


async def test_a_registration_nobody_could_settle_is_maybe_registered_and_resumed_by_look_up(
    emu: Emulator, tmp_path: Path
) -> None:
    """Issue 10 #6: an ambiguous failure whose look-up fails is "maybe registered", never plain failed."""
    async with _fast_client(emu) as c:
        ds = await c.datasets.create(name="unsure", type="IMAGE")
        payloads = _payloads(120)
        manifest = tmp_path / "upload.jsonl"
        report = await _left_unsure(c, emu, ds.id, payloads, manifest)

        # Registered on the server, unconfirmed here: not in report.failed, whose retry would double them.
        assert report.failed == []
        assert len(report.maybe_registered) == 120
        assert all((r.ok, r.stage, r.maybe_registered) == (False, "register", True) for r in report.results)
        assert set(_statuses(manifest, payloads)) == {"maybe_registered"}
        assert _data_names(emu, ds.id) == Counter(dict.fromkeys(payloads, 1))

        emu.faults.clear()
        calls = _calls(emu, ADD)
        rerun = await c.uploader().upload(ds.id, _sources(payloads), manifest=manifest)

    assert rerun.failed == []
    assert rerun.maybe_registered == []
    assert all(r.resumed for r in rerun.results)
    assert _calls(emu, ADD) == calls  # found by look-up, not registered again
    assert _data_names(emu, ds.id) == Counter(dict.fromkeys(payloads, 1))
    assert set(_statuses(manifest, payloads)) == {"registered"}


async def test_a_rerun_that_cannot_settle_holds_the_unsure_files_back_and_uploads_the_rest(
    emu: Emulator, tmp_path: Path
) -> None:
    """A look-up that fails at the start of a rerun does not stop it, and never sends an unsure file again."""
    async with _fast_client(emu) as c:
        ds = await c.datasets.create(name="held", type="IMAGE")
        unsure = _payloads(30)
        manifest = tmp_path / "upload.jsonl"
        first = await _left_unsure(c, emu, ds.id, unsure, manifest)
        assert len(first.maybe_registered) == 30

        # The look-up still fails; registration works again; new files come with the old.
        emu.faults.clear()
        emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint=LOOKUP)
        fresh = {f"new-{i:03d}.png": b"new %d" % i * 10 for i in range(20)}
        calls = _calls(emu, ADD)
        rerun = await c.uploader().upload(ds.id, _sources({**unsure, **fresh}), manifest=manifest)

        held = rerun.maybe_registered
        assert sorted(r.name for r in held) == sorted(unsure)
        assert all((r.ok, r.stage) == (False, "register") for r in held)
        assert all("held back" in (r.error or "") and "run the upload again" in (r.error or "") for r in held)
        assert all(isinstance((r.exception or Exception()).__cause__, APIStatusError) for r in held)
        assert sorted(r.name for r in rerun.results if r.ok) == sorted(fresh)
        assert rerun.failed == []
        assert _calls(emu, ADD) > calls  # the new files were registered ...
        assert _data_names(emu, ds.id) == Counter(dict.fromkeys([*unsure, *fresh], 1))  # ... nothing twice
        assert _statuses(manifest, unsure) == Counter({"maybe_registered": 30})

        emu.faults.clear()
        settled = await c.uploader().upload(ds.id, _sources({**unsure, **fresh}), manifest=manifest)

    assert (settled.failed, settled.maybe_registered) == ([], [])
    assert all(r.resumed for r in settled.results)
    assert _data_names(emu, ds.id) == Counter(dict.fromkeys([*unsure, *fresh], 1))
    assert set(_statuses(manifest, {**unsure, **fresh})) == {"registered"}


async def test_failed_files_are_retried_and_new_files_added_on_rerun(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="retry-failed", type="IMAGE")
    path = tmp_path / "upload.jsonl"
    first = {"a.png": b"a", "b.png": b"b"}
    with Manifest(path) as manifest:
        manifest.record(ManifestEntry(name="a.png", size=1, status="failed", error="put: boom"))
        report = await client.uploader().upload(ds.id, _sources(first), manifest=manifest)
        assert [r.resumed for r in report.results] == [False, False]
        assert all(r.ok for r in report.results)
        # The uploader does not close a manifest it was given.
        manifest.record(ManifestEntry(name="c.png", size=1, status="failed"))
    # A crash mid-write leaves a partial last line, and blank lines are harmless.
    with path.open("ab") as f:
        f.write(b'\n{"name": "d.png", "size": 1, "sta')
    more = {**first, "c.png": b"c", "d.png": b"d"}
    assert _calls(emu, "listItemById") == 0

    report = await client.uploader().upload(ds.id, _sources(more), manifest=path)

    assert [(r.name, r.ok, r.resumed) for r in report.results] == [
        ("a.png", True, True),
        ("b.png", True, True),
        ("c.png", True, False),
        ("d.png", True, False),
    ]
    assert _data_names(emu, ds.id) == Counter(dict.fromkeys(more, 1))
    # Nothing was left "registering", so no lookup was needed.
    assert _calls(emu, "listItemById") == 0
    # A file whose size changed is a different file: uploaded again.
    report = await client.uploader().upload(ds.id, [UploadSource.from_bytes("a.png", b"aa")], manifest=path)
    assert not report.results[0].resumed
    assert report.results[0].ok


def test_manifest_reads_back_the_last_entry_per_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "m.jsonl"
    assert Manifest(path).get("x", 1) is None
    with Manifest(path) as m:
        m.record(ManifestEntry(name="x", size=1, status="registering", path="p"))
        m.record(ManifestEntry(name="x", size=1, status="registered", data_id=5, path="p"))
        m.record(ManifestEntry(name="x", size=2, status="failed", error="e"))
    lines = path.read_bytes().splitlines()
    assert lines[0] == b'{"name":"x","size":1,"status":"registering","path":"p"}'
    again = Manifest(path)
    assert again.get("x", 1) == ManifestEntry(name="x", size=1, status="registered", data_id=5, path="p")
    assert again.get("x", 2).status == "failed"  # type: ignore[union-attr]
    again.close()  # closing an unopened journal is fine
