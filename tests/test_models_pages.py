"""A page of items as a listing reads it: one look per record in the guide's form, the tolerant
settling only for the records (and files) where a variant appears, and the same objects either way."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from basicai_async._http import _decoder, _decoder_for, decode_answer
from basicai_async.models import DataFile, Dataset, IdPage, Item, Page
from basicai_async.models import item as item_module
from basicai_async.models.data import settle_file

JPEG = {"path": "k/a.jpg", "size": 7, "mimeType": "image/jpeg"}
CREATED = "2026-12-07T02:32:26.005171Z"


def _answer(records: list[dict[str, Any]], **page: Any) -> bytes:
    return msgspec.json.encode({"code": "OK", "message": "", "data": {"list": records, **page}})


def _guide_form(n: int) -> list[dict[str, Any]]:
    """Records as the guide writes them (and the emulator answers): the fast path's shape."""
    kinds = ["DATA", "SCENE", "BATCH"]
    return [
        {"id": i, "name": f"d{i}", "itemType": kinds[i % 3], "files": [JPEG], "createdAt": CREATED}
        for i in range(1, n + 1)
    ]


def _read(raw: bytes, page_type: Any = Page[Item]) -> list[Item]:
    page = decode_answer(raw, page_type, "GET", "/dataset/listItem/1")
    assert isinstance(page, (Page, IdPage))
    return page.items


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the records and files that went through the tolerant settling."""
    counts = {"items": 0, "files": 0}
    settle_item = Item._settle

    def counted_item(self: Item, page: list[Any]) -> None:
        counts["items"] += 1
        settle_item(self, page)

    def counted_file(file: DataFile) -> None:
        counts["files"] += 1
        settle_file(file)

    monkeypatch.setattr(Item, "_settle", counted_item)
    monkeypatch.setattr(item_module, "settle_file", counted_file)
    return counts


@pytest.mark.parametrize("page_type", [Page[Item], IdPage[Item]])
def test_a_page_in_the_guides_form_is_read_without_settling_anything(
    settled: dict[str, int], page_type: Any
) -> None:
    items = _read(_answer(_guide_form(30)), page_type)
    assert settled == {"items": 0, "files": 0}
    when = datetime(2026, 12, 7, 2, 32, 26, 5171, tzinfo=timezone.utc)
    file = DataFile(path="k/a.jpg", size=7, mime_type="image/jpeg")
    kinds = ["DATA", "SCENE", "BATCH"]
    assert items == [
        Item(id=i, name=f"d{i}", item_type=kinds[i % 3], files=[file], created_at=when) for i in range(1, 31)
    ]


def test_only_the_records_and_files_with_a_variant_are_settled(settled: dict[str, int]) -> None:
    records = _guide_form(10)
    records[2] = {"id": 3, "type": "SINGLE_DATA", "files": [JPEG]}  # the kind in Xtreme1's field
    records[5] = {"id": 6, "itemType": "DATA", "files": None}  # a null list
    records[7] = {"id": 8, "itemType": "DATA", "files": [{"path": "k/b.png", "type": "image/png"}]}
    items = _read(_answer(records))
    assert settled == {"items": 2, "files": 1}
    assert (items[2].item_type, items[2].type, items[2].is_data) == ("DATA", "SINGLE_DATA", True)
    assert items[5].files == []
    assert items[7].files[0].mime_type == "image/png"
    # The records around them are read as the guide's form alone would be.
    guide = _read(_answer(_guide_form(10)))
    assert [items[i] for i in (0, 1, 3, 4, 6, 8, 9)] == [guide[i] for i in (0, 1, 3, 4, 6, 8, 9)]


# Each variant next to what its guide-form spelling reads as: the fallback gives the same objects.
VARIANTS = [
    pytest.param(
        {"id": 1, "type": "SINGLE_DATA", "files": [JPEG]},
        Item(id=1, item_type="DATA", type="SINGLE_DATA", files=[msgspec.convert(JPEG, DataFile)]),
        id="kind in type",
    ),
    pytest.param(
        {"id": 1, "itemType": "SCENE", "files": None},
        Item(id=1, item_type="SCENE", files=[]),
        id="null files",
    ),
    pytest.param({"id": 1, "itemType": "BATCH"}, Item(id=1, item_type="BATCH", files=[]), id="no files"),
    pytest.param(
        {"id": 1, "itemType": "FOLDER", "files": []},
        Item(id=1, item_type="FOLDER", files=[]),
        id="unknown kind kept",
    ),
    pytest.param(
        {"id": 1, "itemType": "DATA", "files": [{"path": "k/a.jpg", "type": "image/jpeg"}]},
        Item(
            id=1,
            item_type="DATA",
            files=[DataFile(path="k/a.jpg", mime_type="image/jpeg", type="image/jpeg")],
        ),
        id="mime type in type",
    ),
    pytest.param(
        {"id": 1, "itemType": "DATA", "files": [JPEG, {"path": "k/b.png", "type": "image/png"}]},
        Item(
            id=1,
            item_type="DATA",
            files=[
                msgspec.convert(JPEG, DataFile),
                DataFile(path="k/b.png", mime_type="image/png", type="image/png"),
            ],
        ),
        id="second of two files",
    ),
    pytest.param(
        {"id": 1, "itemType": "DATA", "files": [{**JPEG, "extraInfo": {"width": 640, "height": "480"}}]},
        Item(
            id=1,
            item_type="DATA",
            files=[
                DataFile(
                    path="k/a.jpg",
                    size=7,
                    mime_type="image/jpeg",
                    width=640,
                    height=480,
                    extra_info={"width": 640, "height": "480"},
                )
            ],
        ),
        id="sizes in extraInfo",
    ),
    pytest.param(
        {
            "id": 1,
            "itemType": "DATA",
            "content": [
                {
                    "name": "camera_0",
                    "type": "directory",
                    "files": [{"type": "file", "file": {"id": 5, "path": "k/a.jpg", "type": "image/jpeg"}}],
                }
            ],
        },
        Item(
            id=1,
            item_type="DATA",
            files=[
                DataFile(
                    id=5, path="k/a.jpg", type="image/jpeg", mime_type="image/jpeg", device_name="camera_0"
                )
            ],
        ),
        id="content tree",
    ),
]


@pytest.mark.parametrize(("wire", "expected"), VARIANTS)
@pytest.mark.parametrize("page_type", [Page[Item], IdPage[Item]])
def test_a_variant_record_reads_as_its_guide_form_wherever_it_sits(
    wire: dict[str, Any], expected: Item, page_type: Any
) -> None:
    guide = _guide_form(3)
    for place in range(3):
        records = [*guide[:place], wire, *guide[place:]]
        items = _read(_answer(records), page_type)
        assert items[place] == expected
        assert items[:place] + items[place + 1 :] == _read(_answer(guide), page_type)


def test_a_null_or_absent_list_reads_as_an_empty_page() -> None:
    assert _read(_answer([])) == []
    raw = msgspec.json.encode({"code": "OK", "data": {"list": None, "total": 0}})
    assert _read(raw) == []
    assert _read(b'{"code": "OK", "data": {}}') == []


def test_unknown_fields_of_a_page_do_not_stop_the_fast_path(settled: dict[str, int]) -> None:
    records = [{**r, "newField": {"nested": [1, None]}} for r in _guide_form(4)]
    files = [{**JPEG, "checksum": None}]
    records[0]["files"] = files
    assert _read(_answer(records, total=4, newPageField=None)) == _read(_answer(_guide_form(4)))
    assert settled == {"items": 0, "files": 0}


def test_one_decoder_per_response_type_object() -> None:
    page = Page[Dataset]
    assert _decoder_for(page) is _decoder_for(page) is _decoder(page)
    assert _decoder_for(Dataset) is _decoder(Dataset)
    assert _decoder_for(page) is not _decoder_for(Dataset)
