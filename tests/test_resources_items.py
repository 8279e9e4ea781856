"""client.items against a mocked API, and the stop rules of both listing styles."""

from __future__ import annotations

from typing import Any

import pytest
from _fakes import FakeApi

from basicai_async.models import Item

PATH = "/dataset/listItem/7"
BY_ID = "/dataset/listItemById/7"


def _items(*ids: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"i-{i}", "itemType": "DATA"} for i in ids]


def _page(page_no: int, size: int = 2, **extra: str) -> dict[str, str]:
    return {"pageSize": str(size), "pageNo": str(page_no), **extra}


async def test_list_decodes_items_of_every_kind(api: FakeApi) -> None:
    wire = [
        {"id": 1, "name": "b", "itemType": "BATCH"},
        {"id": 2, "name": "s", "itemType": "SCENE", "parentId": 1},
        {"id": 3, "name": "d", "itemType": "DATA", "unknownField": True},
    ]
    api.answer("GET", PATH, {"total": 3, "list": wire}, query=_page(1, 100))
    items = [item async for item in api.client.items.list(7)]
    assert items == [
        Item(id=1, name="b", item_type="BATCH"),
        Item(id=2, name="s", item_type="SCENE", parent_id=1),
        Item(id=3, name="d", item_type="DATA"),
    ]
    api.assert_call(api.only_call(), "GET", PATH, params=_page(1, 100))


async def test_list_of_one_level_sends_parent_id(api: FakeApi) -> None:
    api.answer("GET", PATH, {"total": 1, "list": _items(9)}, query=_page(1, 5, parentId="4"))
    assert [i.id async for i in api.client.items.list(7, parent_id=4, page_size=5)] == [9]
    api.assert_call(api.only_call(), "GET", PATH, params=_page(1, 5, parentId="4"))


async def test_list_ends_at_a_short_page(api: FakeApi) -> None:
    api.answer("GET", PATH, {"total": 99, "list": _items(1, 2)}, query=_page(1))
    api.answer("GET", PATH, {"list": _items(3, 4)}, query=_page(2))
    api.answer("GET", PATH, {"list": _items(5)}, query=_page(3))
    assert [i.id async for i in api.client.items.list(7, page_size=2)] == [1, 2, 3, 4, 5]
    assert [call.params["pageNo"] for call in api.calls] == ["1", "2", "3"]
    for n, call in enumerate(api.calls, start=1):
        api.assert_call(call, "GET", PATH, params=_page(n))


async def test_list_ends_at_an_empty_page(api: FakeApi) -> None:
    api.answer("GET", PATH, {"list": _items(1, 2)}, query=_page(1))
    api.answer("GET", PATH, {"list": []}, query=_page(2))
    assert [i.id async for i in api.client.items.list(7, page_size=2)] == [1, 2]
    assert len(api.calls) == 2


async def test_list_ends_once_page_ones_total_is_seen(api: FakeApi) -> None:
    api.answer("GET", PATH, {"total": 4, "list": _items(1, 2)}, query=_page(1))
    api.answer("GET", PATH, {"list": _items(3, 4)}, query=_page(2))
    # A page 3 would be refused by the mock and fail the iteration.
    assert [i.id async for i in api.client.items.list(7, page_size=2)] == [1, 2, 3, 4]
    assert len(api.calls) == 2


async def test_list_reads_total_from_page_one_only(api: FakeApi) -> None:
    api.answer("GET", PATH, {"total": 4, "list": _items(1, 2)}, query=_page(1))
    api.answer("GET", PATH, {"total": 1000, "list": _items(3, 4)}, query=_page(2))
    assert [i.id async for i in api.client.items.list(7, page_size=2)] == [1, 2, 3, 4]
    assert len(api.calls) == 2


async def test_list_without_total_goes_on_while_pages_are_full(api: FakeApi) -> None:
    api.answer("GET", PATH, {"list": _items(1, 2)}, query=_page(1))
    api.answer("GET", PATH, {"total": 2, "list": _items(3, 4)}, query=_page(2))
    api.answer("GET", PATH, {"list": []}, query=_page(3))
    assert [i.id async for i in api.client.items.list(7, page_size=2)] == [1, 2, 3, 4]
    assert len(api.calls) == 3


async def test_list_fetches_lazily(api: FakeApi) -> None:
    listing = api.client.items.list(7, page_size=2)
    assert api.calls == []
    api.answer("GET", PATH, {"list": _items(1, 2)}, query=_page(1))
    assert (await anext(listing)).id == 1
    assert (await anext(listing)).id == 2
    assert len(api.calls) == 1
    await listing.aclose()  # type: ignore[attr-defined]


async def test_iter_by_id_passes_the_last_id_on_until_a_short_step(api: FakeApi) -> None:
    api.answer("GET", BY_ID, {"list": _items(3, 8)}, query={"limit": "2"})
    api.answer("GET", BY_ID, {"list": _items(11, 12)}, query={"limit": "2", "lastId": "8"})
    api.answer("GET", BY_ID, {"list": _items(20)}, query={"limit": "2", "lastId": "12"})
    assert [i.id async for i in api.client.items.iter_by_id(7, limit=2)] == [3, 8, 11, 12, 20]
    api.assert_call(api.calls[0], "GET", BY_ID, params={"limit": "2"})
    api.assert_call(api.calls[1], "GET", BY_ID, params={"limit": "2", "lastId": "8"})
    api.assert_call(api.calls[2], "GET", BY_ID, params={"limit": "2", "lastId": "12"})


async def test_iter_by_id_ends_at_an_empty_step(api: FakeApi) -> None:
    api.answer("GET", BY_ID, {"list": _items(3, 8)}, query={"limit": "2", "parentId": "4"})
    api.answer("GET", BY_ID, {"list": []}, query={"limit": "2", "parentId": "4", "lastId": "8"})
    assert [i.id async for i in api.client.items.iter_by_id(7, parent_id=4, limit=2)] == [3, 8]
    api.assert_call(api.calls[1], "GET", BY_ID, params={"limit": "2", "parentId": "4", "lastId": "8"})
    assert len(api.calls) == 2


async def test_iter_by_id_of_an_empty_level_is_one_call(api: FakeApi) -> None:
    api.answer("GET", BY_ID, {"list": []}, query={"limit": "100"})
    assert [i async for i in api.client.items.iter_by_id(7)] == []
    api.assert_call(api.only_call(), "GET", BY_ID, params={"limit": "100"})


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0,), {}, ValueError, "dataset_id"),
        (("7",), {}, TypeError, "dataset_id"),
        ((7,), {"parent_id": 0}, ValueError, "parent_id"),
        ((7,), {"parent_id": "4"}, TypeError, "parent_id"),
    ],
)
@pytest.mark.parametrize("method", ["list", "iter_by_id"])
async def test_bad_ids_fail_when_the_listing_is_made(
    api: FakeApi,
    method: str,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        getattr(api.client.items, method)(*args, **kwargs)
    assert api.calls == []
    assert api.limiter.acquired == 0


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (101, ValueError), (None, TypeError), (True, TypeError)]
)
async def test_bad_sizes_fail_when_the_listing_is_made(
    api: FakeApi, size: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="page_size"):
        api.client.items.list(7, page_size=size)  # type: ignore[arg-type]
    with pytest.raises(error, match="limit"):
        api.client.items.iter_by_id(7, limit=size)  # type: ignore[arg-type]
    assert api.calls == []


async def test_a_listing_may_start_at_a_later_page_and_a_null_list_reads_as_empty(api: FakeApi) -> None:
    api.answer("GET", PATH, {"total": 40, "list": _items(5)}, query=_page(3, 1, parentId="4"))
    api.answer("GET", PATH, {"total": 40, "list": None}, query=_page(41, 1, parentId="4"))
    pages = api.client.items.list(7, parent_id=4, page_size=1, start_page=3).pages()
    page = await anext(pages)
    assert (page.total, [i.id for i in page.items]) == (40, [5])
    await pages.aclose()
    past = [p async for p in api.client.items.list(7, parent_id=4, page_size=1, start_page=41).pages()]
    assert [(p.total, p.items) for p in past] == [(40, [])]
    api.assert_call(api.calls[0], "GET", PATH, params=_page(3, 1, parentId="4"))


async def test_an_id_order_traversal_may_start_after_an_id(api: FakeApi) -> None:
    api.answer("GET", BY_ID, {"list": _items(11, 12)}, query={"limit": "2", "lastId": "8"})
    api.answer("GET", BY_ID, {"list": None}, query={"limit": "2", "lastId": "12"})
    assert [i.id async for i in api.client.items.iter_by_id(7, limit=2, after=8)] == [11, 12]
    api.assert_call(api.calls[0], "GET", BY_ID, params={"limit": "2", "lastId": "8"})
    api.assert_call(api.calls[1], "GET", BY_ID, params={"limit": "2", "lastId": "12"})


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda items: items.list(7, start_page=0), ValueError, "start_page"),
        (lambda items: items.list(7, start_page="2"), TypeError, "start_page"),
        (lambda items: items.iter_by_id(7, after=0), ValueError, "after"),
        (lambda items: items.iter_by_id(7, after="8"), TypeError, "after"),
    ],
)
async def test_bad_start_positions_fail_when_the_listing_is_made(
    api: FakeApi, call: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call(api.client.items)
    assert api.calls == []
