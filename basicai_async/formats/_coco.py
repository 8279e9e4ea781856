"""COCO object detection: one JSON file for the dataset, written as a stream.

Images and annotations go to two temporary files as they come; on close the
final ``annotations.json`` is their concatenation between the ``info``, the
brackets and the categories, copied in blocks. Memory holds one item and the
category list, whatever the dataset's size.

Mapping: every image file of a data item is an ``images`` entry (``id`` counted
from 1, ``file_name`` the file's name, ``width``/``height``, and
``basicai_data_id``/``basicai_view``); a ``RECTANGLE`` is ``bbox`` ``[x, y, w,
h]`` (pixel edges, as BasicAI's points) with ``area`` ``w*h`` and no
segmentation; a ``POLYGON`` is ``segmentation`` ``[[x1, y1, ...]]`` with its
extent as ``bbox`` and its shoelace area; categories are the class names, ids
from 1 in the order first seen; a model's confidence is ``score``.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import IO, Any

import msgspec

from .._exported import ExportedData
from ..geometry import Box2D, Polygon
from ._base import Converter, Tally

__all__ = ["CocoConverter"]

_FILE = "annotations.json"


# Structs, not dicts: an export writes an annotation per object, and msgspec encodes these fastest.
class _Image(msgspec.Struct):
    id: int
    file_name: str | None
    width: int
    height: int
    basicai_data_id: int
    basicai_view: int


class _Annotation(msgspec.Struct, omit_defaults=True):
    id: int
    image_id: int
    category_id: int
    iscrowd: int
    bbox: list[float]
    area: float
    segmentation: list[list[float]]
    score: float | None = None
    basicai_track_id: str | None = None


class CocoConverter(Converter):
    """COCO: ``annotations.json`` with images, annotations (boxes, polygons) and categories."""

    name = "coco"
    description = "COCO detection JSON (boxes and polygons), one file for the dataset"
    needs_image_sizes = True
    planar = (Box2D, Polygon)

    def __init__(self, out: Any, tally: Tally) -> None:
        super().__init__(out, tally)
        self._encoder = msgspec.json.Encoder()
        # Open until close() copies them out (a context manager cannot span add() calls).
        self._images: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._annotations: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._categories: dict[str, int] = {}
        self._image_id = 0
        self._annotation_id = 0

    def _append(self, stream: IO[bytes], first: bool, record: msgspec.Struct) -> None:
        body = self._encoder.encode(record)
        if not first:
            stream.write(b",\n")
            self.bytes_written += 2
        stream.write(body)
        # Counted as it goes (progress events follow it); close() sets the file's true size.
        self.bytes_written += len(body)

    def add(self, data: ExportedData) -> None:
        for placed in self.place(data):
            self._image_id += 1
            image = _Image(
                self._image_id, placed.image.name, placed.width, placed.height, data.id, placed.view
            )
            self._append(self._images, self._image_id == 1, image)
            for instance, shape, name in placed.objects:
                category = self._categories.setdefault(name, len(self._categories) + 1)
                self._annotation_id += 1
                if isinstance(shape, Box2D):
                    box, segmentation = shape, []
                else:
                    box, segmentation = shape.bbox, [[c for point in shape.points for c in point]]
                record = _Annotation(
                    self._annotation_id,
                    self._image_id,
                    category,
                    0,
                    [box.x, box.y, box.width, box.height],
                    shape.area,
                    segmentation,
                    instance.model_confidence,
                    instance.track_id,
                )
                self._append(self._annotations, self._annotation_id == 1, record)
                self.tally.objects += 1

    def abort(self) -> None:
        self._images.close()
        self._annotations.close()

    def close(self) -> None:
        categories = [
            {"id": cid, "name": name, "supercategory": ""} for name, cid in self._categories.items()
        ]
        # No date: the same dataset exports to the same bytes.
        info = {"description": "exported from BasicAI by basicai-async"}
        path = self.directory / _FILE
        with path.open("wb") as out:
            out.write(b'{"info": ' + self._encoder.encode(info) + b', "licenses": [],\n"images": [\n')
            for part, tail in ((self._images, b'\n],\n"annotations": [\n'), (self._annotations, b"\n],\n")):
                part.seek(0)
                shutil.copyfileobj(part, out, 1024 * 1024)
                part.close()
                out.write(tail)
            out.write(b'"categories": ' + self._encoder.encode(categories) + b"}\n")
        self.bytes_written = path.stat().st_size
        self.files_written = 1
