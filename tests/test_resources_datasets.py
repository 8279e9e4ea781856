"""client.datasets against a mocked API: paths, queries, bodies, chunking, generators, checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _fakes import FakeApi

from basicai_async._client import AsyncBasicAI
from basicai_async.models import Dataset


def _ds(i: int) -> dict[str, object]:
    return {"id": i, "name": f"ds-{i}", "type": "IMAGE"}


def _csv(ids: range) -> str:
    return ",".join(str(i) for i in ids)


async def test_create_posts_name_type_description(api: FakeApi) -> None:
    api.answer("POST", "/dataset/create", _ds(7))
    ds = await api.client.datasets.create(name="cars", type="IMAGE", description="d")
    assert ds == Dataset(id=7, name="ds-7", type="IMAGE")
    api.assert_call(
        api.only_call(), "POST", "/dataset/create", json={"name": "cars", "type": "IMAGE", "description": "d"}
    )


async def test_create_leaves_out_an_unset_description(api: FakeApi) -> None:
    api.answer("POST", "/dataset/create", _ds(7))
    await api.client.datasets.create(name="cars", type="IMAGE")
    api.assert_call(api.only_call(), "POST", "/dataset/create", json={"name": "cars", "type": "IMAGE"})


async def test_update_sends_only_the_given_fields(api: FakeApi) -> None:
    api.answer("POST", "/dataset/update/7", _ds(7))
    await api.client.datasets.update(7, description="new")
    api.assert_call(api.only_call(), "POST", "/dataset/update/7", json={"description": "new"})


async def test_replace_sends_every_field(api: FakeApi) -> None:
    api.answer("POST", "/dataset/replace/7", _ds(7))
    ds = await api.client.datasets.replace(7, name="n", type="TEXT")
    assert ds.id == 7
    api.assert_call(api.only_call(), "POST", "/dataset/replace/7", json={"name": "n", "type": "TEXT"})


async def test_delete_one(api: FakeApi) -> None:
    api.answer("POST", "/dataset/delete/7")
    assert await api.client.datasets.delete(7) is None
    api.assert_call(api.only_call(), "POST", "/dataset/delete/7")


async def test_delete_many_splits_250_ids_into_100_100_50(api: FakeApi) -> None:
    chunks = [range(1, 101), range(101, 201), range(201, 251)]
    for chunk in chunks:
        api.answer("POST", "/dataset/delete", query={"datasetIds": _csv(chunk)})
    await api.client.datasets.delete_many(list(range(1, 251)))
    assert len(api.calls) == 3
    for call, chunk in zip(api.calls, chunks, strict=True):
        api.assert_call(call, "POST", "/dataset/delete", params={"datasetIds": _csv(chunk)})


async def test_get_one(api: FakeApi) -> None:
    api.answer("GET", "/dataset/info/7", _ds(7))
    assert (await api.client.datasets.get(7)).name == "ds-7"
    api.assert_call(api.only_call(), "GET", "/dataset/info/7")


async def test_get_many_splits_250_ids_and_keeps_their_order(api: FakeApi) -> None:
    chunks = [range(1, 101), range(101, 201), range(201, 251)]
    for chunk in chunks:
        api.answer("GET", "/dataset/info", [_ds(i) for i in chunk], query={"datasetIds": _csv(chunk)})
    found = await api.client.datasets.get_many(range(1, 251))
    assert [ds.id for ds in found] == list(range(1, 251))
    assert [call.params["datasetIds"] for call in api.calls] == [_csv(c) for c in chunks]
    for call, chunk in zip(api.calls, chunks, strict=True):
        api.assert_call(call, "GET", "/dataset/info", params={"datasetIds": _csv(chunk)})


async def test_get_many_of_100_ids_is_one_call(api: FakeApi) -> None:
    api.answer(
        "GET", "/dataset/info", [_ds(i) for i in range(1, 101)], query={"datasetIds": _csv(range(1, 101))}
    )
    assert len(await api.client.datasets.get_many(range(1, 101))) == 100
    assert len(api.calls) == 1


async def test_list_sends_filters_and_walks_pages(api: FakeApi) -> None:
    base = {"name": "car", "type": "IMAGE", "sortBy": "name", "ascending": "false", "pageSize": "2"}
    api.answer("GET", "/dataset/list", {"total": 3, "list": [_ds(1), _ds(2)]}, query={**base, "pageNo": "1"})
    api.answer("GET", "/dataset/list", {"list": [_ds(3)]}, query={**base, "pageNo": "2"})
    listing = api.client.datasets.list(name="car", type="IMAGE", sort_by="name", ascending=False, page_size=2)
    assert [ds.id async for ds in listing] == [1, 2, 3]
    for call, page_no in zip(api.calls, ["1", "2"], strict=True):
        api.assert_call(call, "GET", "/dataset/list", params={**base, "pageNo": page_no})


async def test_list_defaults_to_pages_of_100_without_filters(api: FakeApi) -> None:
    api.answer("GET", "/dataset/list", {"total": 0, "list": []}, query={"pageSize": "100", "pageNo": "1"})
    assert [ds async for ds in api.client.datasets.list()] == []
    api.assert_call(api.only_call(), "GET", "/dataset/list", params={"pageSize": "100", "pageNo": "1"})


async def test_iter_by_id_passes_the_last_id_on(api: FakeApi) -> None:
    api.answer("GET", "/dataset/listById", {"list": [_ds(4), _ds(9)]}, query={"limit": "2"})
    api.answer("GET", "/dataset/listById", {"list": [_ds(12)]}, query={"limit": "2", "lastId": "9"})
    assert [ds.id async for ds in api.client.datasets.iter_by_id(limit=2)] == [4, 9, 12]
    api.assert_call(api.calls[0], "GET", "/dataset/listById", params={"limit": "2"})
    api.assert_call(api.calls[1], "GET", "/dataset/listById", params={"limit": "2", "lastId": "9"})


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.datasets.create(name=" ", type="IMAGE"), ValueError, "name"),
        (lambda c: c.datasets.create(name="a", type=None), TypeError, "type"),
        (lambda c: c.datasets.update(0, name="a"), ValueError, "dataset_id"),
        (lambda c: c.datasets.update(1), ValueError, "at least one"),
        (lambda c: c.datasets.update(1, name=""), ValueError, "name"),
        (lambda c: c.datasets.update(1, type=" "), ValueError, "type"),
        (lambda c: c.datasets.update(1, description=3), TypeError, "description"),
        (lambda c: c.datasets.replace("1", name="a", type="IMAGE"), TypeError, "dataset_id"),
        (lambda c: c.datasets.delete(True), TypeError, "dataset_id"),
        (lambda c: c.datasets.delete_many([]), ValueError, "at least one"),
        (lambda c: c.datasets.delete_many([1, -2]), ValueError, r"dataset_ids\[1\]"),
        (lambda c: c.datasets.delete_many("1,2"), TypeError, "string"),
        (lambda c: c.datasets.get(-1), ValueError, "dataset_id"),
        (lambda c: c.datasets.get_many([1, 2.0]), TypeError, r"dataset_ids\[1\]"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
) -> None:
    await api.assert_refused_before_any_request(call, error, match)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"page_size": 0}, ValueError, "page_size"),
        ({"page_size": 101}, ValueError, "page_size"),
        ({"page_size": "10"}, TypeError, "page_size"),
    ],
)
async def test_bad_page_size_fails_when_the_listing_is_made(
    api: FakeApi, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        api.client.datasets.list(**kwargs)
    assert api.calls == []


@pytest.mark.parametrize("limit", [0, 101, 1.5])
async def test_bad_limit_fails_when_the_traversal_is_made(api: FakeApi, limit: object) -> None:
    with pytest.raises((ValueError, TypeError), match="limit"):
        api.client.datasets.iter_by_id(limit=limit)  # type: ignore[arg-type]  # the wrong type is the point
    assert api.calls == []
