"""A data item's files from a flat list or a ``content`` tree; image sizes; no signature shown."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from basicai_async._errors import (
    APIResponseError,
    FileFormatNotSupportedError,
    GenericAPIError,
    IllegalFormatError,
    IllegalParamError,
    NameDuplicatedError,
    ResourceDuplicatedError,
    ResourceNotFoundError,
    UnknownCodeError,
    error_for_code,
)
from basicai_async._http import decode_answer
from basicai_async.models import DataItem, Dataset, Item, Page
from basicai_async.uploader._reconcile import same_object

SIGNED = "http://minio:9000/b/12/a.jpg?X-Amz-Date=20240329T100545Z&X-Amz-Signature=5ecret5ecret"


def _leaf(file_id: int, name: str, **file: Any) -> dict[str, Any]:
    return {"name": name, "fileId": file_id, "type": "file", "file": {"id": file_id, "name": name, **file}}


def _folder(name: str, *files: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": "directory", "files": list(files)}


def _item(**fields: Any) -> DataItem:
    return msgspec.json.decode(msgspec.json.encode({"id": 1, **fields}), type=DataItem)


def test_a_tree_of_any_depth_gives_each_leaf_once_under_its_folders_name() -> None:
    content = [
        _folder("camera_config", _leaf(1, "1.json", type="application/json", path="c/1.json", size=20)),
        _folder(
            "cameras",
            _folder("image_0", _leaf(2, "a.jpg", type="image/jpeg", path="i/a.jpg", size=5)),
            _folder("image_1", _folder("raw", _leaf(3, "b.png", type="image/png", path="i/b.png", size=6))),
        ),
        _folder("lidar_point_cloud_0", _leaf(4, "p.pcd", type=None, path="l/p.pcd", size=9)),
    ]
    item = _item(content=content)
    assert [(f.id, f.device_name, f.path, f.size, f.mime_type) for f in item.files] == [
        (1, "camera_config", "c/1.json", 20, "application/json"),
        (2, "image_0", "i/a.jpg", 5, "image/jpeg"),
        (3, "raw", "i/b.png", 6, "image/png"),
        (4, "lidar_point_cloud_0", "l/p.pcd", 9, None),
    ]
    # The tree is folded away: it is neither kept on the model nor written back out.
    assert "content" not in msgspec.to_builtins(item)
    assert "content" not in repr(item)


def test_thumbnails_and_other_copies_of_a_file_are_not_files_of_the_item() -> None:
    thumb = {
        "@type": "file",
        "id": 9,
        "name": "large_a.jpg",
        "path": "t/a.jpg",
        "type": "image/jpeg",
        "size": 1,
    }
    leaf = _leaf(
        2, "a.jpg", type="image/jpeg", path="i/a.jpg", largeThumbnail=thumb, binary=thumb, smallThumbnail=None
    )
    item = _item(content=[_folder("image_0", leaf)])
    assert [f.id for f in item.files] == [2]


def test_a_leaf_without_its_file_keeps_its_id_and_name() -> None:
    bare = {"name": "a.jpg", "fileId": 7, "type": "file", "file": None}
    item = _item(
        content=[_folder("image_0", bare), _folder("empty"), {"name": "also-empty", "type": "directory"}]
    )
    assert [(f.id, f.name, f.device_name) for f in item.files] == [(7, "a.jpg", "image_0")]


def test_a_flat_list_and_a_tree_together_keep_each_file_once() -> None:
    flat = [{"id": 2, "path": "i/a.jpg", "size": 5, "mimeType": "image/jpeg", "deviceName": "cam"}]
    tree = [_folder("image_0", _leaf(2, "a.jpg", path="i/a.jpg")), _folder("image_1", _leaf(3, "b.jpg"))]
    item = _item(files=flat, content=tree)
    assert [(f.id, f.device_name) for f in item.files] == [(2, "cam"), (3, "image_1")]


@pytest.mark.parametrize(
    "fields",
    [{}, {"files": None}, {"content": None}, {"content": []}, {"files": None, "content": []}, {"files": []}],
)
def test_no_files_in_any_spelling_read_as_an_empty_list(fields: dict[str, Any]) -> None:
    assert _item(**fields).files == []


def test_the_guides_flat_files_are_read_as_before() -> None:
    item = _item(files=[{"path": "p/a.jpg", "size": 3, "mimeType": "image/jpeg", "deviceName": "cam-front"}])
    assert [(f.path, f.size, f.mime_type, f.device_name) for f in item.files] == [
        ("p/a.jpg", 3, "image/jpeg", "cam-front")
    ]


def test_listed_items_read_their_files_from_a_tree_too() -> None:
    raw = msgspec.json.encode(
        {
            "list": [
                {"id": 1, "type": "SCENE", "content": []},
                {
                    "id": 2,
                    "type": "SINGLE_DATA",
                    "content": [_folder("image_0", _leaf(5, "a.jpg", path="x"))],
                },
                {"id": 3, "itemType": "DATA", "files": [{"path": "y", "mimeType": "image/png"}]},
            ]
        }
    )
    page = msgspec.json.decode(raw, type=Page[Item])
    assert [(i.id, i.item_type, [(f.path, f.device_name) for f in i.files]) for i in page.items] == [
        (1, "SCENE", []),
        (2, "DATA", [("x", "image_0")]),
        (3, "DATA", [("y", None)]),
    ]


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"extraInfo": {"width": 1920, "height": 1080}}, (1920, 1080)),
        ({"extraInfo": {"width": 1920.0, "height": "1080"}}, (1920, 1080)),
        ({"extraInfo": {"width": True, "height": 1.5}}, (None, None)),
        ({"extraInfo": {"minX": -80.5, "maxX": 80.5}}, (None, None)),
        ({"extraInfo": "not an object"}, (None, None)),
        ({"extraInfo": None}, (None, None)),
        ({"width": 640, "height": 480, "extraInfo": {"width": 1, "height": 2}}, (640, 480)),
        ({"width": 640, "extraInfo": {"width": 1, "height": 2}}, (640, 2)),
    ],
)
def test_image_sizes_come_from_their_fields_or_extra_info(
    fields: dict[str, Any], size: tuple[object, object]
) -> None:
    file = _item(files=[fields]).files[0]
    assert (file.width, file.height) == size


def test_a_signed_url_of_a_file_never_shows_in_a_repr() -> None:
    item = _item(content=[_folder("image_0", _leaf(2, "a.jpg", url=SIGNED))])
    assert item.files[0].url == SIGNED  # kept whole for whoever reads the file
    for shown in (repr(item), repr(item.files[0]), str(item.files)):
        assert "5ecret5ecret" not in shown
        assert "http://minio:9000/b/12/a.jpg?" in shown


PLATFORM_CODES: dict[str, type[APIResponseError]] = {
    "NOT_FOUND": ResourceNotFoundError,
    "DATASET_NOT_FOUND": ResourceNotFoundError,
    "DATA_NOT_FOUND": ResourceNotFoundError,
    "DATASET__NOT_EXIST": ResourceNotFoundError,
    "DUPLICATED": ResourceDuplicatedError,
    "NAME_DUPLICATED": NameDuplicatedError,
    "DATASET_NAME_DUPLICATED": NameDuplicatedError,
    "PARAM_ERROR": IllegalParamError,
    "DATASET_DATA_FILE_URL_ERROR": IllegalParamError,
    "DATASET_DATA_FILE_URL_ILLEGAL": IllegalParamError,
    "FILE_TYPE_NOT_SUPPORT": FileFormatNotSupportedError,
    "DATASET_DATA_FILE_FORMAT_ERROR": IllegalFormatError,
    "ERROR": GenericAPIError,
    "UNKNOWN": GenericAPIError,
}


@pytest.mark.parametrize(("code", "error"), sorted(PLATFORM_CODES.items()))
def test_the_platforms_code_names_raise_the_typed_error_of_their_meaning(
    code: str, error: type[APIResponseError]
) -> None:
    assert error_for_code(code) is error
    assert error_for_code(code.lower()) is error
    raw = msgspec.json.encode({"code": code, "message": "refused", "data": None})
    with pytest.raises(error) as caught:
        decode_answer(raw, Dataset, "GET", "/dataset/info/1")
    assert (caught.value.code, caught.value.server_message) == (code, "refused")


def test_a_code_never_seen_stays_unknown_with_the_code_kept() -> None:
    raw = msgspec.json.encode({"code": "DATASET_DATA_UNLOCK_ID_ERROR", "message": "m", "data": None})
    with pytest.raises(UnknownCodeError) as caught:
        decode_answer(raw, Dataset, "POST", "/x")
    assert caught.value.code == "DATASET_DATA_UNLOCK_ID_ERROR"


def test_null_data_is_an_answer_only_where_the_type_says_so() -> None:
    raw = b'{"code": "OK", "message": "", "data": null}'
    assert decode_answer(raw, Dataset | None, "POST", "/dataset/update/1") is None
    with pytest.raises(Exception, match="data is null, expected Dataset"):
        decode_answer(raw, Dataset, "POST", "/dataset/update/1")


@pytest.mark.parametrize(
    ("registered", "listed", "same"),
    [
        ("http://h/_store/u1/a.jpg", "http://h/_store/u1/a.jpg", True),
        ("http://minio:9000/xtreme1/12/1024/u1/a.jpg?X-Amz-Signature=REDACTED", "12/1024/u1/a.jpg", True),
        (SIGNED, SIGNED.split("?")[0], True),
        ("http://minio:9000/xtreme1/12/1024/u1/a.jpg?X-Amz-Signature=x", "12/1024/u2/a.jpg", False),
        ("http://h/_store/u1/a.jpg", "a.jpg", True),
        ("http://h/_store/u1/ba.jpg", "a.jpg", False),
        ("http://h/_store/u1/a.jpg", "", False),
    ],
)
def test_a_registered_path_and_a_listed_one_name_the_same_object(
    registered: str, listed: str, same: bool
) -> None:
    assert same_object(registered, listed) is same
    assert same_object(listed, registered) is same


def test_a_refusal_quoting_a_signed_url_shows_no_signature() -> None:
    raw = msgspec.json.encode(
        {"code": "FILE_TYPE_NOT_SUPPORT", "message": f"{SIGNED} is not supported", "data": None}
    )
    with pytest.raises(FileFormatNotSupportedError) as caught:
        decode_answer(raw, Dataset, "POST", "/dataset/addData/1")
    for shown in (str(caught.value), repr(caught.value), caught.value.server_message):
        assert "5ecret5ecret" not in shown
        assert "http://minio:9000/b/12/a.jpg?" in shown
