"""What holds for every resource: attached to the client, one method per documented path named
in its docstring, and the right retry class (creating calls are not retried after a 500).

Every test here is async, even those that await nothing: under pytest-asyncio 1.5 a
plain test leaves an event loop behind whose ResourceWarning surfaces in a later test.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from _fakes import FakeApi

from basicai_async import resources
from basicai_async._client import AsyncBasicAI
from basicai_async._errors import InternalServerError
from basicai_async.models import FileRef, NewData, PresignRequest

# Every path of API.md and the one method that calls it.
ENDPOINTS: dict[str, str] = {
    "datasets.create": "POST /dataset/create",
    "datasets.update": "POST /dataset/update/{datasetId}",
    "datasets.replace": "POST /dataset/replace/{datasetId}",
    "datasets.delete": "POST /dataset/delete/{datasetId}",
    "datasets.delete_many": "POST /dataset/delete?datasetIds=",
    "datasets.list": "GET /dataset/list",
    "datasets.iter_by_id": "GET /dataset/listById",
    "datasets.get": "GET /dataset/info/{datasetId}",
    "datasets.get_many": "GET /dataset/info?datasetIds=",
    "data.add": "POST /dataset/addData/{datasetId}",
    "data.remove": "POST /dataset/removeData/{datasetId}/{dataId}",
    "data.add_many": "POST /dataset/batchAddData/{datasetId}",
    "data.remove_many": "POST /dataset/batchRemoveData/{datasetId}?dataIds=",
    "scenes.add": "POST /dataset/addScene/{datasetId}",
    "scenes.remove": "POST /dataset/removeScene/{datasetId}/{sceneId}",
    "batches.add": "POST /dataset/addBatch/{datasetId}",
    "batches.remove": "POST /dataset/removeBatch/{datasetId}/{batchId}",
    "items.list": "GET /dataset/listItem/{datasetId}",
    "items.iter_by_id": "GET /dataset/listItemById/{datasetId}",
    "annotations.list_sources": "GET /dataset/listAnnotationSource/{datasetId}",
    "annotations.get_data_results": "GET /dataset/dataAnnotationResult/{datasetId}/{dataId}",
    "annotations.get_many_data_results": "GET /dataset/batchDataAnnotationResult/{datasetId}/?dataIds=",
    "annotations.get_scene_results": "GET /dataset/sceneAnnotationResult/{datasetId}/{sceneId}",
    "storage.presign_uploads": "POST /storage/batchGeneratePreSignedUploadUrl",
}
CREATING = {
    "data.add",
    "data.add_many",
    "scenes.add",
    "batches.add",
}
"""Calls that could create twice: raised after an ambiguous failure, never resent blindly."""
RECONCILED = {"datasets.create"}
"""Creating calls that look up what an ambiguous failure did before sending again."""
ATTRIBUTES = {
    "datasets": resources.Datasets,
    "data": resources.Data,
    "scenes": resources.Scenes,
    "batches": resources.Batches,
    "items": resources.Items,
    "annotations": resources.Annotations,
    "storage": resources.Storage,
}


def _public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


async def test_every_resource_is_exported_and_hung_on_the_client() -> None:
    async with FakeApi.open() as api:
        client = api.client
    assert sorted(resources.__all__) == sorted(cls.__name__ for cls in ATTRIBUTES.values())
    for attribute, cls in ATTRIBUTES.items():
        assert type(getattr(client, attribute)) is cls


async def test_there_is_exactly_one_method_per_documented_path() -> None:
    methods = {f"{attr}.{name}" for attr, cls in ATTRIBUTES.items() for name in _public_methods(cls)}
    assert methods == set(ENDPOINTS)
    assert len(set(ENDPOINTS.values())) == len(ENDPOINTS)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_each_docstring_names_its_path(endpoint: str) -> None:
    attr, name = endpoint.split(".")
    doc = " ".join(inspect.getdoc(getattr(ATTRIBUTES[attr], name)).split())  # type: ignore[union-attr]
    assert ENDPOINTS[endpoint] in doc
    assert ("Not retried after an ambiguous failure" in doc) == (endpoint in CREATING)
    assert ("the name is looked up" in doc) == (endpoint in RECONCILED)


JPEG = FileRef(path="https://bucket.test/a.jpg", size=1, mime_type="image/jpeg")
DS = {"id": 7, "name": "d"}
POSTS: list[tuple[str, Callable[[AsyncBasicAI], Awaitable[Any]], str, dict[str, str] | None, object]] = [
    ("datasets.create", lambda c: c.datasets.create(name="d", type="IMAGE"), "/dataset/create", None, DS),
    ("datasets.update", lambda c: c.datasets.update(7, name="d"), "/dataset/update/7", None, DS),
    (
        "datasets.replace",
        lambda c: c.datasets.replace(7, name="d", type="IMAGE"),
        "/dataset/replace/7",
        None,
        DS,
    ),
    ("datasets.delete", lambda c: c.datasets.delete(7), "/dataset/delete/7", None, None),
    (
        "datasets.delete_many",
        lambda c: c.datasets.delete_many([7, 8]),
        "/dataset/delete",
        {"datasetIds": "7,8"},
        None,
    ),
    (
        "data.add",
        lambda c: c.data.add(7, name="f", files=[JPEG]),
        "/dataset/addData/7",
        None,
        {"id": 1, "name": "f"},
    ),
    ("data.remove", lambda c: c.data.remove(7, 1), "/dataset/removeData/7/1", None, None),
    (
        "data.add_many",
        lambda c: c.data.add_many(7, [NewData(name="f", files=[JPEG])]),
        "/dataset/batchAddData/7",
        None,
        [{"id": 1, "name": "f"}],
    ),
    (
        "data.remove_many",
        lambda c: c.data.remove_many(7, [1]),
        "/dataset/batchRemoveData/7",
        {"dataIds": "1"},
        None,
    ),
    ("scenes.add", lambda c: c.scenes.add(7, name="s"), "/dataset/addScene/7", None, {"id": 5, "name": "s"}),
    ("scenes.remove", lambda c: c.scenes.remove(7, 5), "/dataset/removeScene/7/5", None, None),
    (
        "batches.add",
        lambda c: c.batches.add(7, name="b"),
        "/dataset/addBatch/7",
        None,
        {"id": 3, "name": "b"},
    ),
    ("batches.remove", lambda c: c.batches.remove(7, 3), "/dataset/removeBatch/7/3", None, None),
    (
        "storage.presign_uploads",
        lambda c: c.storage.presign_uploads([PresignRequest(filename="a", size=1)]),
        "/storage/batchGeneratePreSignedUploadUrl",
        None,
        [{"preSignedUrl": "https://bucket.test/a?sig=x"}],
    ),
]


async def test_the_retry_table_covers_every_post() -> None:
    assert {row[0] for row in POSTS} == {e for e, path in ENDPOINTS.items() if path.startswith("POST ")}


@pytest.mark.parametrize(("endpoint", "call", "path", "query", "data"), POSTS, ids=[row[0] for row in POSTS])
async def test_a_500_is_retried_only_by_calls_that_cannot_create_twice(
    endpoint: str,
    call: Callable[[AsyncBasicAI], Awaitable[Any]],
    path: str,
    query: dict[str, str] | None,
    data: object,
) -> None:
    async with FakeApi.open(max_retries=1) as api:
        api.answer("POST", path, query=query, status=500)
        api.answer("POST", path, data, query=query)
        if endpoint in RECONCILED:
            # Maybe created: looked up by name first; not found, so sent once more.
            listing = {"name": "d", "type": "IMAGE", "pageSize": "100", "pageNo": "1"}
            api.answer("GET", "/dataset/list", {"list": [], "total": 0}, query=listing)
            await call(api.client)
            assert [c.method for c in api.calls] == ["POST", "GET", "POST"]
            assert len(api.sleeps) == 1  # one backoff step before looking, for a server still at it
        elif endpoint in CREATING:
            with pytest.raises(InternalServerError):
                await call(api.client)
            assert len(api.calls) == 1
            assert api.sleeps == []
        else:
            await call(api.client)
            assert len(api.calls) == 2
            assert len(api.sleeps) == 1
        assert api.limiter.acquired == len(api.calls)
