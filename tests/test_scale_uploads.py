"""Uploads of any size: sources taken lazily, flat memory, counts past the kept results, look-ups from a
high-water mark instead of the whole level.

Not about answer shapes, so run against one dialect (the name keeps it out of conftest's both-dialect
prefixes): the look-ups' matching in both dialects is tested with the uploader's other tests.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from basicai_async import AsyncBasicAI, Limits, ManifestStatus, UploadSource, Window
from basicai_async._errors import APIDecodeError
from basicai_async._manifest_db import SqliteManifest
from basicai_async.emulator import Emulator, Fault, Faults, NewDataRec
from basicai_async.models import Item
from basicai_async.telemetry import FileDone, UploadEvent
from basicai_async.uploader import _batch, _feed, _report
from basicai_async.uploader._checks import NameSet
from basicai_async.uploader._highwater import HighWater
from basicai_async.uploader._reconcile import find_registered

KEY = "upload-scale-key"
REGISTER = "dataset/batchAddData"
LOOKUP = "/dataset/listItemById/"
NO_LIMIT = Limits((Window(1_000_000, 1.0),))


def _tiny(count: int, prefix: str = "f") -> Iterator[UploadSource]:
    for i in range(count):
        yield UploadSource.from_bytes(f"{prefix}-{i:06d}.png", b"\x89PNG" + i.to_bytes(4, "big"))


class _DropRegistration(Faults):
    """Lets the ``nth`` ``batchAddData`` act, then drops its answer (the ambiguous case)."""

    def __init__(self, nth: int) -> None:
        super().__init__()
        self.nth = nth
        self.seen = 0

    def decide(self, endpoint: str) -> Fault:
        if endpoint == REGISTER:
            self.seen += 1
            if self.seen == self.nth:
                self.injected[endpoint, "drop_after"] += 1
                return Fault(kind="drop_after")
        return super().decide(endpoint)


def _seed(emu: Emulator, dataset_id: int, count: int) -> None:
    """``count`` data items at the dataset's top level, made without HTTP."""
    ds = emu.state.datasets[dataset_id]
    for start in range(0, count, 500):
        emu.state.add_data(ds, [NewDataRec(f"old-{i:06d}.png", []) for i in range(start, start + 500)])


def _lookups(emu: Emulator) -> int:
    return sum(LOOKUP in r.path for r in emu.requests(KEY))


def _small_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 10, windows of 25, 25 results kept, names spilled past 50: a test-sized run then
    goes far past every bound, as a ten-million-file run does past the real ones."""
    monkeypatch.setattr(_feed, "MAX_BATCH_ITEMS", 10)
    monkeypatch.setattr(_batch, "MAX_BATCH_ITEMS", 10)
    monkeypatch.setattr(_feed, "WINDOW", 25)
    monkeypatch.setattr(_report, "KEEP_RESULTS", 25)
    monkeypatch.setattr(NameSet, "SPILL", 50)


# -- memory ------------------------------------------------------------------------------------


async def test_peak_memory_is_flat_in_the_number_of_files(
    emulator_process: Callable[[str, str], Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 17: sources listed whole, one result per file and the manifest in memory grew ~1.8 KB a file."""
    # Small limits (and a small pipeline), so that a test-sized run shows what a ten-million-file
    # run does past them; the client alone is measured (the emulator runs in its own process).
    _small_pipeline(monkeypatch)

    async def upload(client: AsyncBasicAI, count: int) -> int:
        ds = await client.datasets.create(name=f"flat-{count}", type="IMAGE")
        uploader = client.uploader(concurrency=4, api_concurrency=2)
        gc.collect()
        tracemalloc.start()
        try:
            report = await uploader.upload(ds.id, _tiny(count), manifest=tmp_path / f"m-{count}.db")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.registered_count == count
        assert not report.complete
        return peak

    with emulator_process(KEY, "--no-limits") as url:
        async with AsyncBasicAI(KEY, base_url=url, limits=NO_LIMIT) as client:
            await upload(client, 100)  # warm-up: first-use caches are not the run's growth
            small = await upload(client, 200)
            large = await upload(client, 1000)
    # Five times the files: the peak stays within a quarter of the small run's.
    assert large <= 1.25 * small, (small, large)


# -- laziness, counts and the per-result stream -------------------------------------------------


async def test_sources_are_taken_a_window_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    _small_pipeline(monkeypatch)
    taken = 0
    taken_at_first_done: list[int] = []

    async def sources() -> AsyncIterator[UploadSource]:
        nonlocal taken
        for source in _tiny(300):
            taken += 1
            yield source

    def on_event(event: UploadEvent) -> None:
        if isinstance(event, FileDone) and not taken_at_first_done:
            taken_at_first_done.append(taken)

    async with (
        Emulator(keys={KEY: "team"}, limits=None) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMIT) as client,
    ):
        ds = await client.datasets.create(name="lazy", type="IMAGE")
        report = await client.uploader(concurrency=4, api_concurrency=2, on_event=on_event).upload(
            ds.id, sources()
        )
    assert report.registered_count == 300
    # When the first file was registered, only what the pipeline holds had been taken: the
    # batches between pre-sign and registration (6 of 10 files here), a window and a partial batch.
    assert taken_at_first_done[0] <= 6 * 10 + 2 * 25 + 10


async def test_past_the_kept_results_the_report_keeps_counts_and_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_report, "KEEP_RESULTS", 50)
    done: list[str] = []

    def on_event(event: UploadEvent) -> None:
        if isinstance(event, FileDone):
            done.append(event.result.name)

    sources: list[UploadSource] = list(_tiny(120))
    sources.insert(70, UploadSource.from_bytes("empty.png", b""))
    async with (
        Emulator(keys={KEY: "team"}, limits=None) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMIT) as client,
    ):
        ds = await client.datasets.create(name="counts", type="IMAGE")
        report = await client.uploader(on_event=on_event).upload(ds.id, iter(sources))
    assert (report.total, report.registered_count, report.failed_count) == (121, 120, 1)
    assert not report.complete
    assert [r.name for r in report.results] == ["empty.png"]  # only what is not registered
    assert [r.name for r in report.failed] == ["empty.png"]
    assert report.bytes_uploaded == sum(s.size for s in sources)
    assert sorted(done) == sorted(s.name for s in sources if s.size)  # every registered file, once
    with pytest.raises(ValueError, match="registered_count"):
        _ = report.succeeded
    with pytest.raises(Exception, match="1 of 121 files failed"):
        report.raise_for_failures()


def test_duplicate_names_are_caught_after_the_names_spill_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NameSet, "SPILL", 10)
    names = NameSet()
    assert names.add_new([f"{i}.png" for i in range(8)]) == {f"{i}.png" for i in range(8)}
    assert names.add_new(["3.png", "8.png", "9.png", "10.png", "11.png"]) == {
        "8.png",
        "9.png",
        "10.png",
        "11.png",
    }
    # Spilled now (12 names > 10): still exact.
    assert names.add_new(["0.png", "11.png", "12.png", "12.png"]) == {"12.png"}
    names.close()


# -- the high-water mark -------------------------------------------------------------------------


async def test_a_reconciliation_lists_only_past_the_high_water_mark() -> None:
    """Issue 17: a look-up after an ambiguous registration listed the whole level (1,000 calls at 100k)."""
    faults = _DropRegistration(nth=4)
    async with Emulator(keys={KEY: "team"}, limits=None, faults=faults) as emu:
        async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMIT) as client:
            ds = await client.datasets.create(name="mark", type="IMAGE")
            _seed(emu, ds.id, 5000)
            report = await client.uploader(concurrency=4).upload(ds.id, list(_tiny(400, "new")))
        report.raise_for_failures()
        assert faults.injected[REGISTER, "drop_after"] == 1
        names = [i.name for i in emu.state.datasets[ds.id].items.values() if i.name.startswith("new")]
        assert sorted(names) == sorted(f"new-{i:06d}.png" for i in range(400))  # each exactly once
        # The whole level would be 55 pages; past the mark, the batches registered since.
        assert _lookups(emu) <= 5


def test_the_mark_is_trusted_only_once_an_answer_confirmed_it() -> None:
    mark = HighWater()
    mark.answered(None, [10, 11])  # nothing known when it was sent: proves nothing
    assert (mark.mark, mark.trusted) == (11, False)
    mark.answered(11, [12, 13])
    assert (mark.mark, mark.trusted) == (13, True)
    mark.answered(13, [5])  # an id at or below the mark the call was sent with: ids do not ascend
    assert (mark.mark, mark.trusted) == (13, False)


class _Listing:
    """``Items.iter_by_id`` over a fixed list, honouring ``after`` the way a server might not."""

    def __init__(self, items: list[Item], *, honour_after: bool, as_pager: bool = False) -> None:
        self.items = items
        self.honour_after = honour_after
        self.as_pager = as_pager
        self.afters: list[int | None] = []

    def iter_by_id(self, dataset_id: int, *, parent_id: int | None = None, after: int | None = None) -> Any:
        self.afters.append(after)
        chosen = [i for i in self.items if after is None or not self.honour_after or i.id > after]

        async def gen() -> AsyncIterator[Item]:
            for item in chosen:
                if self.as_pager and after is not None and item.id <= after:
                    # What the SDK's pager does with an id that does not ascend.
                    raise APIDecodeError(f"answered id {item.id} after id {after}", method="GET", path="/x")
                yield item

        return gen()


async def test_a_listing_that_does_not_start_past_the_mark_falls_back_to_the_whole_level() -> None:
    from basicai_async import ManifestTarget

    items = [Item(id=i, name=f"{i}.png", item_type="DATA") for i in (10, 20, 30)]
    target = ManifestTarget(base_url="https://api.example.test/api/v1", dataset_id=1)
    mark = HighWater()
    mark.confirmed = True
    listing = _Listing(items, honour_after=False)
    found = await find_registered(listing, target, [("10.png", None)], after=15, high_water=mark)  # type: ignore[arg-type]
    assert found == {0: 10}
    assert listing.afters == [15, None]  # refused the listing from the mark, walked the level
    assert mark.refuted
    pager = _Listing(items, honour_after=False, as_pager=True)
    assert await find_registered(pager, target, [("10.png", None)], after=15) == {0: 10}  # type: ignore[arg-type]
    assert pager.afters == [15, None]
    honest = _Listing(items, honour_after=True)
    assert await find_registered(honest, target, [("20.png", None)], after=15) == {0: 20}  # type: ignore[arg-type]
    assert honest.afters == [15]  # found past the mark: nothing more to list


async def test_absence_past_an_unconfirmed_mark_is_checked_in_the_whole_level() -> None:
    from basicai_async import ManifestTarget

    items = [Item(id=i, name=f"{i}.png", item_type="DATA") for i in (10, 20, 30)]
    target = ManifestTarget(base_url="https://api.example.test/api/v1", dataset_id=1)
    wanted = [("20.png", None), ("10.png", None), ("40.png", None)]
    unconfirmed = _Listing(items, honour_after=True)
    found = await find_registered(unconfirmed, target, wanted, after=15, high_water=HighWater())  # type: ignore[arg-type]
    assert found == {0: 20, 1: 10}  # 10.png lies below the mark: ids may not ascend, so it is looked for
    assert unconfirmed.afters == [15, None]
    trusted = HighWater()
    trusted.answered(5, [6])
    confirmed = _Listing(items, honour_after=True)
    assert await find_registered(confirmed, target, wanted, after=15, high_water=trusted) == {0: 20}  # type: ignore[arg-type]
    assert confirmed.afters == [15]  # ids ascend here: past the mark is all the call can have made


async def test_resume_looks_unsure_files_up_past_their_recorded_mark(tmp_path: Path) -> None:
    manifest_path = tmp_path / "m.db"
    async with Emulator(keys={KEY: "team"}, limits=None) as emu:
        async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMIT) as client:
            ds = await client.datasets.create(name="resume-mark", type="IMAGE")
            _seed(emu, ds.id, 3000)
            first = await client.uploader().upload(ds.id, list(_tiny(150)), manifest=manifest_path)
            first.raise_for_failures()
            # As if the process died mid-registration: the last 50 files' answers never came back.
            manifest = SqliteManifest(manifest_path)
            lost = [e for e in manifest.entries() if e.name >= "f-000100"]
            mark = min(e.data_id or 0 for e in lost) - 1
            manifest.record_many(
                [
                    e.__class__(
                        name=e.name, size=e.size, status=ManifestStatus.REGISTERING, path=e.path, after=mark
                    )
                    for e in lost
                ]
            )
            manifest.close()
            before = _lookups(emu)
            again = await client.uploader().upload(ds.id, list(_tiny(150)), manifest=manifest_path)
        assert (again.registered_count, again.resumed_count) == (150, 150)
        assert _lookups(emu) - before == 1  # 31 pages for the whole level
        assert sum(1 for i in emu.state.datasets[ds.id].items.values() if i.name.startswith("f-")) == 150
