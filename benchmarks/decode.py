"""Decode one 100-item page envelope three ways and say how much faster our typed decoder is.

The pipeline's decoder (``basicai_async._http._decoder(Page[DataItem])``: msgspec
straight into the tolerant Structs) against ``json.loads`` plus a pydantic v2
model of the same shapes and the same tolerance, and against plain
``json.loads`` (untyped dicts). Best of several repeats. Both forms the server
may send are measured: the guide's (``itemType``-style names, ``mimeType``) and
the variant one (Xtreme1's: nulls written out, files as ``{id, name, path,
type, size, url, ...}``, ``status``/``annotationStatus``, ``total`` and
``pageNo`` on the page).

Run: ``python benchmarks/decode.py``. The last line is one JSON object:
``{"benchmark": "decode", "vs_pydantic": X, "vs_json": Y, "variant_vs_pydantic": X2,
"variant_vs_json": Y2, ...}``, each being how many times faster the typed decoder
is (targets: X >= 3 and Y >= 1.5, in both forms).
"""

from __future__ import annotations

import json
import sys
import timeit
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from basicai_async._http import _decoder
from basicai_async.models import DataItem, Page

__all__ = ["main"]

ITEMS = 100
NUMBER = 200
REPEAT = 9


def _envelope(records: list[dict[str, Any]], variant: bool) -> bytes:
    if variant:
        data = {"pageNo": 1, "pageSize": len(records), "total": 1234, "list": records}
        body: dict[str, Any] = {"code": "ok", "message": None, "data": data}
    else:
        body = {"code": "OK", "message": "", "data": {"total": 1234, "list": records}}
    return json.dumps(body, separators=(",", ":")).encode()


def make_payload(items: int = ITEMS) -> bytes:
    """A page envelope like ``/dataset/listItem`` returns: data items with a nested file list."""
    records = [
        {
            "id": 10_000 + i,
            "name": f"f{i:04d}.jpg",
            "type": "IMAGE",
            "files": [
                {
                    "path": f"https://s.example.test/f{i:04d}.jpg",
                    "size": 181_000 + i,
                    "mimeType": "image/jpeg",
                }
            ],
            "createdAt": "2024-03-29T10:05:45Z",
        }
        for i in range(items)
    ]
    return _envelope(records, variant=False)


def make_variant_payload(items: int = ITEMS) -> bytes:
    """The same page in the variant form (API.md, "Variants the real server may send")."""
    records = [
        {
            "id": 10_000 + i,
            "datasetId": 7,
            "name": f"f{i:04d}.jpg",
            "type": "SINGLE_DATA",
            "parentId": None,
            "status": "VALID",
            "annotationStatus": "NOT_ANNOTATED",
            "splitType": None,
            "files": [
                {
                    "id": 50_000 + i,
                    "name": f"f{i:04d}.jpg",
                    "originalName": f"f{i:04d}.jpg",
                    "path": f"https://s.example.test/f{i:04d}.jpg",
                    "type": "image/jpeg",
                    "size": 181_000 + i,
                    "url": f"https://cdn.example.test/f{i:04d}.jpg",
                    "extraInfo": None,
                }
            ],
            "createdAt": "2024-03-29T10:05:45.000Z",
            "updatedAt": None,
        }
        for i in range(items)
    ]
    return _envelope(records, variant=True)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class DataFileP(_Camel):
    """pydantic twin of ``DataFile`` (MIME type from ``type`` when ``mimeType`` is absent)."""

    path: str | None = None
    size: int | None = None
    mime_type: str | None = None
    device_name: str | None = None
    id: int | str | None = None
    name: str | None = None
    original_name: str | None = None
    type: str | None = None
    url: str | None = None
    filename: str | None = None
    zip_path: str | None = None
    width: int | None = None
    height: int | None = None
    extra_info: Any = None

    def model_post_init(self, context: Any, /) -> None:
        if self.mime_type is None:
            self.mime_type = self.type


class DataItemP(_Camel):
    """pydantic twin of ``DataItem`` (a null file list reads as empty)."""

    id: int
    name: str | None = None
    type: str | None = None
    dataset_id: int | None = None
    parent_id: int | None = None
    files: list[DataFileP] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None
    annotation_status: str | None = None
    split_type: str | None = None

    def model_post_init(self, context: Any, /) -> None:
        if self.files is None:
            self.files = []


class PageP(BaseModel):
    """pydantic twin of ``Page[DataItem]``."""

    items: list[DataItemP] | None = Field(default=None, alias="list")
    total: int | None = None

    def model_post_init(self, context: Any, /) -> None:
        if self.items is None:
            self.items = []


class EnvelopeP(BaseModel):
    """pydantic twin of ``Envelope[Page[DataItem]]``."""

    code: str
    message: str | None = None
    data: PageP | None = None


def best_us(funcs: dict[str, Any]) -> dict[str, float]:
    """Best time of one call of each function in microseconds, over ``REPEAT`` rounds of ``NUMBER`` calls.

    The rounds interleave the functions, so that a load change on a shared
    machine hits all of them alike and their ratios stay meaningful.
    """
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(REPEAT):
        for name, func in funcs.items():
            best[name] = min(best[name], timeit.timeit(func, number=NUMBER) / NUMBER * 1e6)
    return best


def _check_agree(raw: bytes) -> None:
    ours = _decoder(Page[DataItem]).decode(raw).data
    theirs = EnvelopeP.model_validate(json.loads(raw)).data
    if ours is None or theirs is None or theirs.items is None:
        raise SystemExit("a decoder returned no data")
    first, twin = ours.items[7], theirs.items[7]
    if (
        len(ours.items) != len(theirs.items)
        or len(ours.items) != ITEMS
        or not first.files
        or not twin.files
        or first.files[0].path != twin.files[0].path
        or (first.files[0].mime_type, twin.files[0].mime_type) != ("image/jpeg", "image/jpeg")
        or first.created_at != twin.created_at
    ):
        raise SystemExit("the typed and pydantic decoders disagree")


def measure(raw: bytes) -> dict[str, float]:
    """The three decoders' best times on ``raw``, after checking the typed and pydantic ones agree."""
    _check_agree(raw)
    decoder = _decoder(Page[DataItem])
    return best_us(
        {
            "typed": lambda: decoder.decode(raw),
            "pydantic": lambda: EnvelopeP.model_validate(json.loads(raw)),
            "json": lambda: json.loads(raw),
        }
    )


def main() -> int:
    """Time both forms, print the summary line last."""
    result: dict[str, Any] = {"benchmark": "decode"}
    for form, raw in (("", make_payload()), ("variant_", make_variant_payload())):
        t = measure(raw)
        label = form.rstrip("_") or "main"
        print(f"{label} form: {len(raw)} bytes, {ITEMS} items; best of {REPEAT} x {NUMBER} calls")
        print(f"  msgspec typed decoder      {t['typed']:8.1f} us")
        print(f"  json.loads + pydantic v2   {t['pydantic']:8.1f} us")
        print(f"  json.loads (untyped dicts) {t['json']:8.1f} us")
        result.update(
            {
                f"{form}vs_pydantic": round(t["pydantic"] / t["typed"], 2),
                f"{form}vs_json": round(t["json"] / t["typed"], 2),
                f"{form}typed_us": round(t["typed"], 1),
                f"{form}pydantic_us": round(t["pydantic"], 1),
                f"{form}json_us": round(t["json"], 1),
                f"{form}payload_bytes": len(raw),
            }
        )
    result["items"] = ITEMS
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
