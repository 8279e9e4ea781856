"""Training formats: one small converter per format behind one interface (:class:`Converter`).

``export_results(client, dataset_id, out, format="coco")`` (and the CLI's
``basicai-async export ID --format coco -o DIR``) streams a dataset through
one of these. The formats, by name:

- ``jsonl``: the results as the API sends them, a line each, with their data
  item's name and files (the default; ``out`` is a file or a binary stream);
- ``coco``: COCO detection JSON (boxes and polygons), one file;
- ``yolo``: YOLO labels (boxes, polygons), normalised, and ``data.yaml``;
- ``voc``: Pascal VOC XML, one file per image;
- ``pcd-boxes``: LiDAR boxes, ``x y z dx dy dz yaw class`` (OpenPCDet's custom dataset);
- ``kitti``: KITTI ``label_2`` and ``calib`` when the camera configuration is present.

docs/formats.md's mapping table says which BasicAI field goes where.
"""

from __future__ import annotations

from ._base import NAMED, Converter, SkippedObject, Tally
from ._coco import CocoConverter
from ._jsonl import JsonLinesConverter
from ._lidar import KittiConverter, PcdBoxesConverter
from ._voc import VocConverter
from ._yolo import YoloConverter

__all__ = [
    "FORMATS",
    "NAMED",
    "CocoConverter",
    "Converter",
    "JsonLinesConverter",
    "KittiConverter",
    "PcdBoxesConverter",
    "SkippedObject",
    "Tally",
    "VocConverter",
    "YoloConverter",
    "converter_named",
]

FORMATS: dict[str, type[Converter]] = {
    converter.name: converter
    for converter in (
        JsonLinesConverter,
        CocoConverter,
        YoloConverter,
        VocConverter,
        PcdBoxesConverter,
        KittiConverter,
    )
}
"""The converters by format name, ``jsonl`` (the default) first."""


def converter_named(name: str) -> type[Converter]:
    """The converter of format ``name``; ValueError naming the choices otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown export format {name!r}: choose one of {', '.join(FORMATS)}") from None
