"""The answers BasicAI's platform's own classes wrote (tests/fixtures/evidence), through the SDK's methods.

Each file is an answer produced by the platform's response classes serialised
by its Jackson set-up (see the evidence README). Each is served, byte for byte,
as the answer of the SDK method for that endpoint over a mocked API (the
pipeline decodes it as it would a real one); answers of endpoints the SDK has no
method for are decoded by the pipeline with the type of the nearest method.
Values are checked, and :func:`kept` checks that no field a model has is lost:
every wire value under a model field's name is on the model.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _fakes import BASE_URL, FakeApi
from yarl import URL

from basicai_async import GenericAPIError, ResourceNotFoundError, UnknownCodeError
from basicai_async._http import decode_answer
from basicai_async.models import (
    AnnotationResult,
    DataItem,
    Dataset,
    FileRef,
    Item,
    NewData,
    PresignRequest,
)

EVIDENCE = Path(__file__).parent / "fixtures" / "evidence" / "xtreme1-jackson"
JPEG = FileRef(path="12/1024/6f1c0d2e/frame-0001.jpg", size=183211, mime_type="image/jpeg")


def raw(name: str) -> bytes:
    return (EVIDENCE / name).read_bytes()


def wire(name: str) -> Any:
    return json.loads(raw(name))


def serve(api: FakeApi, method: str, path: str, body: bytes, query: dict[str, str] | None = None) -> None:
    """Answer the next ``method path`` with ``body`` exactly as the platform wrote it."""
    url = URL(BASE_URL + path).with_query(sorted((query or {}).items()))
    api.mock.add(url, method, status=200, body=body, content_type="application/json")


def kept(data: dict[str, Any], model: msgspec.Struct) -> None:
    """Every non-null wire value under the name of a field of ``model`` is on it (nested models aside)."""
    for field in msgspec.structs.fields(type(model)):
        expected = data.get(field.encode_name)
        if field.name.startswith("_") or expected is None:
            continue
        value = getattr(model, field.name)
        if isinstance(value, list) and value and isinstance(value[0], msgspec.Struct):
            continue  # checked on their own
        if isinstance(value, datetime):
            expected = datetime.fromisoformat(expected)
        assert value == expected, (type(model).__name__, field.name, value, expected)


def leaves(
    content: list[dict[str, Any]], folder: str | None = None
) -> list[tuple[str | None, dict[str, Any]]]:
    """``(folder name, file)`` of every leaf of a wire ``content`` tree, in order."""
    out = []
    for node in content:
        if node.get("files") is not None:
            out += leaves(node["files"], node["name"])
        elif node.get("file") is not None:
            out.append((folder, node["file"]))
    return out


def kept_item(data: dict[str, Any], item: DataItem | Item) -> None:
    """The item and each file of its content tree: nothing a model has a field for is lost."""
    kept(data, item)
    tree = leaves(data["content"])
    assert len(item.files) == len(tree)
    for file, (folder, raw_file) in zip(item.files, tree, strict=True):
        kept(raw_file, file)
        assert file.device_name == folder
        assert file.mime_type == raw_file["type"]


# -- datasets ------------------------------------------------------------------------------------


async def test_create_answers_the_dataset_with_its_nulls(api: FakeApi) -> None:
    serve(api, "POST", "/dataset/create", raw("dataset_create.json"))
    ds = await api.client.datasets.create(name="cars-front", type="IMAGE")
    assert (ds.id, ds.name, ds.type, ds.description, ds.item_count, ds.annotated_count) == (
        1024,
        "cars-front",
        "IMAGE",
        None,
        None,
        None,
    )
    kept(wire("dataset_create.json")["data"], ds)


async def test_info_and_info_by_ids(api: FakeApi) -> None:
    serve(api, "GET", "/dataset/info/1024", raw("dataset_info.json"))
    ds = await api.client.datasets.get(1024)
    assert (ds.id, ds.name, ds.description) == (1024, "cars-front", "front camera")
    kept(wire("dataset_info.json")["data"], ds)
    serve(api, "GET", "/dataset/info", raw("dataset_findByType.json"), {"datasetIds": "1024,1025"})
    both = await api.client.datasets.get_many([1024, 1025])
    assert [(d.id, d.name, d.type) for d in both] == [
        (1024, "cars-front", "IMAGE"),
        (1025, "lidar-fusion", "LIDAR_FUSION"),
    ]
    for data, one in zip(wire("dataset_findByType.json")["data"], both, strict=True):
        kept(data, one)


async def test_a_page_of_datasets_then_an_empty_one(api: FakeApi) -> None:
    serve(api, "GET", "/dataset/list", raw("dataset_findByPage.json"), {"pageNo": "1", "pageSize": "2"})
    pages = api.client.datasets.list(page_size=2).pages()
    page = await pages.__anext__()
    assert page.total == 2
    assert [
        (d.id, d.item_count, d.annotated_count, d.not_annotated_count, d.invalid_count) for d in page.items
    ] == [
        (1024, 3, 2, 1, 0),
        (1025, 1, 1, 0, 0),
    ]
    for data, one in zip(wire("dataset_findByPage.json")["data"]["list"], page.items, strict=True):
        kept(data, one)
    # total reached: no further request (an unanswered one would fail the call).
    assert [p async for p in pages] == []
    serve(
        api, "GET", "/dataset/list", raw("dataset_findByPage_empty.json"), {"pageNo": "1", "pageSize": "10"}
    )
    assert [d async for d in api.client.datasets.list(page_size=10)] == []


async def test_a_new_empty_page_with_a_null_list(api: FakeApi) -> None:
    serve(api, "GET", "/dataset/list", raw("page_new_empty.json"), {"pageNo": "1", "pageSize": "10"})
    page = await api.client.datasets.list(page_size=10).pages().__anext__()
    assert (page.items, page.total) == ([], 0)


async def test_an_update_answered_without_data_reads_the_dataset_back(api: FakeApi) -> None:
    serve(api, "POST", "/dataset/update/1024", raw("void_ok.json"))
    serve(api, "GET", "/dataset/info/1024", raw("dataset_info.json"))
    ds = await api.client.datasets.update(1024, description="front camera")
    assert (ds.id, ds.description) == (1024, "front camera")
    serve(api, "POST", "/dataset/replace/1024", raw("void_ok.json"))
    serve(api, "GET", "/dataset/info/1024", raw("dataset_info.json"))
    assert (await api.client.datasets.replace(1024, name="cars-front", type="IMAGE")).name == "cars-front"
    serve(api, "POST", "/dataset/delete/1024", raw("void_ok.json"))
    assert await api.client.datasets.delete(1024) is None


async def test_a_failed_read_back_says_the_update_was_made(api: FakeApi) -> None:
    serve(api, "POST", "/dataset/update/1024", raw("void_ok.json"))
    serve(api, "GET", "/dataset/info/1024", raw("error_dataset_not_found.json"))
    with pytest.raises(ResourceNotFoundError) as caught:
        await api.client.datasets.update(1024, description="x")
    assert "dataset 1024 was changed; only reading it back failed" in (caught.value.__notes__ or [])


async def test_the_platforms_error_codes(api: FakeApi) -> None:
    serve(api, "GET", "/dataset/info/7", raw("error_dataset_not_found.json"))
    with pytest.raises(ResourceNotFoundError) as caught:
        await api.client.datasets.get(7)
    assert (caught.value.code, caught.value.server_message) == ("DATASET_NOT_FOUND", "Dataset not found")
    serve(api, "GET", "/dataset/info/7", raw("error_unlock_id.json"))
    with pytest.raises(UnknownCodeError) as unknown:
        await api.client.datasets.get(7)
    assert not isinstance(unknown.value, GenericAPIError)
    assert (unknown.value.code, unknown.value.server_message) == (
        "DATASET_DATA_UNLOCK_ID_ERROR",
        "Please pass in the correct unlock id",
    )


# -- data and items --------------------------------------------------------------------------------


async def test_an_image_items_file_and_size_come_out_of_its_content_tree(api: FakeApi) -> None:
    serve(api, "POST", "/dataset/addData/1024", raw("data_info_image.json"))
    item = await api.client.data.add(1024, name="frame-0001", files=[JPEG])
    assert (
        item.id,
        item.dataset_id,
        item.name,
        item.type,
        item.status,
        item.annotation_status,
        item.split_type,
    ) == (
        70,
        1024,
        "frame-0001",
        "SINGLE_DATA",
        "VALID",
        "NOT_ANNOTATED",
        "NOT_SPLIT",
    )
    [file] = item.files
    assert (file.id, file.path, file.size, file.mime_type, file.width, file.height, file.device_name) == (
        5001,
        "12/1024/6f1c0d2e/frame-0001.jpg",
        183211,
        "image/jpeg",
        1920,
        1080,
        "image_0",
    )
    assert (file.name, file.original_name, file.zip_path) == (
        "frame-0001.jpg",
        "frame-0001.jpg",
        "cars/image_0/frame-0001.jpg",
    )
    assert file.url is not None
    assert "X-Amz-Signature=deadbeef" in file.url
    kept_item(wire("data_info_image.json")["data"], item)


async def test_a_lidar_items_three_sensors_each_once(api: FakeApi) -> None:
    serve(api, "POST", "/dataset/addData/1025", raw("data_info_lidar.json"))
    item = await api.client.data.add(1025, name="0001", files=[JPEG])
    assert (item.id, item.parent_id) == (3000000001, 2999999999)
    assert [(f.device_name, f.id, f.path, f.size, f.mime_type, f.width, f.height) for f in item.files] == [
        ("camera_config", 6001, "12/1025/camera_config/0001.json", 2048, "application/json", None, None),
        ("camera_image_0", 6002, "12/1025/camera_image_0/0001.jpg", 250000, "image/jpeg", 1600, 900),
        ("lidar_point_cloud_0", 6010, "12/1025/lidar_point_cloud_0/0001.pcd", 4200000, None, None, None),
    ]
    # The point cloud's extraInfo (its bounds) is kept whole; its binary copy and render image are not files.
    assert item.files[2].extra_info == {
        "minX": -80.5,
        "maxX": 80.5,
        "minY": -40.0,
        "maxY": 40.0,
        "minZ": -3.2,
        "maxZ": 5.1,
    }
    kept_item(wire("data_info_lidar.json")["data"], item)


async def test_items_by_ids(api: FakeApi) -> None:
    # The platform's answer of several data items, as batchAddData's answer.
    serve(api, "POST", "/dataset/batchAddData/1024", raw("data_listByIds.json"))
    items = await api.client.data.add_many(
        1024, [NewData(name=n, files=[JPEG]) for n in ("frame-0001", "0001")]
    )
    assert [(i.id, i.dataset_id, [f.id for f in i.files]) for i in items] == [
        (70, 1024, [5001]),
        (3000000001, 1025, [6001, 6002, 6010]),
    ]
    for data, item in zip(wire("data_listByIds.json")["data"], items, strict=True):
        kept_item(data, item)


async def test_a_page_of_items_a_scene_and_its_frame(api: FakeApi) -> None:
    serve(
        api, "GET", "/dataset/listItem/1025", raw("data_findByPage.json"), {"pageNo": "1", "pageSize": "10"}
    )
    items = [i async for i in api.client.items.list(1025, page_size=10)]
    assert [(i.id, i.item_type, i.is_scene, i.is_data, i.parent_id, len(i.files)) for i in items] == [
        (2999999999, "SCENE", True, False, None, 0),
        (3000000001, "DATA", False, True, 2999999999, 3),
    ]
    for data, item in zip(wire("data_findByPage.json")["data"]["list"], items, strict=True):
        kept_item(data, item)


# -- uploads ---------------------------------------------------------------------------------------


async def test_a_signed_access_url_is_registered_as_received_and_never_shown(api: FakeApi) -> None:
    answer = wire("data_generatePresignedUrl.json")
    # The platform pre-signs one file per call; the batch endpoint answers a list of the same objects.
    body = json.dumps({**answer, "data": [answer["data"]]}).encode()
    serve(api, "POST", "/storage/batchGeneratePreSignedUploadUrl", body)
    [upload] = await api.client.storage.presign_uploads(
        [PresignRequest(filename="frame-0001.jpg", size=183211)]
    )
    access, signed = answer["data"]["accessUrl"], answer["data"]["presignedUrl"]
    assert (upload.register_path, upload.pre_signed_url, upload.access_url) == (access, signed, access)
    # Its expiry is read off the PUT URL's X-Amz-Date + X-Amz-Expires.
    assert upload.expires_at == datetime(2024, 3, 29, 10, 5, 45, tzinfo=timezone.utc) + timedelta(
        seconds=604800
    )
    for signature in (URL(access).query["X-Amz-Signature"], URL(signed).query["X-Amz-Signature"]):
        assert signature not in repr(upload)
        assert signature not in upload.display_path
    # What results and manifests show: the object's URL, without the query that holds the signature.
    assert (
        upload.display_path
        == "http://minio:9000/xtreme1/12/1024/6f1c0d2e9b8a4c7d8e9f00112233aabb/frame-0001.jpg"
    )


# -- results ---------------------------------------------------------------------------------------


def _objects(results: list[AnnotationResult]) -> list[tuple[Any, ...]]:
    return [
        (
            r.data_id,
            r.source_name,
            r.version,
            o.id,
            o.type,
            o.class_id,
            o.class_name,
            o.track_id,
            o.model_confidence,
        )
        for r in results
        for o in r.instances
    ]


EXPORTED = [
    (
        3000000001,
        "Ground Truth",
        "Xtreme1 v0.6",
        "b6f2c1e0-7d3a-4f5e-9c8b-0a1b2c3d4e5f",
        "3D_BOX",
        301,
        "Car",
        "tk-b6f2c1e0",
        None,
    ),
    (
        3000000001,
        "20240329001",
        "Xtreme1 v0.6",
        "c7a3d2f1-8e4b-4a6f-8d9c-1b2c3d4e5f60",
        "3D_BOX",
        302,
        "Pedestrian",
        "tk-c7a3d2f1",
        0.8731,
    ),
]


def test_the_export_files_results() -> None:
    results = msgspec.json.decode(raw("export_result_file.json"), type=list[AnnotationResult])
    assert _objects(results) == EXPORTED
    assert results[0].instances[0].contour == wire("export_result_file.json")[0]["objects"][0]["contour"]
    assert results[0].instances[0].class_values[0]["value"] == "partly"
    assert [len(r.classification_values) for r in results] == [1, 0]
    for data, result in zip(wire("export_result_file.json"), results, strict=True):
        kept(data, result)
        for obj, instance in zip(data["objects"], result.instances, strict=True):
            kept(obj, instance)


class _DataAndResult(msgspec.Struct, rename="camel"):
    """The platform's internal getDataAndResult wrapper (no OpenAPI method): its results only."""

    results: list[AnnotationResult]


def test_the_data_and_result_wrappers_results() -> None:
    answer = decode_answer(raw("data_getDataAndResult.json"), _DataAndResult, "GET", "/data/getDataAndResult")
    assert _objects(answer.results) == EXPORTED


def test_results_whose_objects_sit_under_class_attributes() -> None:
    [result] = decode_answer(raw("annotate_listByDataIds.json"), list[AnnotationResult], "GET", "/annotate")
    [car] = result.instances
    nested = wire("annotate_listByDataIds.json")["data"][0]["objects"][0]["classAttributes"]
    assert (car.id, car.type, car.class_id, car.class_name, car.track_id, car.track_name) == (
        "b6f2c1e0-7d3a-4f5e-9c8b-0a1b2c3d4e5f",
        "3D_BOX",
        301,
        "Car",
        "tk-b6f2c1e0",
        "1",
    )
    assert (car.contour, car.class_values) == (nested["contour"], nested["classValues"])


def test_how_the_platform_writes_dates() -> None:
    probe = wire("dates_probe.json")
    read = [
        msgspec.convert({"id": 1, "createdAt": value}, type=Dataset).created_at for value in probe.values()
    ]
    assert read == [
        datetime(2024, 3, 29, 18, 5, 45, 123000, tzinfo=timezone(timedelta(hours=8))),
        datetime(2024, 3, 29, 10, 5, 45, 123000, tzinfo=timezone.utc),
        # A LocalDateTime carries no zone: read as written, naive, rather than guessed.
        datetime(2024, 3, 29, 10, 5, 45),
    ]


def test_every_evidence_file_is_checked_here() -> None:
    source = Path(__file__).read_text()
    names = sorted(p.name for p in EVIDENCE.glob("*.json"))
    assert len(names) == 18
    assert [n for n in names if f'"{n}"' not in source] == []


def test_a_platform_file_in_a_flat_list_reads_as_in_a_tree() -> None:
    [(_, first)] = leaves(wire("data_info_image.json")["data"]["content"])
    file = msgspec.convert({"id": 1, "files": [first]}, type=DataItem).files[0]
    assert (file.id, file.width, file.height, file.mime_type) == (5001, 1920, 1080, "image/jpeg")
