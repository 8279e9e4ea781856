"""What the uploader uploads: named byte sources that can be opened again for a retry.

Besides :class:`UploadSource`, the per-file checks that make a bad file fail
alone: :func:`check_path` and :func:`check_source` *return* an
``InvalidSourceError`` (empty, not a regular file, unreadable, name not UTF-8)
instead of raising it, so a caller iterating thousands of files turns it into
that file's result and goes on; :class:`SizedBody` streams exactly the declared
number of bytes and raises ``SourceChangedError`` the moment the file turns out
longer or shorter, instead of sending a truncated object or waiting for a
socket timeout.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ._errors import InvalidSourceError, SourceChangedError

__all__ = [
    "SMALL_BODY",
    "SizedBody",
    "UploadSource",
    "check_path",
    "check_source",
    "display_name",
    "guess_mime_type",
]


_CHUNK = 256 * 1024

SMALL_BODY = 64 * 1024
"""A body this small is read whole before its PUT (one payload write, no stream), and a file on
disk this small is read on the event loop: a page-cache read of a few KiB costs less than the
worker-thread hop that would carry it, and with thousands of small files the hops are what costs."""


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
    mtime_ns: int | None = None
    """The file's modification time when it is one on disk (a manifest tells a rewritten file by it)."""

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
        return cls._from_stat(p, p.stat(), name=name, device_name=device_name)

    @classmethod
    def _from_stat(
        cls, p: Path, info: os.stat_result, *, name: str | None = None, device_name: str | None = None
    ) -> UploadSource:
        filename = name or p.name
        reader = _FileReader(p, info.st_size)
        return cls(filename, info.st_size, reader, guess_mime_type(filename), device_name, info.st_mtime_ns)

    @classmethod
    def from_bytes(cls, name: str, data: bytes, *, device_name: str | None = None) -> UploadSource:
        """Bytes already in memory."""

        return cls(name, len(data), _BytesReader(data), guess_mime_type(name), device_name)

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


class _FileReader:
    """``UploadSource.open`` of a file on disk; a small one can also be read at once (``read_now``)."""

    __slots__ = ("path", "size")

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def __call__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        if self.size <= SMALL_BODY:
            yield self.path.read_bytes()  # a small file, read on the event loop: see SMALL_BODY
            return
        if self.size <= _CHUNK:
            # A file of one chunk in one worker-thread hop, not four (open, read, EOF, close).
            yield await anyio.to_thread.run_sync(self.path.read_bytes)
            return
        async with await anyio.open_file(self.path, "rb") as f:
            while chunk := await f.read(_CHUNK):
                yield chunk

    def read_now(self, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of a small file, read on the spot (blocking); None for a large one.

        ``os.read`` on a descriptor, with no file object around it: half the CPU of
        ``Path.read_bytes``, which counts when thousands of tiny files go.
        """
        if self.size > SMALL_BODY:
            return None
        fd = os.open(self.path, _READ_FLAGS)
        try:
            data = os.read(fd, limit)
            while len(data) < limit and (more := os.read(fd, limit - len(data))):
                data += more  # a short read (a network file system): go on to the end or the limit
        finally:
            os.close(fd)
        return data


class _BytesReader:
    """``UploadSource.open`` of bytes in memory, in chunks; ``read_now`` gives them whole."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        data = self.data
        for start in range(0, len(data), _CHUNK):
            yield data[start : start + _CHUNK]

    def read_now(self, limit: int) -> bytes | None:
        """The bytes (up to ``limit``), without a copy when they fit."""
        data = self.data
        return data if len(data) <= limit else data[:limit]


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def guess_mime_type(name: str) -> str:
    """The MIME type for a file name, including point-cloud formats ``mimetypes`` lacks.

    ``mimetypes`` is asked once per ending (``.png``, ``.pcd.gz``) while its tables
    keep their size: a third of the checks' CPU per file otherwise. A table changed
    in place (``mimetypes.add_type`` of an extension it already maps) is seen by
    names of that ending only in a new process.
    """
    lower = name.lower()
    if lower.endswith(".pcd"):
        return "application/octet-stream"
    key = _ending(lower)
    if key is None:
        guessed, _ = mimetypes.guess_type(lower)
        return guessed or "application/octet-stream"
    if not mimetypes.inited:
        mimetypes.init()
    tables = (
        id(mimetypes.types_map),
        len(mimetypes.types_map),
        len(mimetypes.suffix_map),
        len(mimetypes.encodings_map),
    )
    if tables != _mime_tables[0]:
        _mime_by_ending.clear()
        _mime_tables[0] = tables
    known = _mime_by_ending.get(key)
    if known is None:
        guessed, _ = mimetypes.guess_type(key)
        known = _mime_by_ending[key] = guessed or "application/octet-stream"
    return known


_mime_by_ending: dict[str, str] = {}
_mime_tables: list[tuple[int, ...]] = [()]


def _ending(lower: str) -> str | None:
    """A short name ``mimetypes`` types as it types ``lower``, or None when it may not.

    ``mimetypes`` reads the last suffix, and the one before when the last is an
    encoding (``.gz``): ``"x"`` and the last two suffixes read the same whenever
    the name is a plain file name whose stem is not all dots.
    """
    if ":" in lower or "/" in lower or "\\" in lower:
        return None  # a scheme or a directory: left to mimetypes as a whole
    last = lower.rfind(".")
    if last < 0:
        return None
    before = lower.rfind(".", 0, last)
    start = before if before >= 0 else last
    if not lower[:start].strip("."):
        return None  # a hidden file's leading dot is no suffix
    return "x" + lower[start:]


def display_name(name: str) -> str:
    """``name`` as text that can be printed and sent as JSON (undecodable bytes shown as ``\\xNN``)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _name_error(name: str) -> InvalidSourceError | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = display_name(name)
        return InvalidSourceError(
            f"{shown}: the file name is not valid UTF-8, which the API cannot carry; rename the file",
            filename=shown,
            reason="name_not_utf8",
        )
    return None


def check_source(source: UploadSource) -> InvalidSourceError | None:
    """What makes ``source`` impossible to upload (an empty body, a name not UTF-8), or None."""
    problem = _name_error(source.name)
    if problem is None and source.size == 0:
        problem = InvalidSourceError(
            f"{source.name} is empty (0 bytes); storage refuses empty objects",
            filename=source.name,
            reason="empty",
        )
    return problem


def check_path(
    path: str | os.PathLike[str], *, name: str | None = None, device_name: str | None = None
) -> UploadSource | InvalidSourceError:
    """An ``UploadSource`` for a file on disk, or the reason it cannot be one (returned, not raised).

    Blocking (stat and open): call it in a worker thread for many files.
    """
    p = path if isinstance(path, Path) else Path(path)
    try:
        info = p.stat()
    except OSError as exc:
        return _unreadable(p, exc)
    if not stat.S_ISREG(info.st_mode):
        shown = display_name(os.fspath(p))
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return InvalidSourceError(f"{shown} is {kind}; give files", filename=shown, reason="not_a_file")
    try:
        # Permission is only known for sure by opening (ACLs, network mounts): a descriptor,
        # opened and closed, with no file object around it.
        os.close(os.open(p, _READ_FLAGS))
    except OSError as exc:
        return _unreadable(p, exc)
    source = UploadSource._from_stat(p, info, name=name, device_name=device_name)
    return check_source(source) or source


def _unreadable(p: Path, exc: OSError) -> InvalidSourceError:
    shown = display_name(os.fspath(p))
    error = InvalidSourceError(
        f"{shown}: cannot read the file: {exc.strerror or exc}", filename=shown, reason="unreadable"
    )
    error.__cause__ = exc
    return error


async def _close(stream: object) -> None:
    """Close a source's stream if it can be closed (an async generator's ``aclose``)."""
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        await closer()


class SizedBody:
    """A PUT body of exactly ``source.size`` bytes, counted as they go; ``SourceChangedError`` otherwise.

    The last chunk is held back until the stream's end is seen, so a file that
    grew never reaches storage complete-looking (the request is cut short before
    its ``Content-Length`` is reached, and storage keeps nothing); a file that
    shrank fails at once, at its end, instead of leaving storage waiting for the
    missing bytes until a socket timeout. ``sent`` counts the bytes handed to the
    transport; ``on_chunk`` is told each chunk's size (progress bars). ``error``
    keeps what stopped the body (``SourceChangedError``, or the source's own read
    error): aiohttp reports it as a connection error, and the caller turns it into
    that file's result rather than retrying.

    Example::

        body = SizedBody(source)
        await session.put(url, data=body, headers={"Content-Length": str(source.size)})
    """

    __slots__ = ("_on_chunk", "_source", "error", "sent")

    def __init__(self, source: UploadSource, on_chunk: Callable[[int], None] | None = None) -> None:
        self._source = source
        self._on_chunk = on_chunk
        self.sent = 0
        self.error: Exception | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._guarded()

    def read_now(self) -> bytes | None:
        """The whole body read on the spot, checked as streaming checks it; None if it has to stream.

        A file on disk no larger than ``SMALL_BODY`` or bytes in memory are read at
        once, with no stream to open and close (most of a tiny file's CPU otherwise).
        """
        opener = self._source.open
        if not isinstance(opener, (_FileReader, _BytesReader)):
            return None
        expected = self._source.size
        try:
            data = opener.read_now(expected + 1)  # one byte past the size tells a file that grew
            if data is None:
                return None
            if len(data) != expected:
                raise self._changed(len(data), "grew" if len(data) > expected else "shrank")
        except Exception as exc:
            self.error = exc
            raise
        return self._count(data) if data else data

    async def read_all(self) -> bytes:
        """The whole body at once (for a small one), checked as streaming checks it.

        Reads the source's stream directly: one async generator a file, not three.
        """
        data = self.read_now()
        if data is not None:
            return data
        expected = self._source.size
        opener = self._source.open
        chunks: list[bytes] = []
        read = 0
        stream = opener()
        try:
            try:
                async for chunk in stream:
                    read += len(chunk)
                    if read > expected:
                        raise self._changed(read, "grew")
                    chunks.append(chunk)
            finally:
                await _close(stream)
            if read < expected:
                raise self._changed(read, "shrank")
        except Exception as exc:
            self.error = exc
            raise
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._count(data) if data else data

    async def _guarded(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream():
                yield chunk
        except Exception as exc:
            self.error = exc
            raise

    async def _stream(self) -> AsyncIterator[bytes]:
        expected = self._source.size
        read = 0
        held = b""
        stream = self._source.open()
        try:
            async for chunk in stream:
                if not chunk:
                    continue
                read += len(chunk)
                if read > expected:
                    # One chunk past the declared size is proof enough: stop reading here.
                    raise self._changed(read, "grew")
                if held:
                    yield self._count(held)
                held = chunk
        finally:
            await _close(stream)
        if read < expected:
            raise self._changed(read, "shrank")
        if held:
            yield self._count(held)

    def _count(self, chunk: bytes) -> bytes:
        self.sent += len(chunk)
        if self._on_chunk is not None:
            self._on_chunk(len(chunk))
        return chunk

    def _changed(self, actual: int, how: str) -> SourceChangedError:
        name, expected = self._source.name, self._source.size
        at_least = "at least " if how == "grew" else ""
        return SourceChangedError(
            f"{name} {how} while it was being uploaded: {expected} bytes declared, "
            f"{at_least}{actual} read; upload it again once it no longer changes",
            filename=name,
            expected=expected,
            actual=actual,
            how=how,
        )
