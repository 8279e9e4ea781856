"""One upload run: what every step of one ``upload`` call shares, in one object.

The target (dataset, batch, scene), the journal, the event consumer, the
PUT's retry policy and timeout, the session, the tally of results and the API
slots ride here instead of through every signature: ``api_slots`` cap the API
calls in flight (the ``api_concurrency`` knob; the PUT workers cap the PUTs). ``UploadClient`` says what the
uploader needs of the client, so the uploader never imports ``AsyncBasicAI``
(nor its private parts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

import aiohttp
import anyio

from .._manifest import ManifestEntry, ManifestStatus, ManifestTarget
from .._manifest_db import ManifestStore
from .._redact import redact_text
from .._retry import RetryPolicy
from .._sources import UploadSource
from ..models import PresignedUpload, PresignRequest
from ..resources import Data, Items, Storage
from ..telemetry._events import BatchRegistered, BytesSent, UploadEvent
from ._highwater import HighWater
from ._report import Tally, UploadResult

__all__ = ["RunAborted", "UploadClient", "UploadRun"]


class RunAborted(Exception):
    """A request was about to go out after the run was aborted; ``reason`` is the target's refusal."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


class UploadClient(Protocol):
    """What the uploader uses of ``AsyncBasicAI``: three resources, its retry policy and session."""

    @property
    def base_url(self) -> str:
        """The API root (a manifest records it with the dataset it belongs to)."""

    @property
    def storage(self) -> Storage:
        """Pre-signs the URLs."""

    @property
    def data(self) -> Data:
        """Registers the files."""

    @property
    def items(self) -> Items:
        """Finds files a crash left mid-registration."""

    @property
    def retry(self) -> RetryPolicy:
        """The backoff the PUTs share with API calls."""

    async def http_session(self) -> aiohttp.ClientSession:
        """The session the PUTs go through."""


@dataclass(slots=True, kw_only=True)
class UploadRun:
    """The state of one ``upload`` call, shared by its batches and PUTs."""

    client: UploadClient
    session: aiohttp.ClientSession
    target: ManifestTarget
    """Where the files go (the dataset, and batch or scene); ``target.parent_id`` is where they are filed."""
    journal: ManifestStore | None
    on_event: Callable[[UploadEvent], object] | None
    tally: Tally
    """Counts the results, keeps those the report holds, and sends each on as ``FileDone``/``FileFailed``."""
    retry: RetryPolicy
    put_timeout: aiohttp.ClientTimeout
    expiry_margin: timedelta
    api_slots: anyio.Semaphore
    high_water: HighWater = field(default_factory=HighWater)
    """The highest data id known at the level, so a look-up lists only what is new (``_highwater``)."""
    aborted: BaseException | None = None
    """A refusal of the whole target (dataset not found, no permission, licence): nothing more is sent."""

    @property
    def dataset_id(self) -> int:
        """The target's dataset."""
        return self.target.dataset_id

    @property
    def batch_id(self) -> int | None:
        """The target's batch, if any."""
        return self.target.batch_id

    @property
    def scene_id(self) -> int | None:
        """The target's scene, if any."""
        return self.target.scene_id

    def stale(self, upload: PresignedUpload) -> bool:
        """Whether a URL expires within the margin (so a PUT might outlive it)."""
        expires = upload.expires_at
        return expires is not None and expires - self.expiry_margin <= datetime.now(timezone.utc)

    async def presign(self, sources: Sequence[UploadSource]) -> list[PresignedUpload]:
        """One fresh URL per source, in order (one API call, holding one of the API slots).

        Raises ``RunAborted`` instead of calling once the run is aborted: a feeder's
        pre-sign or a PUT's renewal waiting for a slot must not spend a call on a
        target already refused.
        """
        requests = [PresignRequest(filename=s.name, size=s.size, device_name=s.device_name) for s in sources]
        async with self.api_slots:
            if self.aborted is not None:
                raise RunAborted(self.aborted)
            return await self.client.storage.presign_uploads(requests)

    def record(self, entry: ManifestEntry) -> None:
        """Journal one file's new state (when the run has a manifest)."""
        if self.journal is not None:
            self.journal.record(entry)

    def fail(self, result: UploadResult, stage: str, exc: BaseException, *, journal: bool = True) -> None:
        """Mark ``result`` failed at ``stage``; ``journal=False`` leaves the manifest's entry as it is."""
        # Messages may quote a URL (aiohttp's do): its signature never reaches a result or the manifest.
        error = redact_text(str(exc))
        result.ok, result.stage, result.error, result.exception = False, stage, error, exc
        if journal:
            self.record(
                ManifestEntry(
                    name=result.name,
                    size=result.size,
                    status=ManifestStatus.FAILED.value,
                    error=f"{stage}: {error}",
                )
            )
        self.tally.finished(result)

    def maybe(self, result: UploadResult, exc: BaseException) -> None:
        """Mark ``result`` maybe registered: registering failed ambiguously and no look-up settled it."""
        result.maybe_registered = True
        self.record(
            ManifestEntry(
                name=result.name,
                size=result.size,
                status=ManifestStatus.MAYBE_REGISTERED.value,
                path=result.path,
                error=f"register: {redact_text(str(exc))}",
            )
        )
        self.fail(result, "register", exc, journal=False)

    def abort(self, exc: BaseException) -> None:
        """Stop the run: the target itself was refused, so no file can be registered."""
        if self.aborted is None:
            self.aborted = exc

    def registered_many(
        self, files: Sequence[tuple[UploadSource, UploadResult]], data_ids: Sequence[int]
    ) -> None:
        """Mark each file registered as its data id, journaled in one write."""
        for (_, result), data_id in zip(files, data_ids, strict=True):
            result.ok, result.data_id = True, data_id
        self.journal_files(files, ManifestStatus.REGISTERED, data_ids=data_ids)
        for _, result in files:
            self.tally.finished(result)

    def journal_files(
        self,
        files: Sequence[tuple[UploadSource, UploadResult]],
        status: ManifestStatus,
        *,
        data_ids: Sequence[int] | None = None,
        after: int | None = None,
    ) -> None:
        """Journal many files at ``status`` in one write (one transaction in an SQLite manifest)."""
        if self.journal is None:
            return
        ids = data_ids if data_ids is not None else [None] * len(files)
        self.journal.record_many(
            [
                ManifestEntry(
                    name=source.name,
                    size=source.size,
                    status=status.value,
                    data_id=data_id,
                    path=result.path,
                    mtime_ns=source.mtime_ns,
                    after=after,
                )
                for (source, result), data_id in zip(files, ids, strict=True)
            ]
        )

    def registered(self, source: UploadSource, result: UploadResult, data_id: int) -> None:
        """Mark ``result`` registered as ``data_id`` and journal it."""
        result.ok, result.data_id = True, data_id
        self.journal_file(source, result, ManifestStatus.REGISTERED, data_id=data_id)
        self.tally.finished(result)

    def batch_registered(self, files: int) -> None:
        """Tell the consumer a registration call registered ``files`` files (before their ``FileDone``)."""
        if self.on_event is not None:
            self.on_event(BatchRegistered(files))

    def bytes_counter(self) -> Callable[[int], None] | None:
        """What a PUT's body tells each chunk's size, or None when nobody listens."""
        on_event = self.on_event
        if on_event is None:
            return None

        def sent(nbytes: int) -> None:
            on_event(BytesSent(nbytes))

        return sent

    def journal_file(
        self,
        source: UploadSource,
        result: UploadResult,
        status: ManifestStatus,
        *,
        data_id: int | None = None,
    ) -> None:
        """Journal ``source`` at ``status`` with the path it was PUT to and its modification time."""
        self.record(
            ManifestEntry(
                name=source.name,
                size=source.size,
                status=status.value,
                data_id=data_id,
                path=result.path,
                mtime_ns=source.mtime_ns,
            )
        )
