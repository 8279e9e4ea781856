"""Data items (one frame) and the files (one per sensor) they are made of.

Files have two shapes: :class:`FileRef` is what the SDK *sends* to register a
file (strict: path, size and MIME type are required), :class:`DataFile` what the
server *returns* (every field optional).

A data item's files come in one of two forms, and read the same from both
(:func:`files_of`):

- a flat ``files`` list (the guide's form): ``{path, size, mimeType, deviceName}``;
- a ``content`` tree (BasicAI's platform): folders (``type: "directory"``, a
  ``name`` such as ``image_0`` or ``lidar_point_cloud_0``, and ``files``) whose
  leaves (``type: "file"``) hold the file under ``file`` as
  ``{id, name, path, type (the MIME type), size, url, extraInfo, ...}``. Folders
  nest to any depth; each leaf becomes one :class:`DataFile` whose
  ``device_name`` is the name of the folder holding it. Thumbnails, binary
  copies and render images hanging off a file are not files of the item and are
  left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model, NullList, RequestModel

__all__ = [
    "ContentNode",
    "DataFile",
    "DataItem",
    "FileRef",
    "NewData",
    "files_of",
    "settle_file",
    "settle_files",
]


class FileRef(Model):
    """A file in object storage, to register with a data item (the addData body's ``files``).

    ``path`` is where storage says the upload lives (``PresignedUpload.register_path``);
    ``size`` in bytes; ``mime_type`` such as ``image/jpeg``.
    """

    path: str
    size: int
    mime_type: str
    device_name: str | None = None


def _pixels(value: object) -> int | None:
    """A width or height from ``extraInfo``: an int, an integral float or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class DataFile(Model):
    """A file of a data item as the API returns it.

    ``mime_type`` is read from ``mimeType`` or, where the server writes the MIME
    type there, ``type``; ``width`` and ``height`` (pixels, images only) from
    those fields or from ``extraInfo`` (``{"width": 1920, "height": 1080}``),
    which is also kept whole. ``url`` is where the server says the file can be
    read (often a signed URL); ``device_name`` the sensor, or the folder the file
    sat in when the server sent a ``content`` tree. These are read as the item
    holding the file is decoded (:func:`settle_file`); a ``DataFile`` decoded on
    its own keeps the fields as sent.
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


def settle_file(file: DataFile) -> None:
    """Read ``file``'s MIME type from ``type`` and its size from ``extraInfo`` where the fields lack them.

    Run by the item that holds the file (:class:`DataItem`, ``Item``) as it is
    decoded: a file has no hook of its own, a page holds a hundred of them.
    """
    if file.mime_type is None:
        file.mime_type = file.type
    extra = file.extra_info
    if isinstance(extra, dict):
        if file.width is None:
            file.width = _pixels(extra.get("width"))
        if file.height is None:
            file.height = _pixels(extra.get("height"))


def settle_files(files: list[DataFile]) -> None:
    """:func:`settle_file` for each file that needs it (the guide's form needs nothing)."""
    for file in files:
        if file.mime_type is None or file.extra_info is not None:
            settle_file(file)


class ContentNode(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One node of a ``content`` tree: a folder (``files`` under it) or a leaf (its ``file``).

    Read only on the way to :attr:`DataItem.files`; users never see one.
    """

    name: str | None = None
    type: str | None = None
    files: list[ContentNode] | None = None
    file: DataFile | None = None
    file_id: int | str | None = None


def _leaves(nodes: list[ContentNode], folder: str | None, out: list[DataFile]) -> None:
    for node in nodes:
        if node.files is not None:
            # A folder (whatever its `type` says): its files sit under its name.
            _leaves(node.files, node.name if node.name is not None else folder, out)
            continue
        file = node.file
        if file is None:
            if node.file_id is None and (node.type or "").lower() != "file":
                continue  # an empty folder written without its `files`
            file = DataFile(id=node.file_id, name=node.name)
        if file.device_name is None:
            file.device_name = folder
        if file.name is None:
            file.name = node.name
        out.append(file)


def _key(file: DataFile) -> object:
    return file.id if file.id is not None else (file.path, file.name)


def files_of(files: list[DataFile] | None, content: list[ContentNode] | None) -> list[DataFile]:
    """A data item's files from its flat ``files`` list and/or its ``content`` tree, each file once.

    A file that appears in both (the same ``id``, or without one the same path
    and name) is kept once, as the flat list has it.
    """
    flat = [] if files is None else files
    if not content:
        return flat
    leaves: list[DataFile] = []
    _leaves(content, None, leaves)
    seen = {_key(f) for f in flat}
    for leaf in leaves:
        key = _key(leaf)
        if key not in seen:
            seen.add(key)
            flat.append(leaf)
    return flat


class NewData(RequestModel):
    """Body of ``/dataset/addData`` (and one element of ``batchAddData``)."""

    name: str
    files: list[FileRef]
    batch_id: int | None = None
    scene_id: int | None = None


class DataItem(Model):
    """A data item as the API returns it.

    ``annotation_status`` is ``ANNOTATED``, ``NOT_ANNOTATED`` or ``INVALID`` where
    the server says; ``files`` holds every file of the item, from a flat
    ``files`` list or a ``content`` tree (:func:`files_of`), and is ``[]`` when
    the server sends neither.
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
    # The platform's tree of folders: folded into `files` on decode, so it never reaches users.
    _content: list[ContentNode] | None = msgspec.field(default=None, name="content")

    def __post_init__(self) -> None:
        if self._content is not None:
            self.files = files_of(self.files, self._content)
            self._content = None
        elif self.files is None:
            self.files = []  # type: ignore[unreachable]  # NullList: None until this line
            return
        # Inline, not settle_files(): runs once per item decoded, and a call costs a tenth of a decode.
        for file in self.files:
            if file.mime_type is None or file.extra_info is not None:
                settle_file(file)
