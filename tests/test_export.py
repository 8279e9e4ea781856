"""Export against the emulator: order kept, every result once, chunks of 100, errors and early stops."""

from __future__ import annotations

import asyncio
import io
from collections import deque
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import msgspec
import pytest

from basicai_async import AsyncBasicAI, Limits, UploadSource, Window
from basicai_async._errors import ServerError
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import FaultRule
from basicai_async.emulator._state import TOP
from basicai_async.export import export_results, iter_data_ids, iter_results

pytestmark = pytest.mark.integration

KEY = "export-key"
RESULTS = "batchDataAnnotationResult"


class Traced:
    """The dataIds of every results call, and the most of them in flight at once."""

    def __init__(self) -> None:
        self.chunks: list[list[int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)
        self.config.on_request_exception.append(self._end)

    async def _start(
        self, session: object, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        ctx.counted = RESULTS in params.url.path
        if ctx.counted:
            ids = parse_qs(urlsplit(str(params.url)).query)["dataIds"][0]
            self.chunks.append([int(i) for i in ids.split(",")])
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    async def _end(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        if ctx.counted:
            self.in_flight -= 1


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def traced() -> Traced:
    return Traced()


@pytest.fixture
async def client(emu: Emulator, traced: Traced) -> AsyncIterator[AsyncBasicAI]:
    async with (
        aiohttp.ClientSession(trace_configs=[traced.config]) as session,
        AsyncBasicAI(
            KEY, base_url=emu.base_url, session=session, max_retries=0, limits=Limits((Window(10**6, 1.0),))
        ) as c,
    ):
        yield c


async def _fill(client: AsyncBasicAI, top: int = 230, in_batch: int = 40, frames: int = 35) -> int:
    """A dataset with data at the top level, in a batch, and in a scene inside that batch."""
    ds = await client.datasets.create(name="export", type="IMAGE")
    uploader = client.uploader(concurrency=32)

    def files(prefix: str, n: int) -> list[UploadSource]:
        return [UploadSource.from_bytes(f"{prefix}-{i:03d}.png", b"px") for i in range(n)]

    (await uploader.upload(ds.id, files("top-a", top // 2))).raise_for_failures()
    batch = await client.batches.add(ds.id, name="batch")
    scene = await client.scenes.add(ds.id, name="scene", batch_id=batch.id)
    (await uploader.upload(ds.id, files("in-batch", in_batch), batch_id=batch.id)).raise_for_failures()
    (await uploader.upload(ds.id, files("frame", frames), scene_id=scene.id)).raise_for_failures()
    (await uploader.upload(ds.id, files("top-b", top - top // 2))).raise_for_failures()
    return ds.id


def _client_tasks() -> set[asyncio.Task[object]]:
    """The running tasks but the emulator's connection handlers (one per open connection)."""
    return {t for t in asyncio.all_tasks() if "RequestHandler" not in repr(t.get_coro())}


def _expected_ids(emu: Emulator, dataset_id: int) -> list[int]:
    """ID order level by level, as the server's tree says."""
    rec = emu.state.datasets[dataset_id]
    out, parents = [], deque([TOP])
    while parents:
        for item_id in sorted(rec.level(parents.popleft())):
            if rec.items[item_id].kind == "DATA":
                out.append(item_id)
            else:
                parents.append(item_id)
    return out


async def test_results_come_in_traversal_order_in_chunks_of_100(
    emu: Emulator, client: AsyncBasicAI, traced: Traced
) -> None:
    dataset_id = await _fill(client)
    expected = _expected_ids(emu, dataset_id)
    assert len(expected) == 305
    assert [i async for i in iter_data_ids(client, dataset_id)] == expected

    results = [r async for r in iter_results(client, dataset_id, api_concurrency=2)]

    sources = [s.id for s in emu.state.datasets[dataset_id].sources]
    assert [(r.data_id, r.source_id) for r in results] == [(d, s) for d in expected for s in sources]
    assert [len(c) for c in traced.chunks] == [100, 100, 100, 5]
    assert [i for c in traced.chunks for i in c] == expected
    assert traced.max_in_flight <= 2
    # One source only: one result per data item.
    only = [r async for r in iter_results(client, dataset_id, source_id=sources[1])]
    assert [r.data_id for r in only] == expected
    assert {r.source_id for r in only} == {sources[1]}


async def test_export_writes_one_camel_case_line_per_result(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    dataset_id = await _fill(client, top=120, in_batch=3, frames=2)
    expected = _expected_ids(emu, dataset_id)
    out = tmp_path / "results.jsonl"

    summary = await export_results(client, dataset_id, out, api_concurrency=3)

    lines = out.read_bytes().splitlines()
    assert summary.results == len(lines) == 2 * len(expected)
    assert summary.data_items == len(expected) == 125
    assert summary.bytes_written == out.stat().st_size
    decoded = [msgspec.json.decode(line) for line in lines]
    assert [d["dataId"] for d in decoded[::2]] == expected
    assert {"dataId", "sourceId", "instances"} <= decoded[0].keys()
    # The same into an open binary file.
    buffer = io.BytesIO()
    again = await export_results(client, dataset_id, buffer)
    assert buffer.getvalue() == out.read_bytes()
    assert again == summary


async def test_an_empty_dataset_exports_nothing(client: AsyncBasicAI, tmp_path: Path) -> None:
    ds = await client.datasets.create(name="empty", type="IMAGE")
    summary = await export_results(client, ds.id, tmp_path / "e.jsonl")
    assert (summary.results, summary.data_items, summary.bytes_written) == (0, 0, 0)
    assert (tmp_path / "e.jsonl").read_bytes() == b""


async def test_a_failing_chunk_raises_its_own_error_and_leaves_no_task(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    dataset_id = await _fill(client, top=450, in_batch=0, frames=0)
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint=f"dataset/{RESULTS}")
    before = _client_tasks()

    with pytest.raises(ServerError) as info:
        await export_results(client, dataset_id, tmp_path / "out.jsonl", api_concurrency=4)

    assert info.value.status == 500
    assert RESULTS in info.value.path
    assert _client_tasks() == before
    assert emu.faults.injected[f"dataset/{RESULTS}", "error"] >= 1


async def test_stopping_early_cancels_the_chunks_in_flight(emu: Emulator, client: AsyncBasicAI) -> None:
    dataset_id = await _fill(client, top=900, in_batch=0, frames=0)
    before = _client_tasks()
    seen = []
    async with aclosing(iter_results(client, dataset_id, api_concurrency=4)) as results:
        async for result in results:
            seen.append(result.data_id)
            if len(seen) == 3:
                break
    assert seen == [1, 1, 2]
    # Every prefetched chunk was cancelled and awaited: nothing left running.
    assert _client_tasks() == before
    # The client is still usable afterwards.
    assert len([r async for r in iter_results(client, dataset_id, api_concurrency=1)]) == 1800


async def test_arguments_are_checked(client: AsyncBasicAI) -> None:
    with pytest.raises(ValueError, match="api_concurrency"):
        await anext(iter_results(client, 1, api_concurrency=0))
    with pytest.raises(ValueError, match="dataset_id"):
        await anext(iter_data_ids(client, 0))
