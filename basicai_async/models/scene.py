"""Scenes (continuous frames) and batches (groups of items, not nested)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from ._base import Model, NullList, RequestModel, as_list
from .data import DataItem, NewData

__all__ = ["Batch", "NewBatch", "NewScene", "Scene"]


class Scene(Model):
    """A scene as the API returns it; ``frames`` is ``[]`` unless the server includes them."""

    id: int
    name: str | None = None
    batch_id: int | None = None
    dataset_id: int | None = None
    frames: NullList[DataItem] = msgspec.field(default_factory=list)
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        self.frames = as_list(self.frames)


class NewScene(RequestModel):
    """Body of ``/dataset/addScene``: a scene and, optionally, its frames."""

    name: str
    batch_id: int | None = None
    frames: list[NewData] | None = None


class Batch(Model):
    """A batch as the API returns it."""

    id: int
    name: str | None = None
    dataset_id: int | None = None
    created_at: datetime | None = None


class NewBatch(RequestModel):
    """Body of ``/dataset/addBatch``: batches hold no nested items at creation."""

    name: str
