"""What the uploader uploads: named byte sources that can be opened again for a retry."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

__all__ = ["UploadSource"]


_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class UploadSource:
    """One file to upload: its name, exact size and a way to read its bytes.

    ``open`` is called once per PUT attempt, so a retry re-reads from the start;
    bytes are streamed in chunks, never held whole in memory.

    Example::

        UploadSource.from_path("img/0001.jpg")
        UploadSource.from_bytes("hello.txt", b"hello")
    """

    name: str
    size: int
    open: Callable[[], AsyncIterable[bytes]] = field(repr=False)
    mime_type: str = "application/octet-stream"
    device_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("UploadSource.name must be a non-empty file name")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"UploadSource.size must be a byte count >= 0, got {self.size!r}")

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, name: str | None = None, device_name: str | None = None
    ) -> UploadSource:
        """A file on disk; ``name`` defaults to its file name, the MIME type is guessed from it."""
        p = Path(path)
        size = p.stat().st_size
        filename = name or p.name

        async def read() -> AsyncIterator[bytes]:
            if size <= _CHUNK:
                # A small file in one worker-thread hop, not four (open, read, EOF, close):
                # with thousands of files the hops, not the bytes, are what costs.
                yield await anyio.to_thread.run_sync(p.read_bytes)
                return
            async with await anyio.open_file(p, "rb") as f:
                while chunk := await f.read(_CHUNK):
                    yield chunk

        return cls(filename, size, read, guess_mime_type(filename), device_name)

    @classmethod
    def from_bytes(cls, name: str, data: bytes, *, device_name: str | None = None) -> UploadSource:
        """Bytes already in memory."""

        async def read() -> AsyncIterator[bytes]:
            for start in range(0, len(data), _CHUNK):
                yield data[start : start + _CHUNK]

        return cls(name, len(data), read, guess_mime_type(name), device_name)

    @classmethod
    def from_stream(
        cls,
        name: str,
        size: int,
        open: Callable[[], AsyncIterable[bytes]],
        *,
        mime_type: str | None = None,
        device_name: str | None = None,
    ) -> UploadSource:
        """An async stream of exactly ``size`` bytes; ``open()`` must start it afresh on each call."""
        return cls(name, size, open, mime_type or guess_mime_type(name), device_name)


def guess_mime_type(name: str) -> str:
    """The MIME type for a file name, including point-cloud formats ``mimetypes`` lacks."""
    lower = name.lower()
    if lower.endswith(".pcd"):
        return "application/octet-stream"
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"
