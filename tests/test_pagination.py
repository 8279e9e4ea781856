"""The pagination helper's stop rules and pagers, alone and through the pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from _fakes import BASE_URL, envelope, make_pipeline
from aioresponses import aioresponses

from basicai_async._validate import chunked
from basicai_async.models import Dataset, IdPage, Page
from basicai_async.pagination import AsyncIdPager, AsyncPager, iter_pages
from basicai_async.resources.datasets import Datasets


def ds(i: int) -> Dataset:
    return Dataset(id=i, name=f"d{i}")


class Pages:
    """A fake page fetcher over ``pages``; ``asked`` records the page numbers fetched."""

    def __init__(self, pages: list[Page[Dataset]]) -> None:
        self.pages = pages
        self.asked: list[int] = []

    async def __call__(self, page_no: int) -> Page[Dataset]:
        self.asked.append(page_no)
        return self.pages[page_no - 1]


async def collect(it: AsyncIterator[Dataset]) -> list[int]:
    return [d.id async for d in it]


async def test_short_page_ends_the_listing() -> None:
    fetch = Pages([Page(items=[ds(1), ds(2)], total=None), Page(items=[ds(3)])])
    assert await collect(AsyncPager(fetch, page_size=2)) == [1, 2, 3]
    assert fetch.asked == [1, 2]


async def test_empty_page_ends_the_listing() -> None:
    fetch = Pages([Page(items=[ds(1), ds(2)]), Page(items=[])])
    assert await collect(AsyncPager(fetch, page_size=2)) == [1, 2]
    assert fetch.asked == [1, 2]


async def test_total_from_page_one_ends_a_full_last_page() -> None:
    # total comes on page 1 only; page 2 carries none and must not reset it.
    fetch = Pages([Page(items=[ds(1), ds(2)], total=4), Page(items=[ds(3), ds(4)], total=None)])
    assert await collect(AsyncPager(fetch, page_size=2)) == [1, 2, 3, 4]
    assert fetch.asked == [1, 2]


async def test_without_total_a_full_page_asks_for_more() -> None:
    fetch = Pages([Page(items=[ds(1)]), Page(items=[ds(2)]), Page(items=[])])
    assert await collect(AsyncPager(fetch, page_size=1)) == [1, 2]
    assert fetch.asked == [1, 2, 3]


async def test_iter_pages_yields_pages() -> None:
    fetch = Pages([Page(items=[ds(1)], total=1)])
    pages = [p async for p in iter_pages(fetch, page_size=1)]
    assert pages == [Page(items=[ds(1)], total=1)]


async def test_a_listing_started_part_way_counts_the_skipped_pages_towards_total() -> None:
    # total 5, page size 2: from page 2 the records of page 1 count, so page 3 ends it.
    fetch = Pages(
        [Page(items=[ds(1), ds(2)], total=5), Page(items=[ds(3), ds(4)], total=5), Page(items=[ds(5)])]
    )
    assert await collect(AsyncPager(fetch, page_size=2, start=2)) == [3, 4, 5]
    assert fetch.asked == [2, 3]
    fetch = Pages([Page(items=[ds(1), ds(2)]), Page(items=[ds(3), ds(4)], total=4), Page(items=[])])
    assert await collect(AsyncPager(fetch, page_size=2, start=2)) == [3, 4]
    assert fetch.asked == [2]


async def test_id_traversal_may_start_after_an_id() -> None:
    asked: list[int | None] = []
    steps = {4: [ds(5), ds(9)], 9: [ds(10)]}

    async def fetch(last_id: int | None) -> IdPage[Dataset]:
        asked.append(last_id)
        return IdPage(items=steps[last_id or 0])

    assert await collect(AsyncIdPager(fetch, limit=2, after=4)) == [5, 9, 10]
    assert asked == [4, 9]


async def test_id_traversal_stops_at_a_short_step() -> None:
    asked: list[int | None] = []
    steps = {None: [ds(1), ds(2)], 2: [ds(5), ds(9)], 9: [ds(10)]}

    async def fetch(last_id: int | None) -> IdPage[Dataset]:
        asked.append(last_id)
        return IdPage(items=steps[last_id])

    assert await collect(AsyncIdPager(fetch, limit=2)) == [1, 2, 5, 9, 10]
    assert asked == [None, 2, 9]


async def test_id_traversal_stops_at_an_empty_step() -> None:
    asked: list[int | None] = []

    async def fetch(last_id: int | None) -> IdPage[Dataset]:
        asked.append(last_id)
        return IdPage(items=[ds(1)] if last_id is None else [])

    assert await collect(AsyncIdPager(fetch, limit=1)) == [1]
    assert asked == [None, 1]


async def test_dataset_listing_through_the_pipeline(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    base = BASE_URL + "/dataset/list?ascending=false&pageSize=2&type=IMAGE"
    mocked.get(base + "&pageNo=1", payload=envelope({"total": 3, "list": [{"id": 1, "name": "a"}] * 2}))
    mocked.get(base + "&pageNo=2", payload=envelope({"list": [{"id": 3, "name": "c"}]}))
    found = await collect(Datasets(pipeline).list(type="IMAGE", ascending=False, page_size=2))
    assert found == [1, 1, 3]
    assert limiter.acquired == 2


async def test_dataset_traversal_through_the_pipeline(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, _, _ = make_pipeline(session)
    url = BASE_URL + "/dataset/listById"
    mocked.get(url + "?limit=2", payload=envelope({"list": [{"id": 4, "name": "a"}, {"id": 7, "name": "b"}]}))
    mocked.get(url + "?lastId=7&limit=2", payload=envelope({"list": []}))
    assert await collect(Datasets(pipeline).iter_by_id(limit=2)) == [4, 7]


def test_chunked_keeps_order() -> None:
    chunks = list(chunked(list(range(250))))
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert [x for c in chunks for x in c] == list(range(250))


async def test_a_pager_iterates_records_and_gives_pages_with_their_total() -> None:
    fetch = Pages([Page(items=[ds(1), ds(2)], total=3), Page(items=[ds(3)])])
    pager = AsyncPager(fetch, page_size=2)
    assert fetch.asked == []  # nothing is fetched before iteration
    assert await collect(pager) == [1, 2, 3]
    pages = [page async for page in pager.pages()]
    assert [(p.total, [d.id for d in p.items]) for p in pages] == [(3, [1, 2]), (None, [3])]
    assert fetch.asked == [1, 2, 1, 2]


async def test_a_pager_is_an_iterator_that_can_be_closed_early() -> None:
    fetch = Pages([Page(items=[ds(1), ds(2)]), Page(items=[ds(3), ds(4)]), Page(items=[])])
    pager = AsyncPager(fetch, page_size=2)
    assert (await anext(pager)).id == 1
    assert (await anext(aiter(pager))).id == 2  # one stream of records, however it is driven
    await pager.aclose()
    assert [d.id async for d in pager] == []
    assert fetch.asked == [1]
    await AsyncPager(fetch, page_size=2).aclose()  # never started: nothing to close


async def test_an_id_pager_gives_its_steps() -> None:
    steps = {None: [ds(1), ds(2)], 2: [ds(5)]}

    async def fetch(last_id: int | None) -> IdPage[Dataset]:
        return IdPage(items=steps[last_id])

    pager = AsyncIdPager(fetch, limit=2)
    assert [[d.id for d in step.items] async for step in pager.pages()] == [[1, 2], [5]]
    assert await collect(pager) == [1, 2, 5]
