"""What an export yields per data item: its name and files beside its results.

Built from the ID-order listing's entry (name, files) and the item's results,
so a converter needs no second pass over the dataset. A file's ``width`` and
``height`` are the server's when it sends them; an image export fills in the
missing ones from the image's header (``_imageheader``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._redact import redact_url
from .models import AnnotationResult, DataFile, Item

__all__ = ["ExportedData", "ExportedFile", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})
_JSON_SUFFIXES = frozenset({".json"})


def _base_name(location: str) -> str:
    # String operations, not PurePosixPath: pathlib interns every part it parses, and
    # an export sees a new path per file (the interned table would grow with the dataset).
    return location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class ExportedFile(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True, gc=False):
    """One file of an exported data item: ``name``, ``size``, ``width``/``height`` (images), ``url``.

    ``url`` is where the server says the file can be read (a pre-signed URL is
    kept whole here, for the user to download with; ``repr`` hides its signature).
    """

    name: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    url: str | None = None
    path: str | None = None
    mime_type: str | None = None
    device_name: str | None = None

    def __repr__(self) -> str:
        url = None if self.url is None else redact_url(self.url)
        return (
            f"ExportedFile(name={self.name!r}, size={self.size!r}, width={self.width!r}, "
            f"height={self.height!r}, url={url!r})"
        )

    @classmethod
    def of(cls, file: DataFile) -> ExportedFile:
        """The export's view of a file as the API returned it."""
        location = file.url or file.path
        name = file.name or file.filename or file.original_name
        if not name and location:
            name = _base_name(location) or None
        return cls(
            name=name,
            size=file.size,
            width=file.width,
            height=file.height,
            url=file.url or (file.path if (file.path or "").startswith(("http://", "https://")) else None),
            path=file.path,
            mime_type=file.mime_type,
            device_name=file.device_name,
        )

    def _suffix(self) -> str:
        name = _base_name(self.name or self.path or "")
        dot = name.rfind(".")
        return name[dot:].lower() if dot > 0 else ""

    @property
    def is_image(self) -> bool:
        """An image by its MIME type or, lacking one, its name."""
        if self.mime_type:
            return self.mime_type.lower().startswith("image/")
        return self._suffix() in IMAGE_SUFFIXES

    @property
    def is_json(self) -> bool:
        """A JSON file (a point cloud's camera configuration is one)."""
        if self.mime_type and "json" in self.mime_type.lower():
            return True
        return self._suffix() in _JSON_SUFFIXES


class ExportedData(msgspec.Struct, kw_only=True, gc=False):
    """One data item of an export: ``id``, ``name``, ``files`` and its ``results`` (one per source).

    ``calibration`` is the camera configuration (parsed JSON) when the export's
    format asked for it (KITTI) and the item has one; else None. ``problems``
    names the files that could not be read (an image's size, a configuration) and why.
    """

    id: int
    name: str | None = None
    files: list[ExportedFile] = msgspec.field(default_factory=list)
    results: list[AnnotationResult] = msgspec.field(default_factory=list)
    calibration: Any = None
    problems: dict[str, str] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, item: Item, results: list[AnnotationResult]) -> ExportedData:
        """The export's view of a listed data item and its results."""
        return cls(
            id=item.id, name=item.name, files=[ExportedFile.of(f) for f in item.files], results=results
        )

    @property
    def images(self) -> list[ExportedFile]:
        """The item's image files in the server's order: camera ``viewIndex`` N is the N-th."""
        return [file for file in self.files if file.is_image]
