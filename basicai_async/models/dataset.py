"""Datasets: the top of BasicAI's hierarchy (Dataset -> Batch -> Scene -> Data -> File)."""

from __future__ import annotations

from datetime import datetime

from ._base import Model, RequestModel

__all__ = ["Dataset", "DatasetType", "DatasetUpdate", "NewDataset"]


class DatasetType:
    """Known dataset types. The field stays an open ``str``: the server may add types."""

    IMAGE = "IMAGE"
    LIDAR_BASIC = "LIDAR_BASIC"
    LIDAR_FUSION = "LIDAR_FUSION"
    AV = "AV"
    TEXT = "TEXT"


class Dataset(Model):
    """A dataset as the API returns it; the counts only where the server sends them."""

    id: int
    name: str | None = None
    type: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    item_count: int | None = None
    annotated_count: int | None = None
    not_annotated_count: int | None = None
    invalid_count: int | None = None
    created_by: int | str | None = None


class NewDataset(RequestModel):
    """Body of ``/dataset/create`` and ``/dataset/replace``."""

    name: str
    type: str
    description: str | None = None


class DatasetUpdate(RequestModel):
    """Body of ``/dataset/update``: only fields that are set are sent and changed."""

    name: str | None = None
    type: str | None = None
    description: str | None = None
