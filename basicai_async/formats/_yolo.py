"""YOLO (Ultralytics) detection and segmentation labels, normalised, with ``data.yaml``.

One ``labels/<image stem>.txt`` per image (empty for an image without
objects: a negative): a ``RECTANGLE`` is ``class cx cy w h``, a ``POLYGON``
``class x1 y1 x2 y2 ...``, every coordinate divided by the image's width or
height (so 0..1, pixel edges). Class indexes count from 0 in the order the
names are first seen; ``data.yaml`` lists them (``names``, ``nc``) once the
export is done. ``sources.tsv`` maps each label file to its data item and
image, so images downloaded under their own names land beside their labels.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._exported import ExportedData
from ..geometry import Box2D, Polygon
from ._base import Converter, Tally, stem_of

__all__ = ["YoloConverter"]


def _n(value: float) -> str:
    return f"{value:.6f}"


class YoloConverter(Converter):
    """YOLO: ``labels/*.txt`` (``class cx cy w h`` boxes, ``class x y ...`` polygons) and ``data.yaml``."""

    name = "yolo"
    description = "YOLO labels (detection boxes, segmentation polygons), normalised, with data.yaml"
    needs_image_sizes = True
    planar = (Box2D, Polygon)

    def __init__(self, out: Any, tally: Tally) -> None:
        super().__init__(out, tally)
        self._classes: dict[str, int] = {}
        self._labels = self.directory / "labels"
        self._sources = (self.directory / "sources.tsv").open("w", encoding="utf-8")
        self._sources.write("label\tdata_id\tview\timage\n")

    def add(self, data: ExportedData) -> None:
        for placed in self.place(data):
            width, height = placed.width, placed.height
            lines = []
            for _, shape, name in placed.objects:
                index = self._classes.setdefault(name, len(self._classes))
                if isinstance(shape, Box2D):
                    cx, cy = shape.x + shape.width / 2, shape.y + shape.height / 2
                    fields = [
                        _n(cx / width),
                        _n(cy / height),
                        _n(shape.width / width),
                        _n(shape.height / height),
                    ]
                else:
                    fields = [
                        _n(c / (width, height)[k % 2])
                        for k, c in enumerate(c for p in shape.points for c in p)
                    ]
                lines.append(f"{index} {' '.join(fields)}\n")
                self.tally.objects += 1
            stem = stem_of(data, placed.image)
            if placed.view:
                stem = f"{stem}-camera{placed.view}"
            name = self.write_new(self._labels, stem, ".txt", "".join(lines), data_id=data.id)
            self._sources.write(f"{name}\t{data.id}\t{placed.view}\t{placed.image.name or ''}\n")

    def abort(self) -> None:
        self._sources.close()

    def close(self) -> None:
        self._sources.close()
        names = "".join(
            f"  {index}: {msgspec.json.encode(name).decode()}\n" for name, index in self._classes.items()
        )
        text = (
            "# Exported from BasicAI by basicai-async. Put each image in images/ under the name\n"
            "# of its label file (sources.tsv maps labels to data items and images).\n"
            "path: .\ntrain: images\nval: images\n"
            f"nc: {len(self._classes)}\nnames:{'' if names else ' {}'}\n{names}"
        )
        path = self.directory / "data.yaml"
        path.write_text(text, encoding="utf-8")
        self.bytes_written += len(text.encode()) + (self.directory / "sources.tsv").stat().st_size
        self.files_written += 2
