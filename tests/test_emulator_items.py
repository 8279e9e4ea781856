"""Emulator over real loopback HTTP: data, scenes, batches, item levels, annotation results, pre-signing."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_B, Api

from basicai_async.emulator import Emulator
from basicai_async.emulator._samples import sample_png
from basicai_async.emulator._views import CANVAS
from basicai_async.models import AnnotationResult, AnnotationSource, DataItem, IdPage, Item, Page, Scene

pytestmark = pytest.mark.integration

# The shared fixtures, by assignment so that pytest finds them in this module.
emu, http, api = support.emu, support.http, support.api


async def test_add_data_shape_and_item_count(api: Api) -> None:
    ds = await api.dataset()
    file = await api.upload("cam.jpg", b"12345")
    data = await api.ok("POST", f"/dataset/addData/{ds['id']}", json={"name": "frame", "files": [file]})
    assert set(data) == {"id", "name", "type", "datasetId", "files", "createdAt"}
    item = msgspec.convert(data, DataItem)
    assert (item.name, item.dataset_id, item.parent_id) == ("frame", ds["id"], None)
    # The file as registered, and a signed URL to read it by.
    assert [{k: v for k, v in f.items() if k != "url"} for f in data["files"]] == [file]
    assert data["files"][0]["url"].startswith(file["path"] + "?Expires=")
    assert (await api.ok("GET", f"/dataset/info/{ds['id']}"))["itemCount"] == 1


async def test_batch_add_data_in_order_and_atomic(api: Api, emu: Emulator) -> None:
    ds = await api.dataset()
    file = await api.upload()
    body = [{"name": f"n{i}", "files": [file]} for i in range(5)]
    created = await api.ok("POST", f"/dataset/batchAddData/{ds['id']}", json=body)
    assert [d["name"] for d in created] == [f"n{i}" for i in range(5)]
    assert [d["id"] for d in created] == sorted(d["id"] for d in created)
    bad = [*body, {"name": "bad", "files": [{**file, "path": file["path"].replace(".jpg", "x.jpg")}]}]
    assert await api.code("POST", f"/dataset/batchAddData/{ds['id']}", json=bad) == "ILLEGAL_PARAM"
    assert emu.state.datasets[ds["id"]].data_count == 5
    too_many = [{"name": "n", "files": [file]}] * 101
    assert await api.code("POST", f"/dataset/batchAddData/{ds['id']}", json=too_many) == "ILLEGAL_PARAM"
    assert await api.code("POST", f"/dataset/batchAddData/{ds['id']}", json=[]) == "ILLEGAL_PARAM"


async def test_remove_data_one_and_many(api: Api) -> None:
    ds = await api.dataset()
    file = await api.upload()
    ids = [
        d["id"]
        for d in await api.ok(
            "POST",
            f"/dataset/batchAddData/{ds['id']}",
            json=[{"name": f"n{i}", "files": [file]} for i in range(4)],
        )
    ]
    assert await api.ok("POST", f"/dataset/removeData/{ds['id']}/{ids[0]}") is None
    assert await api.code("POST", f"/dataset/removeData/{ds['id']}/{ids[0]}") == "RESOURCE_NOT_FOUND"
    params = {"dataIds": f"{ids[1]},{ids[2]}"}
    assert await api.ok("POST", f"/dataset/batchRemoveData/{ds['id']}", params=params) is None
    level = await api.ok("GET", f"/dataset/listItem/{ds['id']}")
    assert [i["id"] for i in level["list"]] == [ids[3]]
    too_many = {"dataIds": ",".join(map(str, range(1, 102)))}
    assert await api.code("POST", f"/dataset/batchRemoveData/{ds['id']}", params=too_many) == "ILLEGAL_PARAM"


async def test_hierarchy_batches_scenes_and_levels(api: Api) -> None:
    ds = await api.dataset("av", "LIDAR_FUSION")
    pcd = await api.upload("f.pcd", b"points")
    batch = await api.ok("POST", f"/dataset/addBatch/{ds['id']}", json={"name": "b1"})
    assert set(batch) == {"id", "name", "datasetId", "createdAt"}
    scene_body = {
        "name": "s1",
        "batchId": batch["id"],
        "frames": [{"name": f"f{i}", "files": [pcd]} for i in range(3)],
    }
    scene = msgspec.convert(await api.ok("POST", f"/dataset/addScene/{ds['id']}", json=scene_body), Scene)
    assert scene.batch_id == batch["id"]
    assert scene.frames is not None
    assert [f.parent_id for f in scene.frames] == [scene.id] * 3
    in_batch = await api.ok(
        "POST", f"/dataset/addData/{ds['id']}", json={"name": "loose", "batchId": batch["id"], "files": [pcd]}
    )
    in_scene = await api.ok(
        "POST", f"/dataset/addData/{ds['id']}", json={"name": "f3", "sceneId": scene.id, "files": [pcd]}
    )
    assert in_batch["parentId"] == batch["id"]
    assert in_scene["parentId"] == scene.id
    top = await api.ok("POST", f"/dataset/addData/{ds['id']}", json={"name": "top", "files": [pcd]})

    raw_level = await api.ok("GET", f"/dataset/listItem/{ds['id']}")
    level = msgspec.convert(raw_level, Page[Item])
    assert [(i.id, i.item_type) for i in level.items] == [(batch["id"], "BATCH"), (top["id"], "DATA")]
    assert "files" not in raw_level["list"][0]
    assert level.items[1].files != []
    under_batch = await api.ok("GET", f"/dataset/listItem/{ds['id']}", params={"parentId": batch["id"]})
    assert [(i["itemType"], i["parentId"]) for i in under_batch["list"]] == [
        ("SCENE", batch["id"]),
        ("DATA", batch["id"]),
    ]
    frames = await api.ok(
        "GET", f"/dataset/listItemById/{ds['id']}", params={"parentId": scene.id, "limit": 100}
    )
    assert [i["name"] for i in frames["list"]] == ["f0", "f1", "f2", "f3"]
    assert (await api.ok("GET", f"/dataset/info/{ds['id']}"))["itemCount"] == 6

    # Removing a non-empty batch fails; removing the scene takes its frames along.
    path = f"/dataset/removeBatch/{ds['id']}/{batch['id']}"
    assert await api.code("POST", path) == "OPERATION_FAILED"
    assert await api.ok("POST", f"/dataset/removeScene/{ds['id']}/{scene.id}") is None
    assert await api.ok("POST", f"/dataset/removeData/{ds['id']}/{in_batch['id']}") is None
    assert await api.ok("POST", path) is None
    assert (await api.ok("GET", f"/dataset/info/{ds['id']}"))["itemCount"] == 1
    assert await api.code("GET", f"/dataset/listItem/{ds['id']}", params={"parentId": scene.id}) == (
        "RESOURCE_NOT_FOUND"
    )


async def test_hierarchy_errors(api: Api) -> None:
    ds = await api.dataset()
    file = await api.upload()
    b1 = await api.ok("POST", f"/dataset/addBatch/{ds['id']}", json={"name": "b1"})
    b2 = await api.ok("POST", f"/dataset/addBatch/{ds['id']}", json={"name": "b2"})
    scene = await api.ok("POST", f"/dataset/addScene/{ds['id']}", json={"name": "s", "batchId": b1["id"]})
    assert scene["frames"] == []
    data = await api.ok("POST", f"/dataset/addData/{ds['id']}", json={"name": "d", "files": [file]})
    add = f"/dataset/addData/{ds['id']}"
    body: dict[str, Any] = {"name": "x", "files": [file]}
    assert (
        await api.code("POST", add, json={**body, "sceneId": scene["id"], "batchId": b2["id"]})
        == "ILLEGAL_PARAM"
    )
    assert await api.code("POST", add, json={**body, "sceneId": 999}) == "RESOURCE_NOT_FOUND"
    assert await api.code("POST", add, json={**body, "batchId": scene["id"]}) == "RESOURCE_NOT_FOUND"
    assert await api.code("POST", add, json={**body, "name": ""}) == "ILLEGAL_PARAM"
    assert await api.code("POST", add, json={"name": "x", "files": []}) == "ILLEGAL_PARAM"
    assert (
        await api.code("POST", add, json={"name": "x", "files": [{**file, "size": "5"}]}) == "ILLEGAL_PARAM"
    )
    assert (
        await api.code("POST", add, json={"name": "x", "files": [{**file, "mimeType": ""}]})
        == "ILLEGAL_PARAM"
    )
    assert await api.code("POST", f"/dataset/addBatch/{ds['id']}", json={"name": " "}) == "ILLEGAL_PARAM"
    assert await api.code("POST", f"/dataset/addScene/{ds['id']}", json={"name": "s", "batchId": 999}) == (
        "RESOURCE_NOT_FOUND"
    )
    frames = {"name": "s", "frames": [{"name": "", "files": [file]}]}
    assert await api.code("POST", f"/dataset/addScene/{ds['id']}", json=frames) == "ILLEGAL_PARAM"
    assert await api.code("POST", f"/dataset/removeScene/{ds['id']}/{data['id']}") == "RESOURCE_NOT_FOUND"
    assert await api.code("POST", f"/dataset/removeBatch/{ds['id']}/{data['id']}") == "RESOURCE_NOT_FOUND"
    params = {"parentId": data["id"]}
    assert await api.code("GET", f"/dataset/listItem/{ds['id']}", params=params) == "RESOURCE_NOT_FOUND"
    # The same id twice in one bulk remove is fine.
    ok = await api.ok(
        "POST", f"/dataset/batchRemoveData/{ds['id']}", params={"dataIds": f"{data['id']},{data['id']}"}
    )
    assert ok is None


@pytest.mark.parametrize(
    ("dataset_type", "filename", "mime"),
    [
        ("IMAGE", "notes.txt", "text/plain"),
        ("IMAGE", "a.jpg", "text/plain"),
        ("IMAGE", "cloud.pcd", "application/octet-stream"),
        ("LIDAR_BASIC", "a.jpg", "image/jpeg"),
        ("TEXT", "a.jpg", "image/jpeg"),
    ],
)
async def test_unsupported_file_format(api: Api, dataset_type: str, filename: str, mime: str) -> None:
    ds = await api.dataset("d", dataset_type)
    file = {**(await api.upload(filename)), "mimeType": mime}
    body = {"name": "x", "files": [file]}
    assert await api.code("POST", f"/dataset/addData/{ds['id']}", json=body) == "FILE_FORMAT_NOT_SUPPORTED"


async def test_files_must_be_uploaded_objects_of_that_size(api: Api) -> None:
    ds = await api.dataset()
    file = await api.upload()
    add = f"/dataset/addData/{ds['id']}"
    for wrong in [
        {**file, "size": file["size"] + 1},
        {**file, "path": "http://example.invalid/elsewhere.jpg"},
        {**file, "path": file["path"].replace(".jpg", "-other.jpg")},
    ]:
        body = await api.envelope("POST", add, json={"name": "x", "files": [wrong]})
        assert body["code"] == "ILLEGAL_PARAM"
        assert wrong["path"] in body["message"]
    scene = {"name": "s", "frames": [{"name": "f", "files": [{**file, "size": 0}]}]}
    assert await api.code("POST", f"/dataset/addScene/{ds['id']}", json=scene) == "ILLEGAL_PARAM"
    # A pre-signed but never uploaded object cannot be registered.
    (signed,) = await api.ok(
        "POST", "/storage/batchGeneratePreSignedUploadUrl", json=[{"filename": "b.jpg", "size": 3}]
    )
    never = {"path": signed["path"], "size": 3, "mimeType": "image/jpeg"}
    assert await api.code("POST", add, json={"name": "x", "files": [never]}) == "ILLEGAL_PARAM"


async def test_items_of_another_team_are_403(api: Api) -> None:
    ds = await api.dataset()
    api.key = KEY_B
    for method, path in [
        ("POST", f"/dataset/addBatch/{ds['id']}"),
        ("GET", f"/dataset/listItem/{ds['id']}"),
        ("GET", f"/dataset/listAnnotationSource/{ds['id']}"),
    ]:
        assert (await api.raw(method, path, json={"name": "b"}))[0] == 403


async def test_paging_and_traversal_over_thousands_of_items(api: Api) -> None:
    ds = await api.dataset()
    file = await api.upload()
    for chunk in range(30):
        body = [{"name": f"n{chunk * 100 + i:04}", "files": [file]} for i in range(100)]
        await api.ok("POST", f"/dataset/batchAddData/{ds['id']}", json=body)
    await api.ok("POST", f"/dataset/addBatch/{ds['id']}", json={"name": "last"})
    names: list[str] = []
    page_no = 1
    while True:
        data = await api.ok(
            "GET", f"/dataset/listItem/{ds['id']}", params={"pageNo": page_no, "pageSize": 100}
        )
        assert ("total" in data) == (page_no == 1)
        if page_no == 1:
            assert data["total"] == 3001
        names += [i["name"] for i in data["list"]]
        if len(data["list"]) < 100:
            break
        page_no += 1
    assert names == [f"n{i:04}" for i in range(3000)] + ["last"]
    walked: list[int] = []
    params = {"limit": 100}
    calls = 0
    while True:
        step = msgspec.convert(
            await api.ok("GET", f"/dataset/listItemById/{ds['id']}", params=params), IdPage[Item]
        )
        calls += 1
        walked += [i.id for i in step.items]
        if len(step.items) < 100:
            break
        params["lastId"] = step.items[-1].id
    assert len(walked) == 3001
    assert walked == sorted(set(walked))
    assert calls == 31


async def test_annotation_sources_and_results(api: Api) -> None:
    ds = await api.dataset("img", "IMAGE")
    file = await api.upload()
    sources = msgspec.convert(
        await api.ok("GET", f"/dataset/listAnnotationSource/{ds['id']}"), list[AnnotationSource]
    )
    assert len(sources) == 2
    assert all(s.name and s.type for s in sources)
    d1, d2 = await api.ok(
        "POST",
        f"/dataset/batchAddData/{ds['id']}",
        json=[{"name": "a", "files": [file]}, {"name": "b", "files": [file]}],
    )
    raw = await api.ok("GET", f"/dataset/dataAnnotationResult/{ds['id']}/{d1['id']}")
    results = msgspec.convert(raw, list[AnnotationResult])
    assert [r.source_id for r in results] == [s.id for s in sources]
    assert all(r.data_id == d1["id"] and r.instances for r in results)
    instance = raw[0]["instances"][0]
    assert set(instance) == {
        "id",
        "type",
        "trackId",
        "trackName",
        "classId",
        "className",
        "classValues",
        "contour",
    }
    assert set(raw[0]) >= {"dataId", "sourceId", "sourceType", "sourceName", "version", "validity"}
    # Deterministic.
    assert await api.ok("GET", f"/dataset/dataAnnotationResult/{ds['id']}/{d1['id']}") == raw
    only = await api.ok(
        "GET", f"/dataset/dataAnnotationResult/{ds['id']}/{d1['id']}", params={"sourceId": sources[1].id}
    )
    assert [r["sourceId"] for r in only] == [sources[1].id]
    bad_source = {"sourceId": 99999}
    path = f"/dataset/dataAnnotationResult/{ds['id']}/{d1['id']}"
    assert await api.code("GET", path, params=bad_source) == "RESOURCE_NOT_FOUND"
    assert await api.code("GET", f"/dataset/dataAnnotationResult/{ds['id']}/99999") == "RESOURCE_NOT_FOUND"
    for trailing in ("/", ""):
        batch = await api.ok(
            "GET",
            f"/dataset/batchDataAnnotationResult/{ds['id']}{trailing}",
            params={"dataIds": f"{d2['id']},{d1['id']}"},
        )
        assert [r["dataId"] for r in batch] == [d2["id"], d2["id"], d1["id"], d1["id"]]
    params = {"dataIds": ",".join(map(str, range(1, 102)))}
    path = f"/dataset/batchDataAnnotationResult/{ds['id']}/"
    assert await api.code("GET", path, params=params) == "ILLEGAL_PARAM"


async def test_scene_results_cover_every_frame_with_3d_boxes(api: Api) -> None:
    ds = await api.dataset("pc", "LIDAR_BASIC")
    pcd = await api.upload("a.pcd", b"pts")
    scene = await api.ok(
        "POST",
        f"/dataset/addScene/{ds['id']}",
        json={"name": "s", "frames": [{"name": f"f{i}", "files": [pcd]} for i in range(3)]},
    )
    results = await api.ok("GET", f"/dataset/sceneAnnotationResult/{ds['id']}/{scene['id']}")
    assert [r["dataId"] for r in results] == [f["id"] for f in scene["frames"] for _ in range(2)]
    assert results[0]["instances"][0]["type"] == "3D_BOX"
    assert "center3D" in results[0]["instances"][0]["contour"]
    sources = await api.ok("GET", f"/dataset/listAnnotationSource/{ds['id']}")
    one = await api.ok(
        "GET",
        f"/dataset/sceneAnnotationResult/{ds['id']}/{scene['id']}",
        params={"sourceId": sources[0]["id"]},
    )
    assert len(one) == 3
    path = f"/dataset/sceneAnnotationResult/{ds['id']}/{scene['frames'][0]['id']}"
    assert await api.code("GET", path) == "RESOURCE_NOT_FOUND"


async def test_presign_answer_shape_and_validation(api: Api) -> None:
    body = [{"filename": "a.jpg", "size": 10}, {"filename": "b c.png", "size": 0, "deviceName": "cam"}]
    signed = await api.ok("POST", "/storage/batchGeneratePreSignedUploadUrl", json=body)
    assert [s["filename"] for s in signed] == ["a.jpg", "b c.png"]
    for one in signed:
        assert set(one) == {"preSignedUrl", "path", "filename", "expiresAt"}
        assert one["preSignedUrl"].startswith(one["path"] + "?")
        assert "?" not in one["path"]
    path = "/storage/batchGeneratePreSignedUploadUrl"
    assert await api.ok("POST", path, json=[]) == []
    for bad in (
        [{"filename": "", "size": 1}],
        [{"filename": "a/b.jpg", "size": 1}],
        [{"filename": "..", "size": 1}],
        [{"filename": "a.jpg", "size": -1}],
        [{"filename": "a.jpg", "size": (1 << 30) + 1}],
        [{"filename": "a.jpg", "size": "1"}],
        [{"filename": "a.jpg", "size": 1}] * 101,
        {"filename": "a.jpg", "size": 1},
    ):
        assert await api.code("POST", path, json=bad) == "ILLEGAL_PARAM", bad


async def test_2d_objects_lie_inside_their_image_or_the_fixed_canvas(api: Api) -> None:
    ds = await api.dataset("fit", "IMAGE")
    png = {**await api.upload("small.png", sample_png(5, 30, 20)), "mimeType": "image/png"}
    not_an_image = await api.upload()  # JPEG bytes no header reader can size
    items = await api.ok(
        "POST",
        f"/dataset/batchAddData/{ds['id']}",
        json=[{"name": f"d{i}", "files": [png if i % 2 else not_an_image]} for i in range(12)],
    )
    for i, item in enumerate(items):
        width, height = (30, 20) if i % 2 else CANVAS
        results = await api.ok("GET", f"/dataset/dataAnnotationResult/{ds['id']}/{item['id']}")
        points = [p for r in results for o in r["instances"] for p in o["contour"]["points"]]
        assert points
        assert all(0 <= p["x"] <= width and 0 <= p["y"] <= height for p in points), (i, width, height)
    # A 30x20 image is small: the objects use most of it, not a corner past the edge.
    assert max(p["x"] for p in points) > 10
