"""Per-file checks that fail alone (_sources): bad files returned as errors; size changes stop the body."""

from __future__ import annotations

import contextlib
import dataclasses
import mimetypes
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from basicai_async import InvalidSourceError, SourceChangedError, UploadError, UploadSource
from basicai_async._sources import SizedBody, check_path, check_source, display_name, guess_mime_type

SMALL = 1000  # read in one piece
LARGE = 600 * 1024  # read in chunks of 256 KiB


def _file(tmp_path: Path, size: int, name: str = "f.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


def _with_hook(source: UploadSource, hook: Callable[[], None]) -> UploadSource:
    """``source`` whose every open() first runs ``hook`` (the file changes between stat and read)."""
    inner = source.open

    async def opened() -> AsyncIterator[bytes]:
        hook()
        stream = inner()
        assert isinstance(stream, AsyncGenerator)
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                yield chunk

    return dataclasses.replace(source, open=opened)


async def _drain(body: SizedBody) -> bytes:
    return b"".join([chunk async for chunk in body])


def test_a_regular_file_becomes_a_source_with_its_mtime(tmp_path: Path) -> None:
    path = _file(tmp_path, SMALL, "a.jpg")
    source = check_path(path)
    assert isinstance(source, UploadSource)
    assert (source.name, source.size, source.mime_type) == ("a.jpg", SMALL, "image/jpeg")
    assert source.mtime_ns == path.stat().st_mtime_ns


def test_an_empty_file_is_returned_as_its_error(tmp_path: Path) -> None:
    error = check_path(_file(tmp_path, 0, "empty.jpg"))
    assert isinstance(error, InvalidSourceError)
    assert isinstance(error, UploadError)
    assert (error.reason, error.stage, error.filename) == ("empty", "validate", "empty.jpg")
    assert "0 bytes" in str(error)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    error = check_path(tmp_path / "sub")
    assert isinstance(error, InvalidSourceError)
    assert error.reason == "not_a_file"
    assert "is a directory" in str(error)


def test_a_fifo_is_not_a_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    error = check_path(tmp_path / "pipe")  # must not block opening it
    assert isinstance(error, InvalidSourceError)
    assert error.reason == "not_a_file"


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    error = check_path(tmp_path / "gone.jpg")
    assert isinstance(error, InvalidSourceError)
    assert error.reason == "unreadable"
    assert isinstance(error.__cause__, FileNotFoundError)


def test_a_file_that_cannot_be_opened_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(tmp_path, SMALL, "locked.jpg")
    real_open = os.open

    def refuse(file: str | os.PathLike[str], flags: int, *args: int, **kwargs: object) -> int:
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    # Tests run as root here, where chmod 000 does not stop a read: refuse the open instead.
    monkeypatch.setattr(os, "open", refuse)
    error = check_path(path)
    assert isinstance(error, InvalidSourceError)
    assert error.reason == "unreadable"
    assert "Permission denied" in str(error)


def test_a_name_that_is_not_utf8_is_returned_as_its_error(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    with open(raw, "wb") as f:
        f.write(b"data")
    path = Path(os.fsdecode(raw))  # the surrogate-escaped name os.listdir would give
    error = check_path(path)
    assert isinstance(error, InvalidSourceError)
    assert error.reason == "name_not_utf8"
    assert error.filename.endswith("caf\\xe9.jpg")
    error.filename.encode("utf-8")  # printable and JSON-safe
    assert "rename" in str(error)


def test_check_source_on_sources_already_built() -> None:
    assert check_source(UploadSource.from_bytes("a.txt", b"x")) is None
    empty = check_source(UploadSource.from_bytes("a.txt", b""))
    assert isinstance(empty, InvalidSourceError)
    assert empty.reason == "empty"
    bad_name = check_source(UploadSource.from_bytes("caf\udce9.txt", b"x"))
    assert isinstance(bad_name, InvalidSourceError)
    assert bad_name.reason == "name_not_utf8"


@pytest.mark.parametrize(
    "name",
    [
        "a.png",
        "A.PNG",
        "a.b.jpg",
        "a..png",
        ".png",
        ".hidden.png",
        "..a.gz",
        "a.png.gz",
        "a.tar.gz",
        "a.b.tgz",
        "c.svgz",
        "a.gz.gz",
        "a.",
        "noext",
        "x.unknownext",
        "a.pcd",
        "a.pcd.gz",
        "d/a.png",
        "data:,x.png",
        "s3:a.png",
        "a.JPEG",
        "b.ply",
        "c.bin",
    ],
)
def test_mime_types_by_ending_are_what_mimetypes_says(name: str) -> None:
    expected = "application/octet-stream" if name.endswith(".pcd") else None
    for _ in range(2):  # the first answer and the remembered one
        assert guess_mime_type(name) == (
            expected or mimetypes.guess_type(name.lower())[0] or "application/octet-stream"
        )


def test_a_type_added_to_mimetypes_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert guess_mime_type("scan.zz9") == "application/octet-stream"
    monkeypatch.setitem(mimetypes.types_map, ".zz9", "application/x-zz9")
    assert guess_mime_type("scan.zz9") == "application/x-zz9"


def test_display_name() -> None:
    assert display_name("plain.jpg") == "plain.jpg"
    assert display_name("caf\udce9.jpg") == "caf\\xe9.jpg"


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_an_unchanged_file_streams_whole_and_counted(tmp_path: Path, size: int) -> None:
    path = _file(tmp_path, size)
    seen: list[int] = []
    body = SizedBody(UploadSource.from_path(path), on_chunk=seen.append)
    assert await _drain(body) == path.read_bytes()
    assert body.sent == size
    assert sum(seen) == size
    assert body.error is None


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_a_file_that_grew_fails_before_its_last_bytes_are_sent(tmp_path: Path, size: int) -> None:
    path = _file(tmp_path, size)

    def grow() -> None:
        with path.open("ab") as f:
            f.write(b"more")

    body = SizedBody(_with_hook(UploadSource.from_path(path), grow))
    with pytest.raises(SourceChangedError, match="grew") as caught:
        await _drain(body)
    err = caught.value
    assert (err.expected, err.stage, err.filename) == (size, "put", "f.bin")
    assert err.actual > size
    assert body.sent < size  # never the whole declared length: storage keeps nothing
    assert body.error is err


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_a_file_that_shrank_fails_at_its_end(tmp_path: Path, size: int) -> None:
    path = _file(tmp_path, size)

    def shrink() -> None:
        os.truncate(path, size - 10)

    body = SizedBody(_with_hook(UploadSource.from_path(path), shrink))
    with pytest.raises(SourceChangedError, match="shrank") as caught:
        await _drain(body)
    assert (caught.value.expected, caught.value.actual) == (size, size - 10)
    assert body.sent < size


@pytest.mark.parametrize(
    ("change", "how", "actual"), [(b"more", "grew", SMALL + 1), (None, "shrank", SMALL - 10)]
)
async def test_a_small_file_read_at_once_is_checked_as_a_stream_is(
    tmp_path: Path, change: bytes | None, how: str, actual: int
) -> None:
    path = _file(tmp_path, SMALL)
    source = UploadSource.from_path(path)
    body = SizedBody(source)
    assert body.read_now() == path.read_bytes()  # unchanged: read whole, with no stream
    assert body.sent == SMALL
    if change is None:
        os.truncate(path, SMALL - 10)
    else:
        with path.open("ab") as f:
            f.write(change)
    again = SizedBody(source)
    with pytest.raises(SourceChangedError, match=how) as caught:
        await again.read_all()
    # One byte past the declared size is read at most: proof enough that it grew.
    assert (caught.value.expected, caught.value.actual) == (SMALL, actual)
    assert again.error is caught.value
    assert again.sent == 0


async def test_a_small_file_that_vanished_keeps_its_read_error(tmp_path: Path) -> None:
    path = _file(tmp_path, SMALL)
    body = SizedBody(UploadSource.from_path(path))
    path.unlink()
    with pytest.raises(FileNotFoundError):
        body.read_now()
    assert isinstance(body.error, FileNotFoundError)


def test_bytes_are_read_at_once_and_large_files_are_left_to_stream(tmp_path: Path) -> None:
    data = b"hello"
    assert SizedBody(UploadSource.from_bytes("h.txt", data)).read_now() is data
    assert SizedBody(UploadSource.from_path(_file(tmp_path, LARGE))).read_now() is None
    streamed = UploadSource.from_stream("s.bin", 2, lambda: UploadSource.from_bytes("x", b"ab").open())
    assert SizedBody(streamed).read_now() is None


async def test_a_read_error_is_kept_for_the_caller() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"ab"
        raise OSError(5, "Input/output error")

    body = SizedBody(UploadSource.from_stream("s.bin", 4, broken))
    with pytest.raises(OSError, match="Input/output"):
        await _drain(body)
    assert isinstance(body.error, OSError)


async def test_empty_chunks_are_skipped_and_the_stream_closed() -> None:
    closed = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for chunk in (b"", b"ab", b"", b"cd"):
                yield chunk
        finally:
            closed.append(True)

    body = SizedBody(UploadSource.from_stream("s.bin", 4, chunks))
    assert await _drain(body) == b"abcd"
    assert closed == [True]


async def _echo_server() -> tuple[web.AppRunner, str]:
    async def put(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application()
    app.router.add_put("/obj", put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/obj"


async def test_a_put_of_a_shrunk_file_fails_at_once_not_at_the_read_timeout(tmp_path: Path) -> None:
    path = _file(tmp_path, LARGE)
    source = _with_hook(UploadSource.from_path(path), lambda: os.truncate(path, LARGE // 2))
    runner, url = await _echo_server()
    body = SizedBody(source)
    try:
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            with pytest.raises(aiohttp.ClientError) as caught:
                async with session.put(
                    url,
                    data=body,
                    headers={"Content-Length": str(source.size)},
                    timeout=aiohttp.ClientTimeout(sock_read=30),
                ):
                    pass
            elapsed = time.monotonic() - started
    finally:
        await runner.cleanup()
    assert elapsed < 10  # the read timeout is 30 s; the body's own error ends it
    assert isinstance(body.error, SourceChangedError)
    assert caught.value.__cause__ is body.error
