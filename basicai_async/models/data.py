"""Data items (one frame) and the files (one per sensor) they are made of.

Files have two shapes: :class:`FileRef` is what the SDK *sends* to register a
file (strict: path, size and MIME type are required), :class:`DataFile` what the
server *returns* (every field optional; the MIME type from ``mimeType`` or, in
the Xtreme1 form ``{id, name, path, type, size, url}``, from ``type``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model, NullList, RequestModel

__all__ = ["DataFile", "DataItem", "FileRef", "NewData"]


class FileRef(Model):
    """A file in object storage, to register with a data item (the addData body's ``files``).

    ``path`` is where storage says the upload lives (``PresignedUpload.register_path``);
    ``size`` in bytes; ``mime_type`` such as ``image/jpeg``.
    """

    path: str
    size: int
    mime_type: str
    device_name: str | None = None


class DataFile(Model):
    """A file of a data item as the API returns it.

    ``mime_type`` is filled from ``type`` when the server sends the MIME type
    there; ``url`` is where the server says the file can be read; ``filename``,
    ``zip_path``, ``width`` and ``height`` appear in export-style answers.
    """

    path: str | None = None
    size: int | None = None
    mime_type: str | None = None
    device_name: str | None = None
    id: int | str | None = None
    name: str | None = None
    original_name: str | None = None
    type: str | None = None
    url: str | None = None
    filename: str | None = None
    zip_path: str | None = None
    width: int | None = None
    height: int | None = None
    extra_info: Any = None

    def __post_init__(self) -> None:
        if self.mime_type is None:
            self.mime_type = self.type


class NewData(RequestModel):
    """Body of ``/dataset/addData`` (and one element of ``batchAddData``)."""

    name: str
    files: list[FileRef]
    batch_id: int | None = None
    scene_id: int | None = None


class DataItem(Model):
    """A data item as the API returns it.

    ``annotation_status`` is ``ANNOTATED``, ``NOT_ANNOTATED`` or ``INVALID`` where
    the server says; ``files`` is ``[]`` when it sends none.
    """

    id: int
    name: str | None = None
    type: str | None = None
    dataset_id: int | None = None
    parent_id: int | None = None
    files: NullList[DataFile] = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None
    annotation_status: str | None = None
    split_type: str | None = None

    def __post_init__(self) -> None:
        # Inline, not as_list(): a page runs this once per item, and a call costs a tenth of a decode.
        if self.files is None:
            self.files = []  # type: ignore[unreachable]  # NullList: None until this line
