"""Pagination, traversal and id chunking over thousands of records, counted from the emulator's side."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from test_integration_support import KEY, capture, loose_limiter, upload

from basicai_async import AsyncBasicAI
from basicai_async.emulator import Emulator
from basicai_async.models import Dataset, Item, NewData

pytestmark = pytest.mark.integration


def _calls(emulator: Emulator, path: str) -> int:
    return sum(1 for r in emulator.requests(KEY) if r.path == "/api/v1" + path)


async def test_thousands_of_items_seen_exactly_once_by_pages_and_by_id() -> None:
    async with (
        Emulator({KEY: "team-a"}, limits=None) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limiter=loose_limiter()) as client,
    ):
        ds = await client.datasets.create(name="big", type="IMAGE")
        file = await upload(client)
        chunks = await asyncio.gather(
            *(
                client.data.add_many(ds.id, [NewData(name=f"d{c}-{i}", files=[file]) for i in range(100)])
                for c in range(25)
            )
        )
        created = [d.id for chunk in chunks for d in chunk]
        assert len(set(created)) == 2500
        assert (await client.datasets.get(ds.id)).item_count == 2500

        paged = [item async for item in client.items.list(ds.id, page_size=100)]
        assert all(isinstance(item, Item) and item.item_type == "DATA" for item in paged)
        assert Counter(item.id for item in paged) == Counter(created)
        # total (on page 1) tells the helper that page 25 is the last: no empty 26th call.
        assert _calls(emu, f"/dataset/listItem/{ds.id}") == 25

        walked = [item.id async for item in client.items.iter_by_id(ds.id, limit=100)]
        assert walked == sorted(created)
        # 25 full steps, then the short (empty) one that ends the traversal.
        assert _calls(emu, f"/dataset/listItemById/{ds.id}") == 26

        odd = [item.id async for item in client.items.iter_by_id(ds.id, limit=7)]
        assert odd == sorted(created)
        assert _calls(emu, f"/dataset/listItemById/{ds.id}") == 26 + 2500 // 7 + 1


async def test_hundreds_of_ids_are_chunked_by_100() -> None:
    emulator = Emulator({KEY: "team-a"}, limits=None)
    seen = capture(emulator)

    def id_counts(path: str, param: str) -> list[int]:
        return [len(c.query[param].split(",")) for c in seen if c.path == "/api/v1" + path]

    async with emulator, AsyncBasicAI(KEY, base_url=emulator.base_url, limiter=loose_limiter()) as client:
        created = await asyncio.gather(
            *(client.datasets.create(name=f"ds-{i:03d}", type="IMAGE") for i in range(250))
        )
        ids = [d.id for d in created]

        listed = [d async for d in client.datasets.list(page_size=100, sort_by="id", ascending=True)]
        assert [d.id for d in listed] == sorted(ids)
        assert _calls(emulator, "/dataset/list") == 3
        assert [d.id async for d in client.datasets.iter_by_id(limit=100)] == sorted(ids)
        assert _calls(emulator, "/dataset/listById") == 3  # 100, 100, then 50 < limit ends it

        wanted = ids[::-1]
        found = await client.datasets.get_many(wanted)
        assert all(isinstance(d, Dataset) for d in found)
        assert [d.id for d in found] == wanted
        assert id_counts("/dataset/info", "datasetIds") == [100, 100, 50]

        await client.datasets.delete_many(ids)
        assert id_counts("/dataset/delete", "datasetIds") == [100, 100, 50]
        assert emulator.state.datasets == {}


async def test_bulk_data_calls_are_chunked_by_100() -> None:
    emulator = Emulator({KEY: "team-a"}, limits=None)
    seen = capture(emulator)

    def id_counts(prefix: str) -> list[int]:
        return [len(c.query["dataIds"].split(",")) for c in seen if c.path.startswith("/api/v1" + prefix)]

    async with emulator, AsyncBasicAI(KEY, base_url=emulator.base_url, limiter=loose_limiter()) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        file = await upload(client)
        datas = [
            d
            for c in range(3)
            for d in await client.data.add_many(
                ds.id, [NewData(name=f"d{c}-{i}", files=[file]) for i in range(100)]
            )
        ]
        ids = [d.id for d in datas[:250]]
        [source, _] = await client.annotations.list_sources(ds.id)
        results = await client.annotations.get_many_data_results(ds.id, ids, source_id=source.id)
        assert [r.data_id for r in results] == ids
        assert id_counts("/dataset/batchDataAnnotationResult/") == [100, 100, 50]

        await client.data.remove_many(ds.id, ids)
        assert id_counts("/dataset/batchRemoveData/") == [100, 100, 50]
        remaining = [i.id async for i in client.items.list(ds.id)]
        assert remaining == [d.id for d in datas[250:]]
