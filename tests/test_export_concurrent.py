"""The concurrent export against the emulator with latency: ID order kept, nothing missed or doubled
while data changes, listing variants tolerated, memory flat in the dataset's size."""

from __future__ import annotations

import asyncio
import gc
import math
import random
import tracemalloc
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from basicai_async import APIDecodeError, AsyncBasicAI, Limits, Window
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import FaultRule
from basicai_async.emulator._state import TOP, DatasetRec, NewDataRec
from basicai_async.export import export_results, iter_data_ids, iter_results
from basicai_async.models import FileRef, NewData, PresignRequest

pytestmark = pytest.mark.integration

KEY = "export-key"
TEAM = "team"
# Scaled down from real round trips (50-200 ms): enough for calls to overlap.
LATENCY = 0.004
FILES = [FileRef(path="http://store.test/a.png", size=1, mime_type="image/png")]
LISTINGS = ("/dataset/listItem/", "/dataset/listItemById/")


class Listings:
    """Counts the listing calls and the most in flight at once; runs ``on_start`` before each."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {"listItem": 0, "listItemById": 0}
        self.in_flight = 0
        self.max_in_flight = 0
        self.on_start: Callable[[int], Awaitable[None]] | None = None
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)
        self.config.on_request_exception.append(self._end)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    async def _start(self, session: object, ctx: SimpleNamespace, params: Any) -> None:
        path = params.url.path
        ctx.counted = any(listing in path for listing in LISTINGS)
        if ctx.counted:
            self.calls["listItemById" if "listItemById" in path else "listItem"] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.on_start is not None:
                await self.on_start(self.total)

    async def _end(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        if ctx.counted:
            self.in_flight -= 1


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: TEAM}, limits=None) as emulator:
        emulator.faults.set(FaultRule(latency=LATENCY))
        yield emulator


@pytest.fixture
def listings() -> Listings:
    return Listings()


def _client(base_url: str, session: aiohttp.ClientSession) -> AsyncBasicAI:
    # Quota far above what the test sends: round trips, not the limiter, are under test.
    return AsyncBasicAI(KEY, base_url=base_url, session=session, limits=Limits((Window(10**6, 1.0),)))


@pytest.fixture
async def client(emu: Emulator, listings: Listings) -> AsyncIterator[AsyncBasicAI]:
    async with (
        aiohttp.ClientSession(trace_configs=[listings.config]) as session,
        _client(emu.base_url, session) as c,
    ):
        yield c


def _add(emu: Emulator, ds: DatasetRec, n: int, *, batch_id: int | None = None) -> list[int]:
    """``n`` data items straight into the emulator's state (100 at a time, as batchAddData would)."""
    ids = []
    for start in range(0, n, 100):
        new = [NewDataRec(f"d{start + i}", FILES, batch_id) for i in range(min(100, n - start))]
        ids += [rec.id for rec in emu.state.add_data(ds, new)]
    return ids


def _tree(emu: Emulator) -> DatasetRec:
    """Top-level data around a top-level scene, three batches (one empty), a scene in a batch."""
    state = emu.state
    ds = state.create_dataset(TEAM, "tree", "IMAGE", None)
    _add(emu, ds, 1550)
    state.add_scene(ds, "top-scene", None, [NewDataRec(f"f{i}", FILES) for i in range(40)])
    _add(emu, ds, 1000)
    big = state.add_batch(ds, "big")
    state.add_batch(ds, "empty")
    small = state.add_batch(ds, "small")
    _add(emu, ds, 1200, batch_id=big.id)
    state.add_scene(ds, "scene", big.id, [NewDataRec(f"g{i}", FILES) for i in range(150)])
    _add(emu, ds, 30, batch_id=small.id)
    _add(emu, ds, 7)
    return ds


def _expected(ds: DatasetRec) -> list[int]:
    """Level by level in ascending id, as the server's tree says."""
    out, parents = [], deque([TOP])
    while parents:
        for item_id in ds.level(parents.popleft()):
            (out if ds.items[item_id].kind == "DATA" else parents).append(item_id)
    return out


async def _one_cursor(client: AsyncBasicAI, dataset_id: int) -> list[int]:
    """The plain ID-order traversal of the public resource: one cursor, level after level."""
    out, parents = [], deque[int | None]([None])
    while parents:
        async for item in client.items.iter_by_id(dataset_id, parent_id=parents.popleft()):
            (out if item.item_type == "DATA" else parents).append(item.id)
    return out


def _segments(n: int, window: int = 20) -> tuple[int, int]:
    """(segments, ids per segment) of a level of ``n`` items: about ``window`` segments of
    whole steps of 100, at most 1,000 ids each, so every cursor works on a small level."""
    per_cursor = math.ceil(n / window)
    span = min(1000, max(100, math.ceil(per_cursor / 100) * 100))
    return max(1, -(-n // span)), span


def _listing_calls(ds: DatasetRec, window: int = 20) -> int:
    """What the walk should cost on a static dataset: per level a total, a probe per
    segment boundary, the steps of each full segment, and the last segment's steps
    (plus an empty one when it ends on a full step)."""
    calls = 0
    for parent in [TOP] + [i for i, rec in ds.items.items() if rec.kind != "DATA"]:
        n = len(ds.level(parent))
        segments, span = _segments(n, window)
        rest = n - span * (segments - 1)
        calls += 1 + (segments - 1) + span // 100 * (segments - 1) + rest // 100 + 1
    return calls


async def test_a_static_export_equals_the_id_order_traversal(
    emu: Emulator, client: AsyncBasicAI, listings: Listings
) -> None:
    ds = _tree(emu)
    expected = _expected(ds)
    assert len(expected) == 3977
    assert await _one_cursor(client, ds.id) == expected
    one_cursor_calls = listings.calls["listItemById"]
    listings.calls = dict.fromkeys(listings.calls, 0)
    listings.max_in_flight = 0

    assert [i async for i in iter_data_ids(client, ds.id)] == expected

    # A total per level and a boundary per segment: one cursor's calls and a little.
    assert listings.total == _listing_calls(ds)
    levels = [TOP] + [i for i, rec in ds.items.items() if rec.kind != "DATA"]
    assert listings.total - one_cursor_calls == sum(_segments(len(ds.level(p)))[0] for p in levels)
    results = [r async for r in iter_results(client, ds.id, api_concurrency=5)]
    assert [r.data_id for r in results[::2]] == expected


async def test_a_flat_level_is_listed_by_many_cursors_at_once(
    emu: Emulator, client: AsyncBasicAI, listings: Listings
) -> None:
    ds = emu.state.create_dataset(TEAM, "flat", "IMAGE", None)
    _add(emu, ds, 12_345)

    assert [i async for i in iter_data_ids(client, ds.id)] == ds.level(TOP)

    assert listings.max_in_flight >= 10
    # 18 segments of 700 ids: every one of the 20 cursors the window allows has work.
    assert listings.total == _listing_calls(ds) == 1 + 17 + 124


async def test_the_knob_caps_the_calls_in_flight(
    emu: Emulator, client: AsyncBasicAI, listings: Listings, tmp_path: Path
) -> None:
    ds = _tree(emu)
    assert [i async for i in iter_data_ids(client, ds.id, api_concurrency=3)] == _expected(ds)
    assert listings.max_in_flight == 3
    with pytest.raises(TypeError, match="api_concurrency"):
        await anext(iter_data_ids(client, ds.id, api_concurrency=2.5))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_concurrency"):
        await export_results(client, ds.id, tmp_path / "unused.jsonl", api_concurrency=0)
    assert not (tmp_path / "unused.jsonl").exists()


async def test_data_added_and_removed_during_the_export_misses_and_doubles_nothing_that_stayed(
    emu: Emulator, client: AsyncBasicAI, listings: Listings
) -> None:
    state = emu.state
    ds = state.create_dataset(TEAM, "changing", "IMAGE", None)
    parent_of = dict.fromkeys(_add(emu, ds, 4200), TOP)
    batch = state.add_batch(ds, "batch")
    parent_of |= dict.fromkeys(_add(emu, ds, 900, batch_id=batch.id), batch.id)
    original = set(_expected(ds))
    removed: set[int] = set()
    rng = random.Random(7)
    rounds = [2, 3, 5, 8, 12, 17, 23, 30]
    # The listing call that reaches a round hands the changer an event and waits for it.
    requests: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    def change() -> None:
        # Remove from the front (every later page position shifts), at random, and
        # in the batch; add at the top level and in the batch.
        top = [i for i in ds.level(TOP) if ds.items[i].kind == "DATA"]
        gone = top[:30] + rng.sample(top[30:], 60) + rng.sample(ds.level(batch.id), 20)
        state.remove(ds, gone, "DATA")
        removed.update(gone)
        parent_of.update(dict.fromkeys(_add(emu, ds, 80), TOP))
        parent_of.update(dict.fromkeys(_add(emu, ds, 40, batch_id=batch.id), batch.id))

    async def changer() -> None:
        for _ in rounds:
            changed = await requests.get()
            change()
            changed.set()

    async def at_listing_start(count: int) -> None:
        if count in rounds:
            changed = asyncio.Event()
            requests.put_nowait(changed)
            await changed.wait()  # this call goes out only once the data changed under it

    listings.on_start = at_listing_start
    changing = asyncio.ensure_future(changer())
    try:
        exported = [r.data_id async for r in iter_results(client, ds.id, source_id=ds.sources[0].id)]
    finally:
        changing.cancel()
        await asyncio.gather(changing, return_exceptions=True)

    assert listings.total > rounds[-1]  # every change happened during the export
    stayed = original - removed
    assert len(removed) == 110 * len(rounds)
    assert len(exported) == len(set(exported))  # nothing twice
    assert stayed <= set(exported)  # nothing missed that was there throughout
    assert set(exported) <= set(parent_of)  # nothing that never was
    # The documented order: the top level in ascending id, then the batch's level.
    top = [i for i in exported if parent_of[i] == TOP]
    assert exported == sorted(top) + sorted(set(exported) - set(top))


@asynccontextmanager
async def _serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1"
    finally:
        await runner.cleanup()


def _entry(ds: DatasetRec, item_id: int) -> dict[str, object]:
    rec = ds.items[item_id]
    return {"id": rec.id, "name": rec.name, "itemType": rec.kind}


def _every_page_total_null_list(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
    chunk = ids[(page_no - 1) * size : page_no * size]
    return {"total": len(ids), "list": [_entry(ds, i) for i in chunk] or None}


def _newest_first(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
    chunk = ids[::-1][(page_no - 1) * size : page_no * size]
    data: dict[str, object] = {"list": [_entry(ds, i) for i in chunk]}
    if page_no == 1:
        data["total"] = len(ids)
    return data


def _no_total(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
    return {"list": [_entry(ds, i) for i in ids[(page_no - 1) * size : page_no * size]]}


_shuffle = random.Random(3)


def _shifting(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
    """Every page from another order: hints worth nothing."""
    order = _shuffle.sample(ids, len(ids))
    data: dict[str, object] = {"list": [_entry(ds, i) for i in order[(page_no - 1) * size : page_no * size]]}
    if page_no == 1:
        data["total"] = len(ids)
    return data


def _overstated_total(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
    """Three times the real total: probes past the end find empty pages."""
    return {**_every_page_total_null_list(ds, ids, page_no, size), "total": 3 * len(ids)}


def _null_steps(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "list": data["list"] or None}


Pages = Callable[[DatasetRec, list[int], int, int], dict[str, object]]


@asynccontextmanager
async def _proxy(
    emu: Emulator, ds: DatasetRec, pages: Pages, steps: Callable[[dict[str, Any]], dict[str, Any]]
) -> AsyncIterator[AsyncBasicAI]:
    """A client of a server in front of the emulator: ``listItem`` pages made by ``pages``
    from the emulator's state, ``listItemById`` answers passed through ``steps``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(f"/api/v1/dataset/listItem/{ds.id}"):
            parent = int(request.query.get("parentId", TOP))
            page_no, size = int(request.query["pageNo"]), int(request.query["pageSize"])
            data = pages(ds, ds.level(parent), page_no, size)
            return web.json_response({"code": "OK", "message": "", "data": data})
        headers = {name: request.headers[name] for name in ("Authorization",) if name in request.headers}
        async with http.request(request.method, emu.url + request.path_qs, headers=headers) as resp:
            envelope = await resp.json()
        if request.path.startswith("/api/v1/dataset/listItemById/"):
            envelope["data"] = steps(envelope["data"])
        return web.json_response(envelope, status=resp.status)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    async with (
        aiohttp.ClientSession() as http,
        _serve(app) as base_url,
        aiohttp.ClientSession() as session,
        _client(base_url, session) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "variant", [_every_page_total_null_list, _newest_first, _no_total, _shifting, _overstated_total]
)
async def test_page_listing_variants_cost_speed_never_correctness(emu: Emulator, variant: Pages) -> None:
    ds = _tree(emu)
    async with _proxy(emu, ds, variant, _null_steps) as client:
        assert [i async for i in iter_data_ids(client, ds.id)] == _expected(ds)


async def test_listings_that_break_the_contract_raise_a_decode_error(emu: Emulator) -> None:
    ds = _tree(emu)

    def descending(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "list": data["list"][::-1]}

    async with _proxy(emu, ds, _newest_first, descending) as client:
        with pytest.raises(APIDecodeError, match="ids must ascend"):
            [i async for i in iter_data_ids(client, ds.id)]

    def bad_total(ds: DatasetRec, ids: list[int], page_no: int, size: int) -> dict[str, object]:
        return {"total": "many", "list": []}

    async with _proxy(emu, ds, bad_total, _null_steps) as client:
        with pytest.raises(APIDecodeError, match="data does not match") as info:
            [i async for i in iter_data_ids(client, ds.id)]
        assert info.value.path == f"/dataset/listItem/{ds.id}"


async def test_an_unknown_source_is_refused_before_any_listing(
    emu: Emulator, client: AsyncBasicAI, listings: Listings
) -> None:
    ds = _tree(emu)
    with pytest.raises(ValueError, match="not an annotation source"):
        await anext(iter_results(client, ds.id, source_id=10**6))
    assert listings.total == 0


async def _seed_flat(client: AsyncBasicAI, n: int) -> int:
    """A dataset of ``n`` data items at the top level, added through the API 100 at a time."""
    ds = await client.datasets.create(name=f"flat-{n}", type="IMAGE")
    (upload,) = await client.storage.presign_uploads([PresignRequest(filename="a.png", size=2)])
    async with aiohttp.ClientSession() as http, http.put(upload.pre_signed_url, data=b"px") as resp:
        assert resp.status == 200
    file = FileRef(path=upload.register_path, size=2, mime_type="image/png")
    calls = asyncio.Semaphore(16)

    async def add(start: int) -> None:
        async with calls:
            await client.data.add_many(
                ds.id, [NewData(name=f"d{start + i}", files=[file]) for i in range(100)]
            )

    await asyncio.gather(*(add(start) for start in range(0, n, 100)))
    return ds.id


async def _peak(run: Awaitable[int]) -> tuple[int, int]:
    """The peak of memory allocated while ``run`` runs, and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        count = await run
        return tracemalloc.get_traced_memory()[1], count
    finally:
        tracemalloc.stop()


async def test_memory_stays_flat_in_the_dataset_size(emulator_process: Any, tmp_path: Path) -> None:
    # The emulator in its own process: this process's allocations are the client's alone.
    sizes = (5000, 20_000)
    with emulator_process(KEY, "--no-limits") as base_url:
        async with aiohttp.ClientSession() as session, _client(base_url, session) as client:
            ids = {n: await _seed_flat(client, n) for n in sizes}

            async def count_ids(dataset_id: int) -> int:
                count = 0
                async for _ in iter_data_ids(client, dataset_id, api_concurrency=2):
                    count += 1
                return count

            async def export(dataset_id: int) -> int:
                # One source of the two: half the results to decode, the same walk.
                source = (await client.annotations.list_sources(dataset_id))[0].id
                out = tmp_path / "out.jsonl"
                summary = await export_results(client, dataset_id, out, source_id=source, api_concurrency=2)
                return summary.data_items

            await count_ids(ids[sizes[1]])  # warm: connections open, decoders built, URL caches full
            await export(ids[sizes[0]])
            for work in (count_ids, export):
                small, n_small = await _peak(work(ids[sizes[0]]))
                large, n_large = await _peak(work(ids[sizes[1]]))
                assert (n_small, n_large) == sizes
                # Four times the items, about the same peak: nothing is held per item.
                assert large < 1.25 * small, (work.__name__, small, large)
