"""Checks of the files registered with data: format for the dataset type, and that they were uploaded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import imagesize

from .._constants import PlatformCode
from ._bodies import FileBody
from ._state import FileInfo
from ._store import ObjectStore
from ._wire import ApiError, Code

__all__ = ["check_files", "file_info"]

_IMAGE = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
_POINTS = frozenset({".pcd", ".bin", ".las", ".laz", ".ply"})
_CONFIG = frozenset({".json"})
_TEXT = frozenset({".txt", ".json", ".csv", ".jsonl"})

# dataset type -> (file extensions, MIME type prefixes) it takes.
_FORMATS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "IMAGE": (_IMAGE, ("image/",)),
    "LIDAR_BASIC": (_POINTS, ("application/",)),
    "LIDAR_FUSION": (_POINTS | _IMAGE | _CONFIG, ("application/", "image/")),
    "AV": (_POINTS | _IMAGE | _CONFIG, ("application/", "image/")),
    "TEXT": (_TEXT, ("text/", "application/json")),
}


def _check_format(dataset_type: str, file: FileBody) -> None:
    extensions, mime_prefixes = _FORMATS[dataset_type]
    suffix = PurePosixPath(file.path.split("?", 1)[0]).suffix.lower()
    mime = file.mime_type.lower()
    if suffix not in extensions or not mime.startswith(mime_prefixes):
        raise ApiError(
            Code.FILE_FORMAT_NOT_SUPPORTED,
            f"{file.path} ({file.mime_type}) is not supported in a {dataset_type} dataset",
        )


def check_files(dataset_type: str, files: Sequence[FileBody], store: ObjectStore) -> None:
    """Every file well formed, of a format the dataset takes, and an uploaded object of that size."""
    if not files:
        raise ApiError(Code.ILLEGAL_PARAM, "files must not be empty")
    for file in files:
        if not file.path or not file.mime_type or file.size < 0:
            raise ApiError(
                Code.ILLEGAL_PARAM, f"file {file.path!r} needs a path, a MIME type and a size >= 0"
            )
        _check_format(dataset_type, file)
        stored = store.registrable(file.path)
        if stored is None:
            raise ApiError(
                Code.ILLEGAL_PARAM,
                f"file path {file.path} is not an uploaded object",
                platform_code=PlatformCode.DATASET_DATA_FILE_URL_ERROR,
            )
        if stored.size != file.size:
            raise ApiError(
                Code.ILLEGAL_PARAM,
                f"file path {file.path} has {stored.size} bytes, not the {file.size} given",
            )


# A week: S3's longest pre-signed GET. Items are encoded once and listed for as long as they live.
_GET_TTL = 7 * 24 * 3600.0


def file_info(file: FileBody, store: ObjectStore) -> FileInfo | None:
    """The registered file's signed GET URL and, for an image, its size read from its header."""
    stored = store.lookup(file.path)
    if stored is None:
        return None
    size: tuple[int, int] | None = None
    if file.mime_type.lower().startswith("image/"):
        try:
            width, height = imagesize.get(str(stored.file))
        except (ValueError, OSError):
            width = height = -1
        size = (width, height) if width > 0 and height > 0 else None
    return FileInfo(store.presign_get(file.path, ttl=_GET_TTL), size)
