"""Upload sources in object storage (S3, GCS, Azure) and at plain HTTP(S) URLs, streamed through obstore.

:func:`object_sources` lists a prefix (``s3://bucket/images/``,
``gs://bucket/images/``, ``az://account/container/images/``) lazily, page by
page, and yields one :class:`~basicai_async.UploadSource` per object: its
size comes from the listing, its bytes are read from the store only when its
PUT starts and go straight from the store to the pre-signed URL, chunk by
chunk, never through a local disk. :func:`url_sources` does the same for a
list of file URLs (one ``HEAD`` each for the size).

Each read asks for the object *as listed* (``If-Match`` its ETag), so an
object replaced since the listing fails alone with ``SourceChangedError``
(``how="replaced"``), as does one deleted since (``how="deleted"``); a size
that differs anyway is caught by ``SizedBody``. A retry of a PUT opens the
object again from its start.

Configuration: each cloud's standard environment variables (for S3
``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``; for GCS
``GOOGLE_SERVICE_ACCOUNT``...; for Azure ``AZURE_STORAGE_ACCOUNT_NAME``,
``AZURE_STORAGE_ACCOUNT_KEY``...), or an obstore store object built by the
caller (``store=S3Store(...)``).

Errors: obstore's exceptions never leave this module. A listing that fails
raises :class:`~basicai_async.ObjectStoreError`; a read that fails becomes
``SourceChangedError`` or ``ObjectStoreError`` for that one file. Their
messages, and the ``RedactedException`` chained as their cause, are redacted:
signing parameters, and every credential value the environment or the store's
configuration holds, are replaced by ``REDACTED``.

obstore is an optional dependency (``pip install 'basicai-async[cloud]'``),
imported only when a cloud source is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio

from ._constants import BODY_SNIPPET
from ._errors import (
    BasicAIError,
    ConfigurationError,
    InvalidSourceError,
    ObjectStoreError,
    SourceChangedError,
)
from ._redact import RedactedException, redact_text, redact_url
from ._sources import UploadSource, guess_mime_type

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ClientConfig, ObjectStore

__all__ = ["OBJECT_SCHEMES", "is_object_url", "is_http_url", "object_sources", "url_sources"]

OBJECT_SCHEMES = ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss")
"""URL schemes of object-storage prefixes (``s3://bucket/prefix/``, ``gs://...``, ``az://...``)."""

_CHUNK = 256 * 1024
_LIST_PAGE = 1000  # S3's own page size: one listing call per yielded chunk
_HEAD_WINDOW = 16  # URLs looked up at once by url_sources
_MIN_SECRET = 4  # shorter "secrets" would blank ordinary words of a message
# Environment variables whose values are credentials (any cloud's, by name).
_SECRET_NAME = re.compile(
    r"(?i)^(aws|azure|google|gcs|gcp|goog)_.*(secret|key|token|sas|password|credential)"
)
_SECRET_KEY = re.compile(r"(?i)(secret|key|token|sas|password|credential)")


def _client_options(*, allow_http: bool = False) -> ClientConfig:
    # obstore's default 30 s covers a whole request, body included: a large object streamed
    # at the pace of its PUT outlives it. A stalled read still fails, after read_timeout.
    options: ClientConfig = {"timeout": timedelta(hours=1), "read_timeout": timedelta(seconds=120)}
    if allow_http:
        options["allow_http"] = True
    return options


def is_object_url(text: str) -> bool:
    """Whether ``text`` is an object-storage prefix URL (``s3://``, ``gs://``, ``az://``...)."""
    return urlsplit(text).scheme.lower() in OBJECT_SCHEMES


def is_http_url(text: str) -> bool:
    """Whether ``text`` is an ``http://`` or ``https://`` URL (a file :func:`url_sources` can read)."""
    return urlsplit(text).scheme.lower() in ("http", "https")


def _obstore() -> ModuleType:
    try:
        import obstore
    except ImportError:
        raise ConfigurationError(
            "object storage sources need obstore: pip install 'basicai-async[cloud]'"
        ) from None
    return obstore


def _secrets(store: object | None = None, url: str = "") -> tuple[str, ...]:
    """Every credential value that text about ``store`` might quote: the environment's and its config's."""
    found = [v for k, v in os.environ.items() if _SECRET_NAME.match(k)]
    config = getattr(store, "config", None)
    if isinstance(config, dict):
        found += [str(v) for k, v in config.items() if _SECRET_KEY.search(str(k)) and isinstance(v, str)]
    query = urlsplit(url).query
    if query:
        found.append(query)
    return tuple(s for s in found if len(s) >= _MIN_SECRET)


def _store_text(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """obstore's message on one line, redacted, then shortened (never cut through a secret)."""
    # obstore appends a multi-line "Debug source:" dump of its Rust error: the first part says it all.
    text = redact_text(" ".join(str(exc).split("\n\nDebug source:", 1)[0].split()), secrets=secrets)
    return text if len(text) <= BODY_SNIPPET else text[:BODY_SNIPPET] + "..."


def _reason(exc: BaseException, text: str) -> str:
    kind = type(exc).__name__
    if isinstance(exc, FileNotFoundError) or kind == "NotFoundError" or "status code: 404" in text:
        return "not_found"
    if kind == "PermissionDeniedError" or "status code: 403" in text:
        return "permission_denied"
    if kind == "UnauthenticatedError" or "status code: 401" in text:
        return "unauthenticated"
    if kind in ("InvalidPathError", "UnknownConfigurationKeyError", "NotSupportedError") or isinstance(
        exc, ValueError
    ):
        return "invalid"
    return "unavailable"


def store_error(exc: BaseException, *, action: str, url: str, secrets: tuple[str, ...]) -> ObjectStoreError:
    """obstore's ``exc`` as an ``ObjectStoreError``: message and chained cause redacted, no obstore type."""
    text = _store_text(exc, secrets)
    reason = _reason(exc, text)
    hint = {
        "not_found": "not found: check the bucket, container, prefix or URL",
        "permission_denied": "the credentials may not read it",
        "unauthenticated": "check the cloud credentials in the environment",
        "invalid": "check the URL and the store's options",
        "unavailable": "the store did not answer after its retries; try again later",
    }[reason]
    error = ObjectStoreError(f"cannot {action} {url} ({hint}): {text}", url=url, reason=reason)
    error.__cause__ = RedactedException.standing_in(exc, _store_text(exc, secrets), secrets=secrets)
    return error


def _read_error(
    exc: BaseException, source: str, size: int, url: str, secrets: tuple[str, ...]
) -> BasicAIError:
    """A failed read of one listed object: changed or deleted since listed, or the store's failure."""
    how = None
    if type(exc).__name__ == "PreconditionError":
        how = "replaced"
    elif isinstance(exc, FileNotFoundError) or type(exc).__name__ == "NotFoundError":
        how = "deleted"
    if how is None:
        return store_error(exc, action="read", url=url, secrets=secrets)
    error = SourceChangedError(
        f"{source} was {how} in object storage after it was listed; nothing of it was uploaded. "
        "Upload it again once it no longer changes",
        filename=source,
        expected=size,
        actual=0,
        how=how,
    )
    error.__cause__ = RedactedException.standing_in(exc, _store_text(exc, secrets), secrets=secrets)
    return error


def _mtime_ns(meta: ObjectMeta) -> int | None:
    modified: Any = meta.get("last_modified")
    if not isinstance(modified, datetime):
        return None
    return int(modified.timestamp()) * 1_000_000_000 + modified.microsecond * 1000


def _source(
    store: ObjectStore, path: str, name: str, meta: ObjectMeta, url: str, secrets: tuple[str, ...]
) -> UploadSource:
    """One object as a source whose every ``open()`` streams the object as listed, from its start."""
    size = int(meta["size"])
    etag = meta.get("e_tag")

    async def read() -> AsyncIterator[bytes]:
        obs = _obstore()
        failure: BasicAIError | None = None
        try:
            result = await obs.get_async(store, path, options={"if_match": etag} if etag else None)
            stream = result.stream(min_chunk_size=_CHUNK)
        except Exception as exc:
            failure = _read_error(exc, name, size, url, secrets)
        if failure is not None:
            # Raised outside the except block: obstore's exception is not chained as the context.
            raise failure
        while True:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                failure = _read_error(exc, name, size, url, secrets)
            if failure is not None:
                raise failure
            yield chunk

    return UploadSource(name, size, read, guess_mime_type(name), None, _mtime_ns(meta))


def _allows_http(scheme: str) -> bool:
    """Whether the cloud's environment lets its store use plain http (a local emulator, MinIO, moto).

    obstore reads ``AWS_ALLOW_HTTP`` itself only when it is given no client options; ours
    (timeouts) replace its defaults, so the variable is read here.
    """
    variable = "AWS_ALLOW_HTTP" if scheme.startswith("s3") else "AZURE_ALLOW_HTTP"
    return os.environ.get(variable, "").strip().lower() in ("1", "true", "yes", "on")


def _store_from_url(url: str) -> ObjectStore:
    obs = _obstore()
    failure: BasicAIError | None = None
    options = _client_options(allow_http=_allows_http(urlsplit(url).scheme.lower()))
    try:
        store: ObjectStore = obs.store.from_url(url, client_options=options)
    except Exception as exc:
        # Building a store makes no request: what fails here is the URL or the configuration.
        secrets = _secrets(url=url)
        failure = ConfigurationError(
            f"cannot use {redact_url(url)} as an object-storage prefix: "
            f"{_store_text(exc, secrets)}; give s3://bucket/prefix/, "
            "gs://bucket/prefix/ or az://account/container/prefix/"
        )
        failure.__cause__ = RedactedException.standing_in(exc, _store_text(exc, secrets), secrets=secrets)
    if failure is not None:
        raise failure
    return store


def object_sources(
    url: str | None = None,
    *,
    store: ObjectStore | None = None,
    prefix: str = "",
    pattern: str = "*",
) -> AsyncIterator[UploadSource]:
    """The objects under a prefix in object storage, as upload sources, listed lazily.

    Give a URL (``s3://bucket/prefix/``, ``gs://...``, ``az://account/container/...``;
    credentials and endpoint from the cloud's environment variables), or a store
    you built (``store=S3Store("bucket", ...)``) and a ``prefix`` within it. Each
    object's name is its file name (the key's last segment), as for a directory;
    hidden names (``.``-prefixed) and 0-byte objects (folder markers; storage
    refuses empty uploads anyway) are left out;
    ``pattern`` is a glob matched against the key below the prefix (``*.jpg``,
    ``cam1/*``). Listing goes page by page as the uploader consumes the sources,
    so memory stays flat for any number of objects.

    A listing the store refuses or fails raises ``ObjectStoreError`` (when the
    iteration reaches it); a bad URL or a missing ``obstore`` raises
    ``ConfigurationError`` at once.

    Example::

        async with AsyncBasicAI() as client:
            report = await client.uploader().upload(42, object_sources("s3://bucket/images/"))
    """
    if (url is None) == (store is None):
        raise ValueError("give either url (s3://bucket/prefix/) or store= (with prefix=), not both")
    if url is not None:
        if not is_object_url(url):
            raise ConfigurationError(
                f"{redact_url(url)} is not an object-storage prefix (s3://, gs:// or az://); "
                "for files at http(s) URLs use url_sources([...])"
            )
        listed = _store_from_url(url)
        shown = redact_url(url)
        list_prefix = None
        secrets = _secrets(listed, url)
    else:
        assert store is not None
        listed = store
        list_prefix = prefix.strip("/") or None
        shown = f"{type(store).__name__} prefix {list_prefix or '/'}"
        secrets = _secrets(store)
    return _listed(listed, list_prefix, pattern, shown, secrets)


async def _listed(
    store: ObjectStore, prefix: str | None, pattern: str, shown: str, secrets: tuple[str, ...]
) -> AsyncIterator[UploadSource]:
    obs = _obstore()
    stream: Any = None
    skip = len(prefix) + 1 if prefix else 0
    while True:
        failure: BasicAIError | None = None
        try:
            if stream is None:  # in the try: a store obstore cannot use fails as a listing would
                stream = obs.list(store, prefix, chunk_size=_LIST_PAGE)
            page = await stream.__anext__()
        except StopAsyncIteration:
            return
        except Exception as exc:
            failure = store_error(exc, action="list", url=shown, secrets=secrets)
        if failure is not None:
            raise failure
        for meta in page:
            path = meta["path"]
            relative = path[skip:] if skip and path.startswith(f"{prefix}/") else path
            name = relative.rsplit("/", 1)[-1]
            if meta["size"] == 0 or not name or name.startswith("."):
                # A 0-byte object is most often a console's "folder" marker (obstore drops its
                # trailing "/"); storage refuses an empty upload anyway.
                continue
            if not PurePosixPath(relative).match(pattern):
                continue
            where = f"{shown.rstrip('/')}/{relative}" if "://" in shown else f"{shown}: {relative}"
            yield _source(store, path, name, meta, where, secrets)


def url_sources(
    urls: Iterable[str] | AsyncIterable[str],
) -> AsyncIterator[UploadSource | InvalidSourceError]:
    """Files at ``http(s)://`` URLs as upload sources, in order: one ``HEAD`` each for the size.

    A URL that cannot be read (not found, refused, not http(s), no size) yields
    an ``InvalidSourceError`` in its place: the uploader reports that file failed
    at ``validate`` and goes on. A URL's query (a pre-signed URL's signature) is
    used for reading and never shown. Up to 16 ``HEAD`` requests run at once; a
    pre-signed URL whose store refuses the ``HEAD`` (it was signed for ``GET``) is
    asked with a ``GET`` instead, whose body is not read.

    Example::

        await uploader.upload(42, url_sources(["https://example.com/a.jpg", ...]))
    """
    _obstore()
    return _looked_up(urls)


async def _each(urls: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(urls, AsyncIterable):
        async for url in urls:
            yield url
    else:
        for url in urls:
            yield url


async def _looked_up(
    urls: Iterable[str] | AsyncIterable[str],
) -> AsyncIterator[UploadSource | InvalidSourceError]:
    stores: dict[str, ObjectStore] = {}
    window: list[str] = []
    async for url in _each(urls):
        window.append(url)
        if len(window) >= _HEAD_WINDOW:
            for one in await _head_all(window, stores):
                yield one
            window = []
    for one in await _head_all(window, stores):
        yield one


async def _head_all(
    urls: list[str], stores: dict[str, ObjectStore]
) -> list[UploadSource | InvalidSourceError]:
    found: list[UploadSource | InvalidSourceError | None] = [None] * len(urls)

    async def one(index: int, url: str) -> None:
        found[index] = await _head(url, stores)

    async with anyio.create_task_group() as group:
        for index, url in enumerate(urls):
            group.start_soon(one, index, url)
    return [f for f in found if f is not None]


async def _head(url: str, stores: dict[str, ObjectStore]) -> UploadSource | InvalidSourceError:
    obs = _obstore()
    shown = redact_url(url)
    parts = urlsplit(url)
    name = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    if not is_http_url(url) or not parts.hostname or not name:
        return InvalidSourceError(
            f"{shown} is not the http(s) URL of a file", filename=name or shown, reason="not_a_file"
        )
    secrets = _secrets(url=url)
    options = _client_options(allow_http=parts.scheme == "http")
    failure: ObjectStoreError | None = None
    try:
        if parts.query:
            # A signed URL: its query must travel with every request, so it gets a store of its own.
            store, path = obs.store.HTTPStore.from_url(url, client_options=options), ""
        else:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in stores:
                stores[origin] = obs.store.HTTPStore.from_url(origin, client_options=options)
            store, path = stores[origin], unquote(parts.path.lstrip("/"))
        meta = await obs.head_async(store, path)
    except Exception as exc:
        failure = store_error(exc, action="read", url=shown, secrets=secrets)
    if failure is not None and parts.query:
        # A URL pre-signed for GET (S3, GCS, Azure SAS) signs the method too: the store refuses
        # the HEAD (403, or 405, which obstore reports as "not found"). A GET says the size in
        # its headers (its body is not read), or why the object cannot be read.
        failure = None
        try:
            meta = (await obs.get_async(store, path)).meta
        except Exception as exc:
            failure = store_error(exc, action="read", url=shown, secrets=secrets)
    if failure is not None:
        problem = InvalidSourceError(str(failure), filename=name, reason="unreadable")
        problem.__cause__ = failure
        return problem
    return _source(store, path, name, meta, shown, secrets)
