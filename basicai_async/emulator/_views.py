"""Records to wire shapes: the SDK's own msgspec models, so both sides agree by construction.

Also the synthetic annotation results: deterministic functions of the data
item's id, the source and the dataset type, so tests can predict them and
repeated calls return the same thing.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..models import AnnotationResult, Batch, DataItem, Dataset, Instance, Item, Scene
from ._state import TOP, DatasetRec, ItemRec

__all__ = ["batch_view", "data_view", "dataset_view", "item_view", "results_for", "scene_view"]

_CLASSES = ("Car", "Pedestrian", "Cyclist", "Truck")
_encoder = msgspec.json.Encoder()


def dataset_view(rec: DatasetRec) -> Dataset:
    """The Dataset shape."""
    return Dataset(
        id=rec.id,
        name=rec.name,
        type=rec.type,
        description=rec.description,
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        item_count=rec.data_count,
    )


def _parent(rec: ItemRec) -> int | None:
    return None if rec.parent_id == TOP else rec.parent_id


def data_view(rec: ItemRec) -> DataItem:
    """The DataItem shape."""
    return DataItem(
        id=rec.id,
        name=rec.name,
        type="SINGLE_DATA",
        dataset_id=rec.dataset_id,
        parent_id=_parent(rec),
        files=rec.files,
        created_at=rec.created_at,
    )


def scene_view(rec: ItemRec, frames: list[ItemRec]) -> Scene:
    """The Scene shape with its frames."""
    return Scene(
        id=rec.id,
        name=rec.name,
        batch_id=rec.batch_id,
        dataset_id=rec.dataset_id,
        frames=[data_view(frame) for frame in frames],
        created_at=rec.created_at,
    )


def batch_view(rec: ItemRec) -> Batch:
    """The Batch shape."""
    return Batch(id=rec.id, name=rec.name, dataset_id=rec.dataset_id, created_at=rec.created_at)


def item_view(rec: ItemRec) -> msgspec.Raw:
    """The Item shape of listItem (files only for data), encoded once per item."""
    if rec.wire is None:
        item = Item(
            id=rec.id,
            name=rec.name,
            item_type=rec.kind,
            parent_id=_parent(rec),
            files=rec.files if rec.kind == "DATA" else None,
            created_at=rec.created_at,
        )
        rec.wire = msgspec.Raw(_encoder.encode(item))
    return rec.wire


def _contour(dataset_type: str, seed: int) -> tuple[str, dict[str, Any]]:
    x, y = 10 + seed % 500, 20 + (seed * 7) % 400
    w, h = 16 + seed % 64, 12 + (seed * 3) % 48
    if dataset_type in ("IMAGE", "TEXT"):
        points = [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]
        return "RECTANGLE", {"points": points}
    return "3D_BOX", {
        "center3D": {"x": x / 10, "y": y / 10, "z": 0.5},
        "size3D": {"x": w / 10, "y": h / 10, "z": 1.5},
        "rotation3D": {"x": 0, "y": 0, "z": (seed % 314) / 100},
    }


def results_for(ds: DatasetRec, data: ItemRec, source_id: int | None) -> list[AnnotationResult]:
    """The results of one data item: one per source, or only ``source_id``'s."""
    out = []
    for index, source in enumerate(ds.sources):
        if source_id is not None and source.id != source_id:
            continue
        instances = []
        for k in range(1 + (data.id + index) % 3):
            seed = data.id * 31 + k * 7 + index
            shape, contour = _contour(ds.type, seed)
            class_id = seed % len(_CLASSES)
            instances.append(
                Instance(
                    id=f"{data.id}-{source.id}-{k}",
                    type=shape,
                    track_id=f"track-{data.parent_id}-{k}",
                    track_name=str(k + 1),
                    class_id=class_id + 1,
                    class_name=_CLASSES[class_id],
                    class_values=[{"id": "occluded", "value": bool(seed % 2)}],
                    contour=contour,
                )
            )
        out.append(
            AnnotationResult(
                data_id=data.id,
                source_id=source.id,
                source_type=source.type,
                source_name=source.name,
                version=1,
                validity="VALID",
                classification_values=[{"id": "weather", "value": ("sunny", "rain")[data.id % 2]}],
                instances=instances,
            )
        )
    return out
