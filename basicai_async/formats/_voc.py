"""Pascal VOC: one ``Annotations/<image stem>.xml`` per image, boxes in 1-based pixel indexes.

VOC counts pixels from 1 and its ``xmax``/``ymax`` are the last pixel inside
the box, so a BasicAI box with edges ``x`` .. ``x + width`` becomes ``xmin =
round(x) + 1``, ``xmax = round(x + width)`` (and the same for y): read back as
``x = xmin - 1``, ``width = xmax - xmin + 1``, within half a pixel. A box cut
at the image's edge is marked ``truncated``. ``ImageSets/Main/default.txt``
lists the stems. VOC's XML holds boxes only: polygons are counted as skipped.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from .._exported import ExportedData
from ..geometry import Box2D
from ._base import Converter, Tally, stem_of

__all__ = ["VocConverter"]


def _child(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


class VocConverter(Converter):
    """Pascal VOC: ``Annotations/*.xml`` (boxes) and ``ImageSets/Main/default.txt``."""

    name = "voc"
    description = "Pascal VOC XML, one file per image (boxes)"
    needs_image_sizes = True
    planar = (Box2D,)

    def __init__(self, out: Any, tally: Tally) -> None:
        super().__init__(out, tally)
        self._annotations = self.directory / "Annotations"
        sets = self.directory / "ImageSets" / "Main"
        sets.mkdir(parents=True, exist_ok=True)
        self._list = (sets / "default.txt").open("w", encoding="utf-8")

    def add(self, data: ExportedData) -> None:
        for placed in self.place(data):
            root = ET.Element("annotation")
            _child(root, "folder", "images")
            _child(root, "filename", placed.image.name or "")
            source = _child(root, "source")
            _child(source, "database", "BasicAI")
            _child(source, "basicai_data_id", data.id)
            size = _child(root, "size")
            _child(size, "width", placed.width)
            _child(size, "height", placed.height)
            _child(size, "depth", 3)
            _child(root, "segmented", 0)
            for instance, shape, name in placed.objects:
                assert isinstance(shape, Box2D)
                obj = _child(root, "object")
                _child(obj, "name", name)
                _child(obj, "pose", "Unspecified")
                edge = shape.x <= 0 or shape.y <= 0 or shape.x + shape.width >= placed.width
                edge = edge or shape.y + shape.height >= placed.height
                _child(obj, "truncated", int(edge))
                _child(obj, "difficult", 0)
                xmin, ymin = round(shape.x) + 1, round(shape.y) + 1
                box = _child(obj, "bndbox")
                _child(box, "xmin", xmin)
                _child(box, "ymin", ymin)
                _child(box, "xmax", max(xmin, round(shape.x + shape.width)))
                _child(box, "ymax", max(ymin, round(shape.y + shape.height)))
                if instance.model_confidence is not None:
                    _child(obj, "score", instance.model_confidence)
                self.tally.objects += 1
            ET.indent(root)
            stem = stem_of(data, placed.image)
            if placed.view:
                stem = f"{stem}-camera{placed.view}"
            text = ET.tostring(root, encoding="unicode") + "\n"
            name = self.write_new(self._annotations, stem, ".xml", text, data_id=data.id)
            self._list.write(name.rsplit(".", 1)[0] + "\n")

    def abort(self) -> None:
        self._list.close()

    def close(self) -> None:
        self._list.close()
        listed = self.directory / "ImageSets" / "Main" / "default.txt"
        self.bytes_written += listed.stat().st_size
        self.files_written += 1
