"""Reads of a data item's files for an export: an image's size from its first bytes, a small JSON.

An image's width and height come from a ranged read, never the whole image.

Files are read from the URL the server gives (object storage, not the API: no
rate-limit slot is taken). The first ``_FIRST`` bytes hold the size of every
common format (PNG, GIF, BMP, WebP at once; a JPEG's frame header comes after
its EXIF block, which is at most 64 KiB); a JPEG whose header lies further is
read once more up to ``_MOST`` bytes. A server that ignores ``Range`` and
answers 200 is read only that far and then cut off. Retries follow the
client's policy (5xx and dropped connections); a failure is returned as a
reason, with the URL's query (a pre-signed signature) left out.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import imagesize
import msgspec

from ._redact import redact_text, redact_url
from ._retry import RetryPolicy, parse_retry_after

__all__ = ["read_image_size", "read_json"]

_FIRST = 64 * 1024
_MOST = 1024 * 1024
_T = TypeVar("_T")


class _Failed(Exception):
    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


async def _head_bytes(session: aiohttp.ClientSession, url: str, size: int) -> bytes:
    try:
        async with session.get(url, headers={"Range": f"bytes=0-{size - 1}"}) as response:
            if response.status >= 400:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise _Failed(
                    f"HTTP {response.status}", retryable=response.status >= 500, retry_after=retry_after
                )
            data = bytearray()
            async for chunk in response.content.iter_chunked(16 * 1024):
                data += chunk
                if len(data) >= size:
                    # A 200 to a ranged request: stop here, the rest is not wanted.
                    response.close()
                    break
            return bytes(data[:size])
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _Failed(f"{type(exc).__name__}: {redact_text(str(exc))}", retryable=True) from None


def _size(head: bytes) -> tuple[int, int] | None:
    try:
        width, height = imagesize.get(io.BytesIO(head))
    except (ValueError, OSError, IndexError, TypeError):
        return None
    return (width, height) if width > 0 and height > 0 else None


async def _retried(url: str, retry: RetryPolicy, read: Callable[[], Awaitable[_T | str]]) -> _T | str:
    attempt = 0
    while True:
        try:
            return await read()
        except _Failed as exc:
            attempt += 1
            if not exc.retryable or not await retry.wait(attempt, exc.retry_after):
                return f"reading {redact_url(url)} failed: {exc}"


async def read_image_size(
    session: aiohttp.ClientSession, url: str, retry: RetryPolicy
) -> tuple[int, int] | str:
    """``(width, height)`` of the image at ``url``, or the reason it could not be read."""

    async def read() -> tuple[int, int] | str:
        head = await _head_bytes(session, url, _FIRST)
        found = _size(head)
        if found is None and len(head) == _FIRST:
            found = _size(await _head_bytes(session, url, _MOST))
        return found or f"no image size in the first bytes of {redact_url(url)}"

    return await _retried(url, retry, read)


async def read_json(session: aiohttp.ClientSession, url: str, retry: RetryPolicy) -> Any:
    """The JSON document at ``url`` (at most 1 MiB), or the reason (a ``str``) it could not be read."""

    async def read() -> Any:
        body = await _head_bytes(session, url, _MOST)
        if len(body) == _MOST:
            return f"{redact_url(url)} is larger than {_MOST} bytes: not a camera configuration"
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            return f"{redact_url(url)} is not JSON: {exc}"

    return await _retried(url, retry, read)
