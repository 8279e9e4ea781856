"""client.annotations against a mocked API: sources, results of data (one, many) and scenes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _fakes import FakeApi

from basicai_async._client import AsyncBasicAI
from basicai_async.models import AnnotationSource

# The documented path has a slash before the query: it is kept exactly.
MANY = "/dataset/batchDataAnnotationResult/7/"


def _result(data_id: int, source_id: int = 1) -> dict[str, object]:
    return {
        "version": 2,
        "dataId": data_id,
        "sourceId": source_id,
        "sourceType": "TASK",
        "classificationValues": [],
        "instances": [
            {"id": "a1", "type": "BOUNDING_BOX", "trackId": "t", "classId": 4, "contour": {"points": []}}
        ],
    }


def _csv(ids: range) -> str:
    return ",".join(str(i) for i in ids)


async def test_list_sources(api: FakeApi) -> None:
    api.answer(
        "GET",
        "/dataset/listAnnotationSource/7",
        [{"id": 1, "type": "TASK", "name": "t"}, {"id": 2, "type": "NEW_KIND"}],
    )
    sources = await api.client.annotations.list_sources(7)
    assert sources == [AnnotationSource(id=1, type="TASK", name="t"), AnnotationSource(id=2, type="NEW_KIND")]
    api.assert_call(api.only_call(), "GET", "/dataset/listAnnotationSource/7")


async def test_get_data_results_of_every_source(api: FakeApi) -> None:
    api.answer("GET", "/dataset/dataAnnotationResult/7/70", [_result(70, 1), _result(70, 2)])
    results = await api.client.annotations.get_data_results(7, 70)
    assert [(r.data_id, r.source_id) for r in results] == [(70, 1), (70, 2)]
    assert results[0].instances[0].class_id == 4
    api.assert_call(api.only_call(), "GET", "/dataset/dataAnnotationResult/7/70")


async def test_get_data_results_of_one_source(api: FakeApi) -> None:
    api.answer("GET", "/dataset/dataAnnotationResult/7/70", [_result(70, 2)], query={"sourceId": "2"})
    await api.client.annotations.get_data_results(7, 70, source_id=2)
    api.assert_call(api.only_call(), "GET", "/dataset/dataAnnotationResult/7/70", params={"sourceId": "2"})


async def test_get_many_data_results_keeps_the_trailing_slash(api: FakeApi) -> None:
    api.answer("GET", MANY, [_result(5), _result(3)], query={"dataIds": "5,3", "sourceId": "1"})
    results = await api.client.annotations.get_many_data_results(7, [5, 3], source_id=1)
    assert [r.data_id for r in results] == [5, 3]
    call = api.only_call()
    api.assert_call(call, "GET", MANY, params={"dataIds": "5,3", "sourceId": "1"})
    assert call.url.path.endswith("/batchDataAnnotationResult/7/")


async def test_get_many_data_results_splits_250_ids_and_keeps_their_order(api: FakeApi) -> None:
    chunks = [range(1, 101), range(101, 201), range(201, 251)]
    for chunk in chunks:
        api.answer("GET", MANY, [_result(i) for i in chunk], query={"dataIds": _csv(chunk)})
    results = await api.client.annotations.get_many_data_results(7, list(range(1, 251)))
    assert [r.data_id for r in results] == list(range(1, 251))
    assert len(api.calls) == 3
    for call, chunk in zip(api.calls, chunks, strict=True):
        api.assert_call(call, "GET", MANY, params={"dataIds": _csv(chunk)})


async def test_get_scene_results(api: FakeApi) -> None:
    api.answer("GET", "/dataset/sceneAnnotationResult/7/50", [_result(51), _result(52)])
    results = await api.client.annotations.get_scene_results(7, 50)
    assert [r.data_id for r in results] == [51, 52]
    api.assert_call(api.only_call(), "GET", "/dataset/sceneAnnotationResult/7/50")


async def test_get_scene_results_of_one_source(api: FakeApi) -> None:
    api.answer("GET", "/dataset/sceneAnnotationResult/7/50", [], query={"sourceId": "3"})
    assert await api.client.annotations.get_scene_results(7, 50, source_id=3) == []
    api.assert_call(api.only_call(), "GET", "/dataset/sceneAnnotationResult/7/50", params={"sourceId": "3"})


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.annotations.list_sources(0), ValueError, "dataset_id"),
        (lambda c: c.annotations.get_data_results(7, -1), ValueError, "data_id"),
        (lambda c: c.annotations.get_data_results(7, 70, source_id=0), ValueError, "source_id"),
        (lambda c: c.annotations.get_data_results(7, 70, source_id="1"), TypeError, "source_id"),
        (lambda c: c.annotations.get_many_data_results(7, []), ValueError, "at least one"),
        (lambda c: c.annotations.get_many_data_results(7, "1,2"), TypeError, "string"),
        (lambda c: c.annotations.get_many_data_results(7, [1, 0]), ValueError, r"data_ids\[1\]"),
        (lambda c: c.annotations.get_many_data_results(7, [1], source_id=-2), ValueError, "source_id"),
        (lambda c: c.annotations.get_scene_results(7, None), TypeError, "scene_id"),
        (lambda c: c.annotations.get_scene_results(7, 50, source_id=False), TypeError, "source_id"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
) -> None:
    await api.assert_refused_before_any_request(call, error, match)
