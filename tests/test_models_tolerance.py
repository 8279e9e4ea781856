"""Tolerant models: what they accept, what they fold together, and the needed fields they refuse by name."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qsl

import msgspec
import pytest
from _fakes import FakeApi

from basicai_async import APIDecodeError
from basicai_async.models import (
    AnnotationResult,
    DataFile,
    DataItem,
    IdPage,
    Instance,
    Item,
    ItemType,
    Page,
    PresignedUpload,
    PresignRequest,
    Scene,
)
from basicai_async.models.storage import _query, expiry_of


async def test_an_entry_without_its_id_fails_naming_the_field_and_its_place(api: FakeApi) -> None:
    entries = [{"id": 1, "itemType": "DATA"}, {"name": "no id", "itemType": "DATA"}]
    api.answer(
        "GET", "/dataset/listItem/7", {"total": 2, "list": entries}, query={"pageNo": "1", "pageSize": "100"}
    )
    with pytest.raises(APIDecodeError) as caught:
        [item async for item in api.client.items.list(7)]
    assert "`id`" in str(caught.value)
    assert "$.data.list[1]" in str(caught.value)


async def test_an_entry_of_unknown_kind_fails_rather_than_being_taken_for_a_container(api: FakeApi) -> None:
    api.answer(
        "GET",
        "/dataset/listItem/7",
        {"list": [{"id": 1, "name": "x"}]},
        query={"pageNo": "1", "pageSize": "100"},
    )
    with pytest.raises(APIDecodeError) as caught:
        [item async for item in api.client.items.list(7)]
    assert "itemType" in str(caught.value)
    # Where: the page's `list[0]` (settled as a page, so msgspec names the page `$.data`).
    assert "`list[0]`" in str(caught.value)
    assert "$.data" in str(caught.value)


async def test_a_pre_sign_answer_without_a_url_fails_naming_it(api: FakeApi) -> None:
    api.answer("POST", "/storage/batchGeneratePreSignedUploadUrl", [{"accessUrl": "https://b.test/a.jpg"}])
    with pytest.raises(APIDecodeError) as caught:
        await api.client.storage.presign_uploads([PresignRequest(filename="a.jpg", size=3)])
    assert "preSignedUrl" in str(caught.value)
    assert "$.data[0]" in str(caught.value)


async def test_a_result_without_its_data_id_fails_naming_it(api: FakeApi) -> None:
    api.answer("GET", "/dataset/dataAnnotationResult/7/70", [{"version": "1.0", "objects": []}])
    with pytest.raises(APIDecodeError) as caught:
        await api.client.annotations.get_data_results(7, 70)
    assert "`dataId`" in str(caught.value)
    assert "$.data[0]" in str(caught.value)


def test_objects_under_either_key_read_the_same() -> None:
    one = {"dataId": 1, "objects": [{"id": "a"}]}
    other = {"dataId": 1, "instances": [{"id": "a"}]}
    assert msgspec.convert(one, AnnotationResult) == msgspec.convert(other, AnnotationResult)
    both = msgspec.convert(
        {"dataId": 1, "instances": [{"id": "a"}], "objects": [{"id": "b"}]}, AnnotationResult
    )
    assert [o.id for o in both.instances] == ["a", "b"]
    same = msgspec.convert(
        {"dataId": 1, "instances": [{"id": "a"}], "objects": [{"id": "a"}]}, AnnotationResult
    )
    assert [o.id for o in same.instances] == ["a"]
    assert AnnotationResult(data_id=1).instances == []


def test_class_values_null_or_empty_object_read_as_an_empty_list_and_a_filled_object_is_kept() -> None:
    assert msgspec.convert({"classValues": None}, Instance).class_values == []
    assert msgspec.convert({"classValues": {}}, Instance).class_values == []
    assert msgspec.convert({"classValues": {"color": "red"}}, Instance).class_values == {"color": "red"}
    assert msgspec.convert({"classId": ""}, Instance).class_id == ""


def _file(wire: dict[str, str]) -> DataFile:
    """A file as the SDK reads one: inside its item (the item settles its files)."""
    return msgspec.convert({"id": 1, "files": [wire]}, DataItem).files[0]


def test_a_file_reads_its_mime_type_from_type_when_mime_type_is_absent() -> None:
    assert _file({"type": "image/png"}).mime_type == "image/png"
    both = _file({"type": "image/png", "mimeType": "image/jpeg"})
    assert (both.mime_type, both.type) == ("image/jpeg", "image/png")
    # In a page of items too, and in an ID-order step.
    page = msgspec.convert(
        {"list": [{"id": 1, "itemType": "DATA", "files": [{"type": "image/png"}]}]}, Page[Item]
    )
    step = msgspec.convert(
        {"list": [{"id": 1, "type": "SINGLE_DATA", "files": [{"type": "image/png"}]}]}, IdPage[Item]
    )
    assert [page.items[0].files[0].mime_type, step.items[0].files[0].mime_type] == ["image/png", "image/png"]


def test_null_lists_read_as_empty() -> None:
    assert msgspec.convert({"id": 1, "files": None}, DataItem).files == []
    assert msgspec.convert({"id": 1, "frames": None}, Scene).frames == []
    assert msgspec.convert({"list": None, "total": 0}, Page[DataItem]).items == []


@pytest.mark.parametrize(
    ("wire", "kind", "flags"),
    [
        ({"itemType": "DATA"}, ItemType.DATA, (True, False, False)),
        ({"type": "SINGLE_DATA"}, ItemType.DATA, (True, False, False)),
        ({"type": "SCENE"}, ItemType.SCENE, (False, True, False)),
        ({"itemType": "BATCH", "type": "IMAGE"}, ItemType.BATCH, (False, False, True)),
        ({"type": "FOLDER"}, "FOLDER", (False, False, False)),
        ({"itemType": "FOLDER"}, "FOLDER", (False, False, False)),
        ({"itemType": "FOLDER", "type": "SINGLE_DATA"}, ItemType.DATA, (True, False, False)),
    ],
)
def test_an_item_kind_from_either_field(
    wire: dict[str, str], kind: str, flags: tuple[bool, bool, bool]
) -> None:
    # Items are read in pages (which settle them), as every listing of the SDK reads them.
    [item] = msgspec.convert({"list": [{"id": 1, **wire}]}, Page[Item]).items
    assert item.item_type == kind
    assert (item.is_data, item.is_scene, item.is_batch) == flags


def test_the_path_to_register_is_what_storage_says_else_the_url_without_its_query() -> None:
    signed = "https://s.test/k/a.jpg?X-Amz-Signature=abc"
    assert PresignedUpload(pre_signed_url=signed).register_path == "https://s.test/k/a.jpg"
    assert PresignedUpload(pre_signed_url=signed, path="https://s.test/p").register_path == "https://s.test/p"
    with_access = PresignedUpload(
        pre_signed_url=signed, path="https://s.test/p", access_url="https://cdn.test/a"
    )
    assert with_access.register_path == "https://cdn.test/a"
    other_spelling = msgspec.convert({"presignedUrl": signed}, PresignedUpload)
    assert other_spelling.pre_signed_url == signed
    assert "presignedUrl" not in msgspec.to_builtins(other_spelling)


def test_a_pre_signed_upload_never_shows_its_signature() -> None:
    upload = PresignedUpload(
        pre_signed_url="https://s.test/a.jpg?X-Amz-Signature=s3cr3t", access_url="https://c/a"
    )
    shown = repr(upload)
    assert "s3cr3t" not in shown
    assert shown == "PresignedUpload(pre_signed_url='https://s.test/a.jpg', access_url='https://c/a')"
    assert "s3cr3t" in upload.pre_signed_url


def test_the_expiry_is_read_off_a_signed_url_when_the_answer_does_not_give_it() -> None:
    at = datetime(2024, 3, 29, 11, 5, 45, tzinfo=timezone.utc)
    assert expiry_of("https://s.test/a?X-Amz-Date=20240329T100545Z&X-Amz-Expires=3600") == at
    assert expiry_of("https://s.test/a?X-Goog-Date=20240329T100545Z&X-Goog-Expires=3600") == at
    assert expiry_of(f"https://s.test/a?Expires={int(at.timestamp())}&Signature=x") == at
    assert expiry_of("https://s.test/a?X-Amz-Date=yesterday&X-Amz-Expires=3600") is None
    assert expiry_of("https://s.test/a?Expires=99999999999999999999") is None
    assert expiry_of("https://s.test/a") is None


@pytest.mark.parametrize(
    "query",
    [
        "Expires=1&Size=9&Signature=abc",
        "a=1&a=2&&b&c=&=d&e=f=g",
        "X-Amz-Date=20240329T100545Z&X-Amz-Expires=3600&X-Amz-Signature=ab%2Fcd",
        "n+a=b+c&x=%41",
        "",
    ],
)
def test_the_query_of_a_signed_url_reads_as_parse_qsl_reads_it(query: str) -> None:
    assert _query(query) == dict(parse_qsl(query))
    given = datetime(2030, 1, 1, tzinfo=timezone.utc)
    answer = {"preSignedUrl": "https://s.test/a?Expires=1", "expiresAt": "2030-01-01T00:00:00Z"}
    assert msgspec.convert(answer, PresignedUpload).expires_at == given
