"""Data items (one frame) and the files (one per sensor) they are made of."""

from __future__ import annotations

from datetime import datetime

from ._base import Model, RequestModel

__all__ = ["DataItem", "FileRef", "NewData"]


class FileRef(Model):
    """A file in object storage, as registered with a data item.

    ``path`` is the object URL of the upload (without its signature query);
    ``size`` in bytes; ``mime_type`` such as ``image/jpeg``.
    """

    path: str
    size: int
    mime_type: str
    device_name: str | None = None


class NewData(RequestModel):
    """Body of ``/dataset/addData`` (and one element of ``batchAddData``)."""

    name: str
    files: list[FileRef]
    batch_id: int | None = None
    scene_id: int | None = None


class DataItem(Model):
    """A data item as the API returns it."""

    id: int
    name: str
    type: str | None = None
    dataset_id: int | None = None
    parent_id: int | None = None
    files: list[FileRef] | None = None
    created_at: datetime | None = None
