"""Request bodies as the emulator reads them: its own definitions, not the SDK's models.

Written from API.md, independently of ``basicai_async.models``, so that a body
the SDK gets wrong is refused here instead of being read back by the same
misreading. Strict like a server: required fields must be there with the right
JSON types (no string-to-number coercion).
"""

from __future__ import annotations

import msgspec

__all__ = [
    "DatasetBody",
    "DatasetPatch",
    "FileBody",
    "NewBatchBody",
    "NewDataBody",
    "NewSceneBody",
    "PresignBody",
]


class _Body(msgspec.Struct, rename="camel", kw_only=True):
    pass


class FileBody(_Body):
    """A file to register: ``{"path", "size", "mimeType", "deviceName"?}``."""

    path: str
    size: int
    mime_type: str
    device_name: str | None = None


class NewDataBody(_Body):
    """addData: ``{"name", "batchId"?, "sceneId"?, "files"}``."""

    name: str
    files: list[FileBody]
    batch_id: int | None = None
    scene_id: int | None = None


class NewSceneBody(_Body):
    """addScene: ``{"name", "batchId"?, "frames"?}``."""

    name: str
    batch_id: int | None = None
    frames: list[NewDataBody] | None = None


class NewBatchBody(_Body):
    """addBatch: ``{"name"}``."""

    name: str


class DatasetBody(_Body):
    """create / replace: ``{"name", "type", "description"?}``."""

    name: str
    type: str
    description: str | None = None


class DatasetPatch(_Body):
    """update: any of ``name``, ``type``, ``description``."""

    name: str | None = None
    type: str | None = None
    description: str | None = None


class PresignBody(_Body):
    """One pre-sign request: ``{"filename", "size", "deviceName"?}``."""

    filename: str
    size: int
    device_name: str | None = None
