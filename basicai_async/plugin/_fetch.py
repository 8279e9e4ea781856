"""Fetching the files a Plugin API request points at: one shared session, bounded, and fenced.

Safety, by default:

- only ``http`` and ``https`` URLs, and redirects only to ``http``/``https``
  (followed by hand, at most ``MAX_REDIRECTS``, each hop checked again);
- only public addresses: a host that is (or resolves to) a loopback, private,
  link-local (cloud metadata at ``169.254.169.254``), shared, multicast or
  reserved address is refused. The check runs in the connector's resolver, so a
  name cannot resolve to a public address when checked and a private one when
  connecting. ``allow_private=True`` lifts the fence (local trials, a
  self-hosted platform whose file URLs point at its own object store, a model
  next to its storage) and is then the operator's responsibility;
- no proxies from the environment, no cookies kept between fetches;
- a size cap (checked on ``Content-Length`` and again on the bytes read);
  bodies above a threshold are streamed to a temporary file instead of memory;
- URLs appear in messages and reprs through ``_redact.redact_url``: without
  their query string, which is where pre-signed URLs keep their signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO

import aiohttp
import anyio
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from .._constants import MAX_PRESIGNED_SIZE
from .._errors import FetchError, PluginError
from .._redact import redact_url

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MEMORY_THRESHOLD",
    "MAX_REDIRECTS",
    "FetchError",
    "FetchedFile",
    "Fetcher",
    "PluginError",
    "describe_failure",
    "redact_url",
]

DEFAULT_MEMORY_THRESHOLD = 8 * 1024 * 1024
"""Bodies up to this many bytes stay in memory; larger ones go to a temporary file."""

DEFAULT_MAX_SIZE = MAX_PRESIGNED_SIZE
"""A file BasicAI stores came through a pre-signed upload, so it is no larger than that limit."""

MAX_REDIRECTS = 5
_CHUNK = 256 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
_PRIVATE_REFUSED = (
    "refused: private addresses are fetched only with `plugin serve --allow-private` "
    "(create_app(allow_private=True)), which a self-hosted platform's file URLs need"
)


class FetchedFile:
    """One fetched file: in memory (``data``) when small, else in a temporary file (``path``).

    ``read_bytes()`` works either way. The temporary file is deleted once the
    prediction that received it has finished.
    """

    __slots__ = ("content_type", "data", "path", "size", "url")

    def __init__(
        self, url: str, *, size: int, content_type: str | None, data: bytes | None, path: Path | None
    ) -> None:
        self.url = url
        """The URL as BasicAI sent it (pre-signed URLs included: do not log it)."""
        self.size = size
        self.content_type = content_type
        self.data = data
        self.path = path

    def read_bytes(self) -> bytes:
        """The whole body (reads the temporary file when the body was spilled to disk)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        """Delete the temporary file, if any."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __repr__(self) -> str:
        where = "memory" if self.data is not None else str(self.path)
        return f"FetchedFile({redact_url(self.url)!r}, size={self.size}, in={where})"


def _is_public(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _BlockedAddressError(OSError):
    """Raised inside the connector; aiohttp wraps it, ``describe_failure`` finds it again."""


class _PublicOnlyResolver(AbstractResolver):
    """The default resolver, keeping only public addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if _is_public(r["host"])]
        if not public:
            raise _BlockedAddressError(f"{host} resolves only to non-public addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


def describe_failure(exc: BaseException) -> str:
    """Why a fetch failed, in words that never quote the URL's query (aiohttp's messages can)."""
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, _BlockedAddressError):
        return f"{os_error} ({_PRIVATE_REFUSED})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection broke while reading the body"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


class Fetcher:
    """Fetches files with one shared aiohttp session; use ``async with`` or call ``close()``.

    Example::

        async with Fetcher(max_size=50 * 2**20) as fetcher:
            file = await fetcher.fetch("https://bucket.example/img.jpg?X-Signature=...")
    """

    def __init__(
        self,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        memory_threshold: int = DEFAULT_MEMORY_THRESHOLD,
        allow_private: bool = False,
        temp_dir: str | os.PathLike[str] | None = None,
        connect_timeout: float = 30.0,
        read_timeout: float = 60.0,
    ) -> None:
        if max_size <= 0 or memory_threshold < 0:
            raise ValueError("max_size must be positive and memory_threshold not negative")
        self.max_size = max_size
        self.memory_threshold = memory_threshold
        self.allow_private = allow_private
        self._temp_dir = temp_dir
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _PublicOnlyResolver | None = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._resolver = None if self.allow_private else _PublicOnlyResolver()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=self._resolver, limit=64),
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the shared session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            # The connector closes only a resolver it made itself.
            await self._resolver.close()
            self._resolver = None

    def _check_url(self, url: URL, shown: str) -> None:
        if url.scheme not in _SCHEMES or not url.host:
            raise FetchError(f"cannot fetch {shown}: only absolute http and https URLs are fetched")
        if not self.allow_private and _looks_like_ip(url.host) and not _is_public(url.host):
            raise FetchError(f"cannot fetch {shown}: {url.host} is not a public address ({_PRIVATE_REFUSED})")

    async def fetch(self, url: str) -> FetchedFile:
        """Fetch ``url`` (following at most ``MAX_REDIRECTS`` http(s) redirects).

        Raises ``FetchError`` for a bad or refused URL, a status other than 200,
        a body over ``max_size``, or a network failure.
        """
        shown = redact_url(url)
        try:
            target = URL(url, encoded="%" in url)
        except (ValueError, TypeError):
            raise FetchError(f"cannot fetch {shown}: not a URL") from None
        session = self._get_session()
        try:
            for _ in range(MAX_REDIRECTS + 1):
                self._check_url(target, shown)
                async with session.get(target, allow_redirects=False) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        target = resp.url.join(URL(resp.headers["Location"]))
                        continue
                    if resp.status != 200:
                        raise FetchError(f"cannot fetch {shown}: HTTP {resp.status}")
                    return await self._read(resp, url, shown)
            raise FetchError(f"cannot fetch {shown}: more than {MAX_REDIRECTS} redirects")
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise FetchError(f"cannot fetch {shown}: {describe_failure(exc)}") from exc

    async def _read(self, resp: aiohttp.ClientResponse, url: str, shown: str) -> FetchedFile:
        too_big = f"cannot fetch {shown}: larger than the {self.max_size}-byte limit"
        if resp.content_length is not None and resp.content_length > self.max_size:
            raise FetchError(too_big)
        buffer = bytearray()
        spill: IO[bytes] | None = None
        size = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > self.max_size:
                    raise FetchError(too_big)
                if spill is None:
                    buffer += chunk
                    if len(buffer) > self.memory_threshold:
                        spill = await anyio.to_thread.run_sync(self._open_spill, resp.url)
                        await anyio.to_thread.run_sync(spill.write, bytes(buffer))
                        buffer.clear()
                else:
                    # Off the loop: a slow disk must not stall the other requests.
                    await anyio.to_thread.run_sync(spill.write, chunk)
        except BaseException:
            if spill is not None:
                _drop(spill)
            raise
        content_type = resp.headers.get("Content-Type")
        if spill is None:
            return FetchedFile(url, size=size, content_type=content_type, data=bytes(buffer), path=None)
        spill.close()
        return FetchedFile(url, size=size, content_type=content_type, data=None, path=Path(spill.name))

    def _open_spill(self, url: URL) -> IO[bytes]:
        # Keep the extension: many readers (PIL, open3d) pick the decoder from it.
        suffix = PurePosixPath(url.path).suffix[:16]
        return tempfile.NamedTemporaryFile(
            prefix="basicai-plugin-", suffix=suffix, dir=self._temp_dir, delete=False
        )


def _drop(spill: IO[bytes]) -> None:
    spill.close()
    Path(spill.name).unlink(missing_ok=True)


def _looks_like_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
