"""Items: one level of a dataset's tree (data, scenes or batches) as listItem returns them."""

from __future__ import annotations

from datetime import datetime

from ._base import Model
from .data import FileRef

__all__ = ["Item", "ItemType"]


class ItemType:
    """Known ``itemType`` values (the field stays an open ``str``)."""

    DATA = "DATA"
    SCENE = "SCENE"
    BATCH = "BATCH"


class Item(Model):
    """An entry of ``/dataset/listItem``: ``item_type`` says which kind it is."""

    id: int
    name: str
    item_type: str
    parent_id: int | None = None
    files: list[FileRef] | None = None
    created_at: datetime | None = None
