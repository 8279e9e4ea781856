"""The synthetic annotation results, as plain records a dialect then writes out.

Deterministic functions of the data item's id, the source and the dataset
type, so tests can predict them and repeated calls return the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._state import DatasetRec, ItemRec, SourceRec

__all__ = ["CANVAS", "InstanceRec", "ResultRec", "results_for"]

_CLASSES = ("Car", "Pedestrian", "Cyclist", "Truck")


@dataclass(frozen=True, slots=True)
class InstanceRec:
    """One annotated object, before a dialect names its fields."""

    id: str
    shape: str
    track_id: str
    track_name: str
    class_id: int
    class_name: str
    occluded: bool
    contour: dict[str, Any]
    confidence: float


@dataclass(frozen=True, slots=True)
class ResultRec:
    """The results of one data item from one source."""

    data: ItemRec
    source: SourceRec
    weather: str
    instances: list[InstanceRec]


# Where 2D objects are drawn when a data item has no image whose size the store could read.
CANVAS = (640, 480)


def _contour(dataset_type: str, seed: int, k: int, canvas: tuple[int, int]) -> tuple[str, dict[str, Any]]:
    """A deterministic object of data seed ``seed``: 2D ones lie inside ``canvas`` (width, height)."""
    if dataset_type in ("IMAGE", "TEXT"):
        width, height = canvas
        w = max(1, min(16 + seed % 64, width // 2))
        h = max(1, min(12 + (seed * 3) % 48, height // 2))
        x = (10 + seed % 500) % (width - w + 1)
        y = (20 + (seed * 7) % 400) % (height - h + 1)
        if k == 2:
            # Every third object a polygon (a diamond inside the same box).
            diamond = [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)]
            return "POLYGON", {"points": [{"x": px, "y": py} for px, py in diamond]}
        points = [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]
        return "RECTANGLE", {"points": points}
    x, y = 10 + seed % 500, 20 + (seed * 7) % 400
    w, h = 16 + seed % 64, 12 + (seed * 3) % 48
    return "3D_BOX", {
        "center3D": {"x": x / 10, "y": y / 10, "z": 0.5},
        "size3D": {"x": w / 10, "y": h / 10, "z": 1.5},
        "rotation3D": {"x": 0, "y": 0, "z": (seed % 314) / 100},
    }


def results_for(ds: DatasetRec, data: ItemRec, source_id: int | None) -> list[ResultRec]:
    """The results of one data item: one per source, or only ``source_id``'s."""
    out = []
    for index, source in enumerate(ds.sources):
        if source_id is not None and source.id != source_id:
            continue
        instances = []
        for k in range(1 + (data.id + index) % 3):
            seed = data.id * 31 + k * 7 + index
            shape, contour = _contour(ds.type, seed, k, data.canvas() or CANVAS)
            class_index = seed % len(_CLASSES)
            instances.append(
                InstanceRec(
                    id=f"{data.id}-{source.id}-{k}",
                    shape=shape,
                    track_id=f"track-{data.parent_id}-{k}",
                    track_name=str(k + 1),
                    class_id=class_index + 1,
                    class_name=_CLASSES[class_index],
                    occluded=bool(seed % 2),
                    contour=contour,
                    confidence=round(0.5 + (seed % 50) / 100, 2),
                )
            )
        out.append(ResultRec(data, source, ("sunny", "rain")[data.id % 2], instances))
    return out
