"""Decode one 100-item page envelope three ways and say how much faster our typed decoder is.

The pipeline's decoder (``basicai_async._http._decoder(Page[DataItem])``: msgspec
straight into Structs) against ``json.loads`` plus a pydantic v2 model of the same
shapes, and against plain ``json.loads`` (untyped dicts). Best of several repeats.

Run: ``python benchmarks/decode.py``. The last line is one JSON object:
``{"benchmark": "decode", "vs_pydantic": X, "vs_json": Y, ...}``, X and Y being
how many times faster the typed decoder is.
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
    body = {"code": "OK", "message": "", "data": {"total": 1234, "list": records}}
    return json.dumps(body, separators=(",", ":")).encode()


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class FileRefP(_Camel):
    """pydantic twin of ``FileRef``."""

    path: str
    size: int
    mime_type: str
    device_name: str | None = None


class DataItemP(_Camel):
    """pydantic twin of ``DataItem``."""

    id: int
    name: str
    type: str | None = None
    dataset_id: int | None = None
    parent_id: int | None = None
    files: list[FileRefP] | None = None
    created_at: datetime | None = None


class PageP(BaseModel):
    """pydantic twin of ``Page[DataItem]``."""

    items: list[DataItemP] = Field(default_factory=list, alias="list")
    total: int | None = None


class EnvelopeP(BaseModel):
    """pydantic twin of ``Envelope[Page[DataItem]]``."""

    code: str
    message: str | None = None
    data: PageP | None = None


def best_us(func: Any) -> float:
    """Best time of one call in microseconds, over ``REPEAT`` runs of ``NUMBER`` calls."""
    return min(timeit.repeat(func, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6


def main() -> int:
    """Check the three decoders agree, time them, print the summary line last."""
    raw = make_payload()
    decoder = _decoder(Page[DataItem])

    ours = decoder.decode(raw).data
    theirs = EnvelopeP.model_validate(json.loads(raw)).data
    if ours is None or theirs is None:
        raise SystemExit("a decoder returned no data")
    first, twin = ours.items[7], theirs.items[7]
    if (
        len(ours.items) != len(theirs.items)
        or len(ours.items) != ITEMS
        or first.files is None
        or twin.files is None
        or first.files[0].path != twin.files[0].path
        or first.created_at != twin.created_at
    ):
        raise SystemExit("the typed and pydantic decoders disagree")

    typed = best_us(lambda: decoder.decode(raw))
    pydantic = best_us(lambda: EnvelopeP.model_validate(json.loads(raw)))
    plain = best_us(lambda: json.loads(raw))

    print(f"payload: {len(raw)} bytes, {ITEMS} items; best of {REPEAT} x {NUMBER} calls")
    print(f"  msgspec typed decoder      {typed:8.1f} us")
    print(f"  json.loads + pydantic v2   {pydantic:8.1f} us")
    print(f"  json.loads (untyped dicts) {plain:8.1f} us")
    result = {
        "benchmark": "decode",
        "vs_pydantic": round(pydantic / typed, 2),
        "vs_json": round(plain / typed, 2),
        "typed_us": round(typed, 1),
        "pydantic_us": round(pydantic, 1),
        "json_us": round(plain, 1),
        "payload_bytes": len(raw),
        "items": ITEMS,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
