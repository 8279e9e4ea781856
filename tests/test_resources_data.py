"""client.data against a mocked API: add, remove, add in bulk (one call), remove in bulk (chunked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _fakes import FakeApi

from basicai_async._client import AsyncBasicAI
from basicai_async.models import DataFile, DataItem, FileRef, NewData

JPEG = FileRef(path="https://bucket.test/a.jpg", size=1234, mime_type="image/jpeg")
JPEG_WIRE = {"path": "https://bucket.test/a.jpg", "size": 1234, "mimeType": "image/jpeg"}


def _item(i: int) -> dict[str, object]:
    return {"id": i, "name": f"f-{i}", "datasetId": 7, "files": [JPEG_WIRE]}


async def test_add_posts_name_and_files(api: FakeApi) -> None:
    api.answer("POST", "/dataset/addData/7", _item(70))
    item = await api.client.data.add(7, name="f-70", files=[JPEG])
    assert item == DataItem(
        id=70,
        name="f-70",
        dataset_id=7,
        files=[DataFile(path=JPEG.path, size=JPEG.size, mime_type=JPEG.mime_type)],
    )
    api.assert_call(
        api.only_call(), "POST", "/dataset/addData/7", json={"name": "f-70", "files": [JPEG_WIRE]}
    )


async def test_add_places_the_item_under_a_batch_and_scene(api: FakeApi) -> None:
    device = FileRef(
        path="https://bucket.test/p.pcd", size=9, mime_type="application/octet-stream", device_name="lidar"
    )
    api.answer("POST", "/dataset/addData/7", _item(70))
    await api.client.data.add(7, name="f", files=[device], batch_id=3, scene_id=5)
    api.assert_call(
        api.only_call(),
        "POST",
        "/dataset/addData/7",
        json={
            "name": "f",
            "files": [
                {
                    "path": "https://bucket.test/p.pcd",
                    "size": 9,
                    "mimeType": "application/octet-stream",
                    "deviceName": "lidar",
                }
            ],
            "batchId": 3,
            "sceneId": 5,
        },
    )


async def test_remove_one(api: FakeApi) -> None:
    api.answer("POST", "/dataset/removeData/7/70")
    assert await api.client.data.remove(7, 70) is None
    api.assert_call(api.only_call(), "POST", "/dataset/removeData/7/70")


async def test_add_many_posts_one_array_and_returns_items_in_order(api: FakeApi) -> None:
    new = [NewData(name=f"f-{i}", files=[JPEG], scene_id=5 if i % 2 else None) for i in range(3)]
    api.answer("POST", "/dataset/batchAddData/7", [_item(100), _item(101), _item(102)])
    created = await api.client.data.add_many(7, new)
    assert [item.id for item in created] == [100, 101, 102]
    api.assert_call(
        api.only_call(),
        "POST",
        "/dataset/batchAddData/7",
        json=[
            {"name": "f-0", "files": [JPEG_WIRE]},
            {"name": "f-1", "files": [JPEG_WIRE], "sceneId": 5},
            {"name": "f-2", "files": [JPEG_WIRE]},
        ],
    )


async def test_add_many_sends_250_items_in_one_call(api: FakeApi) -> None:
    """Not split: the server adds a batch all or none, and a split creating call could half-succeed."""
    api.answer("POST", "/dataset/batchAddData/7", [_item(i) for i in range(1, 251)])
    created = await api.client.data.add_many(7, [NewData(name=f"f-{i}", files=[JPEG]) for i in range(1, 251)])
    assert [item.id for item in created] == list(range(1, 251))
    assert [body["name"] for body in api.only_call().json] == [f"f-{i}" for i in range(1, 251)]


async def test_remove_many_splits_250_ids_into_100_100_50(api: FakeApi) -> None:
    chunks = [range(1, 101), range(101, 201), range(201, 251)]
    for chunk in chunks:
        api.answer("POST", "/dataset/batchRemoveData/7", query={"dataIds": ",".join(map(str, chunk))})
    await api.client.data.remove_many(7, list(range(1, 251)))
    assert len(api.calls) == 3
    for call, chunk in zip(api.calls, chunks, strict=True):
        api.assert_call(
            call, "POST", "/dataset/batchRemoveData/7", params={"dataIds": ",".join(map(str, chunk))}
        )


async def test_remove_many_of_three_ids(api: FakeApi) -> None:
    api.answer("POST", "/dataset/batchRemoveData/7", query={"dataIds": "3,1,2"})
    await api.client.data.remove_many(7, [3, 1, 2])
    api.assert_call(api.only_call(), "POST", "/dataset/batchRemoveData/7", params={"dataIds": "3,1,2"})


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.data.add(0, name="f", files=[JPEG]), ValueError, "dataset_id"),
        (lambda c: c.data.add(7, name="", files=[JPEG]), ValueError, "name"),
        (lambda c: c.data.add(7, name="f", files=[]), ValueError, "at least one FileRef"),
        (lambda c: c.data.add(7, name="f", files=JPEG), TypeError, "files"),
        (lambda c: c.data.add(7, name="f", files=[{"path": "x"}]), TypeError, r"files\[0\]"),
        (lambda c: c.data.add(7, name="f", files=[JPEG], batch_id=-1), ValueError, "batch_id"),
        (lambda c: c.data.add(7, name="f", files=[JPEG], scene_id="5"), TypeError, "scene_id"),
        (lambda c: c.data.remove(7, 0), ValueError, "data_id"),
        (lambda c: c.data.remove(None, 1), TypeError, "dataset_id"),
        (lambda c: c.data.add_many(7, []), ValueError, "at least one NewData"),
        (lambda c: c.data.add_many(7, "f"), TypeError, "items"),
        (lambda c: c.data.add_many(7, [{"name": "f"}]), TypeError, r"items\[0\]"),
        (
            lambda c: c.data.add_many(7, [NewData(name="a", files=[JPEG]), NewData(name=" ", files=[JPEG])]),
            ValueError,
            r"items\[1\]\.name",
        ),
        (lambda c: c.data.add_many(7, [NewData(name="a", files=[])]), ValueError, r"items\[0\]\.files"),
        (
            lambda c: c.data.add_many(7, [NewData(name="a", files=[JPEG], batch_id=0)]),
            ValueError,
            r"items\[0\]\.batch_id",
        ),
        (lambda c: c.data.remove_many(7, []), ValueError, "at least one"),
        (lambda c: c.data.remove_many(7, [1, "2"]), TypeError, r"data_ids\[1\]"),
        (lambda c: c.data.remove_many(-7, [1]), ValueError, "dataset_id"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
) -> None:
    await api.assert_refused_before_any_request(call, error, match)
