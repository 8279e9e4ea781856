"""The sample answers of tests/fixtures/answers decode, in both forms, to the values they hold.

The samples were written by hand from API.md's evidence (not produced by the
emulator), one file per form. Each check projects what users read from the
decoded models; the projection must equal the literal below in both forms, so
the variants give users the same values as the guide's shapes. What only one
form carries (counts, statuses, URLs, string class ids) is checked on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from basicai_async.models import (
    AnnotationResult,
    AnnotationSource,
    Batch,
    DataItem,
    Dataset,
    Envelope,
    IdPage,
    Item,
    Page,
    PresignedUpload,
    Scene,
)

ANSWERS = Path(__file__).parent / "fixtures" / "answers"
FORMS = ("guide", "xtreme1")


def load(form: str) -> dict[str, Any]:
    """The sample answers of one form, by ``METHOD path``."""
    samples: dict[str, Any] = json.loads((ANSWERS / f"{form}.json").read_text())
    return samples


def decode(form: str, endpoint: str, type_: Any) -> Any:
    """The ``data`` of one sample answer, decoded as the SDK's pipeline decodes it."""
    raw = json.dumps(load(form)[endpoint]).encode()
    envelope = msgspec.json.decode(raw, type=Envelope[type_])
    assert envelope.code.upper() == "OK"
    return envelope.data


def _files(item: DataItem | Item) -> list[tuple[str | None, int | None, str | None]]:
    return [(f.path, f.size, f.mime_type) for f in item.files]


def _dataset(d: Dataset) -> tuple[object, ...]:
    return (d.id, d.name, d.type)


def _data(d: DataItem) -> tuple[object, ...]:
    return (d.id, d.name, d.dataset_id, d.parent_id, _files(d))


def _item(i: Item) -> tuple[object, ...]:
    return (i.id, i.name, i.item_type, (i.is_data, i.is_scene, i.is_batch), i.parent_id, _files(i))


def _result(r: AnnotationResult) -> tuple[object, ...]:
    objects = [(o.id, o.type, o.track_id, o.class_name, o.class_values, o.contour) for o in r.instances]
    return (r.data_id, r.source_id, r.source_type, r.validity, r.classification_values, objects)


JPEG = ("https://bucket.example/u/1/a.jpg", 181000, "image/jpeg")
PCD = ("https://bucket.example/u/2/b.pcd", 9000, "application/octet-stream")
RECT = {"points": [{"x": 1, "y": 2}, {"x": 30, "y": 2}, {"x": 30, "y": 40}, {"x": 1, "y": 40}]}
BOX = {
    "center3D": {"x": 1.5, "y": 2.0, "z": 0.5},
    "size3D": {"x": 0.6, "y": 0.6, "z": 1.8},
    "rotation3D": {"x": 0, "y": 0, "z": 1.57},
}
LEVEL = [
    (40, "week-1", "BATCH", (False, False, True), None, []),
    (50, "drive-1", "SCENE", (False, True, False), 40, []),
    (70, "frame-0", "DATA", (True, False, False), None, [JPEG]),
]

# endpoint -> (response type, projection, what users must read in both forms)
CASES: dict[str, tuple[Any, Callable[[Any], object], object]] = {
    "POST /dataset/create": (Dataset, _dataset, (7, "cars", "IMAGE")),
    "POST /dataset/update/{datasetId}": (
        Dataset,
        lambda d: (d.id, d.name, d.updated_at),
        (7, "cars-2", datetime(2024, 3, 30, 8, tzinfo=timezone.utc)),
    ),
    "POST /dataset/replace/{datasetId}": (
        Dataset,
        lambda d: (d.id, d.name, d.description),
        (7, "cars-3", None),
    ),
    "POST /dataset/delete/{datasetId}": (Any, lambda d: d, None),
    "POST /dataset/delete": (Any, lambda d: d, None),
    "GET /dataset/list": (
        Page[Dataset],
        lambda p: ([_dataset(d) for d in p.items], p.total),
        ([(7, "cars", "IMAGE"), (8, "lidar", "LIDAR_FUSION")], 2),
    ),
    "GET /dataset/list (page 2)": (Page[Dataset], lambda p: p.items, []),
    "GET /dataset/listById": (IdPage[Dataset], lambda p: [d.id for d in p.items], [7, 8]),
    "GET /dataset/listById (end)": (IdPage[Dataset], lambda p: p.items, []),
    "GET /dataset/info/{datasetId}": (
        Dataset,
        lambda d: (*_dataset(d), d.description, d.created_at, d.item_count),
        (7, "cars", "IMAGE", "front camera", datetime(2024, 3, 29, 10, 5, 45, tzinfo=timezone.utc), 3),
    ),
    "GET /dataset/info": (
        list[Dataset],
        lambda ds: [_dataset(d) for d in ds],
        [(7, "cars", "IMAGE"), (8, "lidar", "LIDAR_FUSION")],
    ),
    "POST /dataset/addData/{datasetId}": (DataItem, _data, (70, "frame-0", 7, None, [JPEG])),
    "POST /dataset/removeData/{datasetId}/{dataId}": (Any, lambda d: d, None),
    "POST /dataset/batchAddData/{datasetId}": (
        list[DataItem],
        lambda ds: [_data(d) for d in ds],
        [
            (71, "frame-1", 7, None, [PCD]),
            (72, "frame-2", 7, None, [("https://bucket.example/u/3/c.jpg", 1200, "image/jpeg")]),
        ],
    ),
    "POST /dataset/batchRemoveData/{datasetId}": (Any, lambda d: d, None),
    "POST /dataset/addScene/{datasetId}": (
        Scene,
        lambda s: (s.id, s.name, s.batch_id, s.dataset_id, [_data(f) for f in s.frames]),
        (
            50,
            "drive-1",
            40,
            7,
            [(51, "f0", 7, 50, [("https://bucket.example/u/4/0.pcd", 10, "application/octet-stream")])],
        ),
    ),
    "POST /dataset/removeScene/{datasetId}/{sceneId}": (Any, lambda d: d, None),
    "POST /dataset/addBatch/{datasetId}": (Batch, lambda b: (b.id, b.name, b.dataset_id), (40, "week-1", 7)),
    "POST /dataset/removeBatch/{datasetId}/{batchId}": (Any, lambda d: d, None),
    "GET /dataset/listItem/{datasetId}": (
        Page[Item],
        lambda p: ([_item(i) for i in p.items], p.total),
        (LEVEL, 3),
    ),
    "GET /dataset/listItemById/{datasetId}": (IdPage[Item], lambda p: [_item(i) for i in p.items], LEVEL),
    "GET /dataset/listAnnotationSource/{datasetId}": (
        list[AnnotationSource],
        lambda ss: [(s.id, s.type, s.name) for s in ss],
        [(1, "MODEL", "Detector v2"), (2, "EXTERNAL_GROUND_TRUTH", "Ground Truth")],
    ),
    "GET /dataset/dataAnnotationResult/{datasetId}/{dataId}": (
        list[AnnotationResult],
        lambda rs: [_result(r) for r in rs],
        [
            (70, 1, "MODEL", "VALID", [], [("i-1", "RECTANGLE", "t-1", "Car", [], RECT)]),
            (
                70,
                2,
                "EXTERNAL_GROUND_TRUTH",
                "VALID",
                [{"id": "weather", "value": "rain"}],
                [
                    ("i-2", "RECTANGLE", "t-1", "Car", [{"id": "occluded", "value": True}], {"points": []}),
                    ("i-3", "RECTANGLE", "t-2", "Truck", [], {"points": []}),
                ],
            ),
        ],
    ),
    "GET /dataset/batchDataAnnotationResult/{datasetId}/": (
        list[AnnotationResult],
        lambda rs: [_result(r) for r in rs],
        [
            (71, 2, "EXTERNAL_GROUND_TRUTH", "VALID", [], [("i-4", "3D_BOX", None, "Pedestrian", [], BOX)]),
            (72, 2, "EXTERNAL_GROUND_TRUTH", "VALID", [], []),
        ],
    ),
    "GET /dataset/sceneAnnotationResult/{datasetId}/{sceneId}": (
        list[AnnotationResult],
        lambda rs: [_result(r) for r in rs],
        [(51, 2, "EXTERNAL_GROUND_TRUTH", "VALID", [], [("i-5", "3D_BOX", "t-9", "Pedestrian", [], {})])],
    ),
    "POST /storage/batchGeneratePreSignedUploadUrl": (
        list[PresignedUpload],
        # Where the object lives (what is registered, without the signature a signed accessUrl carries).
        lambda us: [(u.register_path.split("?", 1)[0], u.expires_at, "?" in u.pre_signed_url) for u in us],
        [
            ("https://bucket.example/u/1/a.jpg", datetime(2024, 3, 29, 11, 5, 45, tzinfo=timezone.utc), True),
            ("https://bucket.example/u/2/b.pcd", datetime(2024, 3, 29, 11, 5, 45, tzinfo=timezone.utc), True),
        ],
    ),
}


def test_the_corpus_covers_every_endpoint_in_both_forms() -> None:
    assert sorted(load("guide")) == sorted(load("xtreme1")) == sorted(CASES)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_sample_decodes_to_its_values(form: str, endpoint: str) -> None:
    type_, project, expected = CASES[endpoint]
    assert project(decode(form, endpoint, type_)) == expected


def test_what_only_the_guide_form_carries() -> None:
    created = decode("guide", "POST /dataset/create", Dataset)
    assert (created.item_count, created.annotated_count, created.created_by) == (0, None, None)
    [lidar, cam] = decode("guide", "POST /dataset/batchAddData/{datasetId}", list[DataItem])
    assert [lidar.files[0].device_name, cam.files[0].device_name] == ["lidar", "cam-front"]
    [model, _] = decode(
        "guide", "GET /dataset/dataAnnotationResult/{datasetId}/{dataId}", list[AnnotationResult]
    )
    assert (model.version, model.instances[0].class_id, model.instances[0].model_confidence) == (1, 3, None)
    [upload, _] = decode("guide", "POST /storage/batchGeneratePreSignedUploadUrl", list[PresignedUpload])
    # No path in the answer: the signed URL without its query is what gets registered.
    assert upload.pre_signed_url.startswith(upload.register_path + "?X-Amz-")


def test_what_only_the_xtreme1_form_carries() -> None:
    info = decode("xtreme1", "GET /dataset/info/{datasetId}", Dataset)
    assert (info.annotated_count, info.not_annotated_count, info.invalid_count, info.created_by) == (
        2,
        1,
        0,
        "12",
    )
    assert decode("xtreme1", "POST /dataset/create", Dataset).created_by == 12
    data = decode("xtreme1", "POST /dataset/addData/{datasetId}", DataItem)
    assert (data.type, data.status, data.annotation_status, data.split_type) == (
        "SINGLE_DATA",
        "VALID",
        "NOT_ANNOTATED",
        None,
    )
    # The files came in a `content` tree: each leaf once, its folder's name as the device, no thumbnail.
    [file] = data.files
    assert (file.id, file.name, file.original_name, file.type, file.url, file.device_name) == (
        900,
        "a.jpg",
        "a.jpg",
        "image/jpeg",
        "https://cdn.example/u/1/a.jpg",
        "image_0",
    )
    assert file.extra_info == {"width": 1920, "height": 1080}
    assert (file.width, file.height) == (1920, 1080)
    splits = decode("xtreme1", "POST /dataset/batchAddData/{datasetId}", list[DataItem])
    assert [(d.annotation_status, d.split_type) for d in splits] == [
        ("ANNOTATED", "TRAINING"),
        ("INVALID", None),
    ]
    [model, truth] = decode(
        "xtreme1", "GET /dataset/dataAnnotationResult/{datasetId}/{dataId}", list[AnnotationResult]
    )
    assert (model.version, model.source_name) == ("1.0", "Detector v2")
    [car] = model.instances
    assert (car.class_id, car.model_confidence, car.model_class) == ("3", 0.87, "CAR")
    assert [o.class_id for o in truth.instances] == ["3", "4"]
    [scene_result] = decode(
        "xtreme1", "GET /dataset/sceneAnnotationResult/{datasetId}/{sceneId}", list[AnnotationResult]
    )
    assert scene_result.version == "2"
    uploads = decode("xtreme1", "POST /storage/batchGeneratePreSignedUploadUrl", list[PresignedUpload])
    for u in uploads:
        # accessUrl is registered exactly as sent (a signed URL itself), and it is not the PUT URL.
        assert u.register_path == u.access_url
        assert "X-Amz-Signature=" in u.register_path
        assert not u.pre_signed_url.startswith(u.register_path.split("?", 1)[0])
        assert u.pre_signed_url.startswith("https://minio.example:9000/x1-bucket/")
        # ...and never shown: no signature in its repr or its display path.
        signature = u.register_path.rsplit("=", 1)[1]
        assert signature not in repr(u)
        assert signature not in u.display_path
    page = decode("xtreme1", "GET /dataset/list (page 2)", Page[Dataset])
    assert (page.items, page.total) == ([], 2)


def test_results_keep_their_objects_under_one_name_when_encoded_again() -> None:
    # Export writes results back out: objects come out under `instances` whichever key they came in.
    [result, _] = decode(
        "xtreme1", "GET /dataset/dataAnnotationResult/{datasetId}/{dataId}", list[AnnotationResult]
    )
    written = msgspec.to_builtins(result)
    assert "objects" not in written
    assert [o["id"] for o in written["instances"]] == ["i-1"]
