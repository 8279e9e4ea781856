"""Bulk upload: pre-sign -> PUT to object storage -> register, concurrently, one result per file.

The uploader never reports success for a file that is not registered in the
dataset, and never loses one silently: every source gets an ``UploadResult``
saying where it ended (its data id, or the stage and reason it failed).

- Pre-signing happens in batches of up to 100 files, just before their PUTs, so
  URLs do not go stale while earlier batches upload; a URL that is about to
  expire, or that storage refuses with 403, is pre-signed again.
- PUTs stream each file with ``Content-Length`` (S3 refuses chunked bodies),
  carry no ``Authorization`` header (the API key never goes to storage), and are
  retried on 5xx and connection errors with the pipeline's backoff.
- Registration uses ``batchAddData``, one call per batch of up to 100; a batch
  the server refuses as a whole is split in halves until the bad file fails
  alone, so one unsupported file costs a few calls, not its neighbours. With a
  manifest, each file's outcome is journaled as it happens, so rerunning an interrupted upload with the same
  manifest skips what is done and registers nothing twice.

Example::

    async with AsyncBasicAI() as client:
        report = await client.uploader().upload(dataset_id, Path("images").glob("*.jpg"))
        report.raise_for_failures()
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

import aiohttp
import anyio

from ._constants import BODY_SNIPPET, MAX_BATCH_ITEMS, MAX_PRESIGNED_SIZE
from ._errors import (
    APIConnectionError,
    APIResponseError,
    BasicAIError,
    FileTooLargeError,
    ServerError,
    UploadError,
)
from ._http import RetryConfig
from ._manifest import Manifest, ManifestEntry
from ._sources import UploadSource
from .models import FileRef, NewData, PresignedUpload, PresignRequest

if TYPE_CHECKING:
    from ._client import AsyncBasicAI

__all__ = ["UploadProgress", "UploadReport", "UploadResult", "Uploader"]

_PRESIGN_BATCH = MAX_BATCH_ITEMS


@dataclass(slots=True)
class UploadResult:
    """What became of one source.

    ``ok`` is True only once the file is registered (``data_id`` set). Otherwise
    ``stage`` says where it failed (``validate``, ``presign``, ``put``, ``register``)
    and ``error`` why. ``resumed`` marks a file a manifest already had registered.
    """

    name: str
    size: int
    ok: bool = False
    data_id: int | None = None
    path: str | None = None
    stage: str | None = None
    error: str | None = None
    resumed: bool = False
    exception: BaseException | None = field(default=None, repr=False)


@dataclass(slots=True)
class UploadReport:
    """All results of one ``upload`` call, in the order of its sources."""

    results: list[UploadResult]

    @property
    def succeeded(self) -> list[UploadResult]:
        """The registered files."""
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[UploadResult]:
        """The files that are not registered."""
        return [r for r in self.results if not r.ok]

    @property
    def bytes_uploaded(self) -> int:
        """Bytes of the registered files."""
        return sum(r.size for r in self.results if r.ok)

    def raise_for_failures(self) -> None:
        """Raise ``UploadError`` for the first failed file, naming how many failed."""
        failed = self.failed
        if failed:
            first = failed[0]
            raise UploadError(
                f"{len(failed)} of {len(self.results)} files failed; first: "
                f"{first.name} at {first.stage}: {first.error}",
                filename=first.name,
                stage=first.stage or "unknown",
            )


class UploadProgress(Protocol):
    """Callbacks an upload reports to (the CLI draws progress bars with them)."""

    def started(self, files: int, total_bytes: int) -> None:
        """The upload begins with this many files and bytes to do."""

    def advanced(self, nbytes: int) -> None:
        """``nbytes`` more were sent (negative when a retry starts a file over)."""

    def finished(self, result: UploadResult) -> None:
        """One file reached its final state."""


class _NoProgress:
    def started(self, files: int, total_bytes: int) -> None:
        pass

    def advanced(self, nbytes: int) -> None:
        pass

    def finished(self, result: UploadResult) -> None:
        pass


class _BatchUrls:
    """One batch's pre-signed URLs, handed out as PUTs start and renewed together.

    PUTs wait for a free slot, so a URL can go stale before its turn. The first
    PUT to find its URL stale renews every stale URL still waiting in one call,
    rather than each file paying a call of its own. A URL is renewed here once at
    most: one that is stale again at once (a server clock far off) goes to its PUT,
    and storage's answer says what is wrong.
    """

    __slots__ = ("_lock", "_uploader", "_waiting")

    def __init__(
        self, uploader: Uploader, sources: Sequence[UploadSource], uploads: Sequence[PresignedUpload]
    ) -> None:
        self._uploader = uploader
        self._waiting = {s.name: (s, u, False) for s, u in zip(sources, uploads, strict=True)}
        self._lock = anyio.Lock()

    async def take(self, source: UploadSource) -> tuple[PresignedUpload, bool]:
        """The URL for ``source`` and whether it was renewed."""
        stale = self._uploader._stale
        _, upload, renewed = self._waiting[source.name]
        if renewed or not stale(upload):
            # The common case takes no lock (anyio's yields to the loop on every acquire).
            del self._waiting[source.name]
            return upload, renewed
        async with self._lock:
            # Still listed while it waited: a renewal just before may have covered it.
            _, upload, renewed = self._waiting.pop(source.name)
            if renewed or not stale(upload):
                return upload, renewed
            others = [s for s, u, r in self._waiting.values() if not r and stale(u)]
            fresh = await self._uploader._presign([source, *others])
            for other, new in zip(others, fresh[1:], strict=True):
                self._waiting[other.name] = (other, new, True)
            return fresh[0], True


class _PutFailed(Exception):
    def __init__(self, message: str, *, retryable: bool, refused: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.refused = refused


class Uploader:
    """Uploads files into a dataset: pre-sign, PUT concurrently, register.

    Args:
        client: the client whose limiter, retries and session the API calls use.
        concurrency: PUTs in flight at once (default 16, sized for one machine).
        put_retries: retries of one PUT after a 5xx or a connection error.
        expiry_margin: a pre-signed URL expiring within this many seconds is renewed first.
        put_timeout: seconds one PUT may go without reading or writing a byte.
        progress: callbacks for progress display.
    """

    def __init__(
        self,
        client: AsyncBasicAI,
        *,
        concurrency: int = 16,
        put_retries: int = 3,
        expiry_margin: float = 30.0,
        put_timeout: float = 120.0,
        progress: UploadProgress | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if put_retries < 0:
            raise ValueError(f"put_retries must be >= 0, got {put_retries}")
        self._client = client
        self._concurrency = concurrency
        self._retry = RetryConfig(max_retries=put_retries)
        self._expiry_margin = timedelta(seconds=expiry_margin)
        self._put_timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=put_timeout)
        self._progress: UploadProgress = progress or _NoProgress()

    async def upload(
        self,
        dataset_id: int,
        sources: Iterable[UploadSource | str | os.PathLike[str]],
        *,
        batch_id: int | None = None,
        scene_id: int | None = None,
        manifest: str | os.PathLike[str] | Manifest | None = None,
    ) -> UploadReport:
        """Upload and register every source into ``dataset_id`` (or one of its batches or scenes).

        Returns one result per source, in order. Files over 1 GB, duplicate names
        and unreadable paths fail at ``validate`` without any call.
        """
        results: list[UploadResult] = []
        todo: list[tuple[UploadSource, UploadResult]] = []
        seen: set[str] = set()
        for item in sources:
            source, result = self._validate(item, seen)
            results.append(result)
            if source is not None:
                todo.append((source, result))

        journal = manifest if isinstance(manifest, Manifest) else Manifest(manifest) if manifest else None
        try:
            if journal is not None:
                todo = await self._resume(journal, dataset_id, batch_id or scene_id, todo)
            for result in results:
                if result.stage is not None or result.resumed:
                    self._progress.finished(result)
            self._progress.started(len(todo), sum(s.size for s, _ in todo))

            put_slots = anyio.CapacityLimiter(self._concurrency)
            # Enough batches in flight to keep every PUT slot busy while one batch registers.
            batch_slots = anyio.Semaphore(max(2, math.ceil(self._concurrency / _PRESIGN_BATCH) + 1))
            async with anyio.create_task_group() as tg:
                for start in range(0, len(todo), _PRESIGN_BATCH):
                    await batch_slots.acquire()
                    tg.start_soon(
                        self._run_batch,
                        todo[start : start + _PRESIGN_BATCH],
                        dataset_id,
                        batch_id,
                        scene_id,
                        journal,
                        put_slots,
                        batch_slots,
                    )
        finally:
            if journal is not None and not isinstance(manifest, Manifest):
                journal.close()
        return UploadReport(results)

    def _validate(
        self, item: UploadSource | str | os.PathLike[str], seen: set[str]
    ) -> tuple[UploadSource | None, UploadResult]:
        if not isinstance(item, UploadSource):
            path = item
            try:
                item = UploadSource.from_path(path)
            except OSError as exc:
                name = os.fspath(path)
                return None, UploadResult(
                    name, 0, stage="validate", error=f"cannot read file: {exc}", exception=exc
                )
        result = UploadResult(item.name, item.size)
        if item.size > MAX_PRESIGNED_SIZE:
            too_large = FileTooLargeError(
                f"{item.name} is {item.size} bytes; pre-signed uploads take at most 1 GB "
                "(BasicAI's STS method for larger files is not released yet)",
                filename=item.name,
                stage="validate",
            )
            result.stage, result.error, result.exception = "validate", str(too_large), too_large
            return None, result
        if item.name in seen:
            result.stage, result.error = "validate", f"duplicate file name {item.name!r} in this upload"
            return None, result
        seen.add(item.name)
        return item, result

    async def _resume(
        self,
        journal: Manifest,
        dataset_id: int,
        parent_id: int | None,
        todo: list[tuple[UploadSource, UploadResult]],
    ) -> list[tuple[UploadSource, UploadResult]]:
        """Drop what the manifest has registered; look up files a crash left mid-registration."""
        unsure = {
            s.name: r
            for s, r in todo
            if (e := journal.get(s.name, s.size)) is not None and e.status == "registering"
        }
        found: dict[str, int] = {}
        if unsure:
            items = self._client.items.iter_by_id(dataset_id, parent_id=parent_id)
            async for item in items:
                if item.is_data and item.name in unsure:
                    found[item.name] = item.id
        remaining = []
        for source, result in todo:
            entry = journal.get(source.name, source.size)
            data_id = entry.data_id if entry is not None and entry.status == "registered" else None
            data_id = data_id or found.get(source.name)
            if data_id is not None:
                result.ok, result.data_id, result.resumed = True, data_id, True
                result.path = entry.path if entry is not None else None
                if entry is None or entry.status != "registered":
                    journal.record(
                        ManifestEntry(
                            name=source.name, size=source.size, status="registered", data_id=data_id
                        )
                    )
            else:
                remaining.append((source, result))
        return remaining

    async def _run_batch(
        self,
        batch: Sequence[tuple[UploadSource, UploadResult]],
        dataset_id: int,
        batch_id: int | None,
        scene_id: int | None,
        journal: Manifest | None,
        put_slots: anyio.CapacityLimiter,
        batch_slots: anyio.Semaphore,
    ) -> None:
        try:
            try:
                uploads = await self._presign([s for s, _ in batch])
            except BasicAIError as exc:
                for _, result in batch:
                    self._fail(result, "presign", exc, journal)
                return
            urls = _BatchUrls(self, [s for s, _ in batch], uploads)
            uploaded: list[tuple[UploadSource, UploadResult]] = []
            async with anyio.create_task_group() as tg:
                for source, result in batch:
                    tg.start_soon(self._put_one, source, result, urls, put_slots, uploaded, journal)
            if uploaded:
                await self._register(uploaded, dataset_id, batch_id, scene_id, journal)
        finally:
            batch_slots.release()

    async def _presign(self, sources: Sequence[UploadSource]) -> list[PresignedUpload]:
        requests = [PresignRequest(filename=s.name, size=s.size, device_name=s.device_name) for s in sources]
        return await self._client.storage.presign_uploads(requests)

    async def _put_one(
        self,
        source: UploadSource,
        result: UploadResult,
        urls: _BatchUrls,
        put_slots: anyio.CapacityLimiter,
        uploaded: list[tuple[UploadSource, UploadResult]],
        journal: Manifest | None,
    ) -> None:
        async with put_slots:
            try:
                upload, renewed = await urls.take(source)
                upload = await self._put(source, upload, renewed=renewed)
            except _PutFailed as exc:
                # Users get the public error type, never this module's private one.
                failed = UploadError(str(exc), filename=source.name, stage="put")
                failed.__cause__ = exc.__cause__
                self._fail(result, "put", failed, journal)
                return
            except BasicAIError as exc:
                # The only API call inside a PUT is renewing its URL.
                self._fail(result, "presign", exc, journal)
                return
            except OSError as exc:
                self._fail(result, "put", exc, journal)
                return
        result.path = upload.register_path
        uploaded.append((source, result))

    def _stale(self, upload: PresignedUpload) -> bool:
        """Whether a URL expires within the margin (so a PUT might outlive it)."""
        expires = upload.expires_at
        return expires is not None and expires - self._expiry_margin <= datetime.now(timezone.utc)

    async def _put(
        self, source: UploadSource, upload: PresignedUpload, *, renewed: bool = False
    ) -> PresignedUpload:
        """PUT one file, renewing its URL when stale or refused, retrying 5xx and dropped connections.

        ``renewed`` says the URL was just issued again, so a refusal will not renew it once more.
        """
        session = await self._client._get_session()
        retry = 0
        first = True
        while True:
            if not first and self._stale(upload):
                # A retry's backoff outlived the URL.
                (upload,) = await self._presign([source])
                renewed = True
            first = False
            sent = 0
            read_error: BaseException | None = None

            async def body() -> AsyncIterator[bytes]:
                nonlocal sent, read_error
                try:
                    async for chunk in source.open():
                        sent += len(chunk)
                        self._progress.advanced(len(chunk))
                        yield chunk
                except Exception as exc:
                    read_error = exc
                    raise

            try:
                await self._put_once(session, source, upload.pre_signed_url, body())
                return upload
            except _PutFailed as exc:
                self._progress.advanced(-sent)
                if read_error is not None:
                    # aiohttp reports a failing body as a connection error; it is a local
                    # one (file gone, unreadable stream) that a retry would only repeat.
                    message = f"cannot read {source.name}: {type(read_error).__name__}: {read_error}"
                    raise _PutFailed(message, retryable=False) from read_error
                if exc.refused and not renewed:
                    # Storage refused the signature (expired in flight, clock skew): one fresh URL.
                    (upload,) = await self._presign([source])
                    renewed = True
                    continue
                if not exc.retryable or retry >= self._retry.max_retries:
                    raise
                retry += 1
                await anyio.sleep(self._retry.backoff(retry, random.random()))

    async def _put_once(
        self, session: aiohttp.ClientSession, source: UploadSource, url: str, body: AsyncIterator[bytes]
    ) -> None:
        # Explicit Content-Length keeps aiohttp from chunked encoding, which S3 refuses;
        # only these two headers go to storage, never the API key.
        headers = {"Content-Length": str(source.size), "Content-Type": source.mime_type}
        try:
            async with session.put(url, data=body, headers=headers, timeout=self._put_timeout) as resp:
                text = (await resp.read())[:BODY_SNIPPET].decode("utf-8", errors="replace")
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            # aiohttp's messages quote the URL; its signature is a credential, keep it out.
            reason = str(exc).replace(url, url.split("?", 1)[0])
            raise _PutFailed(f"PUT failed: {type(exc).__name__}: {reason}", retryable=True) from exc
        if 200 <= status < 300:
            return
        raise _PutFailed(
            f"storage answered HTTP {status}: {text}", retryable=status >= 500, refused=status == 403
        )

    async def _register(
        self,
        uploaded: list[tuple[UploadSource, UploadResult]],
        dataset_id: int,
        batch_id: int | None,
        scene_id: int | None,
        journal: Manifest | None,
    ) -> None:
        items = [
            NewData(
                name=source.name,
                files=[
                    FileRef(
                        path=result.path or "",
                        size=source.size,
                        mime_type=source.mime_type,
                        device_name=source.device_name,
                    )
                ],
                batch_id=batch_id,
                scene_id=scene_id,
            )
            for source, result in uploaded
        ]
        if journal is not None:
            for source, result in uploaded:
                journal.record(
                    ManifestEntry(name=source.name, size=source.size, status="registering", path=result.path)
                )
        try:
            created = await self._client.data.add_many(dataset_id, items)
        except APIResponseError as exc:
            # The server refused the batch as a whole (batchAddData is all or none):
            # split it so one bad file (an unsupported format, say) fails alone.
            if len(uploaded) > 1:
                half = len(uploaded) // 2
                await self._register(uploaded[:half], dataset_id, batch_id, scene_id, journal)
                await self._register(uploaded[half:], dataset_id, batch_id, scene_id, journal)
                return
            self._fail(uploaded[0][1], "register", exc, journal)
            return
        except BasicAIError as exc:
            # After an ambiguous failure the files may be registered: leave them
            # "registering" so a resumed run looks them up instead of adding twice.
            ambiguous = isinstance(exc, (APIConnectionError, ServerError))
            for _, result in uploaded:
                self._fail(result, "register", exc, None if ambiguous else journal)
            return
        if len(created) != len(uploaded):
            # Never guess which file an answer belongs to: a mismatch fails the batch loudly.
            mismatch = UploadError(
                f"batchAddData answered {len(created)} items for {len(uploaded)} files",
                filename=uploaded[0][0].name,
                stage="register",
            )
            for _, result in uploaded:
                self._fail(result, "register", mismatch, None)
            return
        for (source, result), item in zip(uploaded, created, strict=True):
            result.ok, result.data_id = True, item.id
            if journal is not None:
                journal.record(
                    ManifestEntry(
                        name=source.name,
                        size=source.size,
                        status="registered",
                        data_id=item.id,
                        path=result.path,
                    )
                )
            self._progress.finished(result)

    def _fail(self, result: UploadResult, stage: str, exc: BaseException, journal: Manifest | None) -> None:
        result.ok, result.stage, result.error, result.exception = False, stage, str(exc), exc
        if journal is not None:
            journal.record(
                ManifestEntry(name=result.name, size=result.size, status="failed", error=f"{stage}: {exc}")
            )
        self._progress.finished(result)
