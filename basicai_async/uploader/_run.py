"""One upload run: what every step of one ``upload`` call shares, in one object.

The target (dataset, batch, scene), the journal, the event consumer, the
PUT's retry policy and timeout, the session and the slots ride here instead of
through every signature: ``put_slots`` cap the PUTs in flight, ``api_slots``
the API calls (the ``api_concurrency`` knob). ``UploadClient`` says what the
uploader needs of the client, so the uploader never imports ``AsyncBasicAI``
(nor its private parts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import aiohttp
import anyio

from .._errors import UploadStage
from .._manifest import Manifest, ManifestEntry, ManifestStatus, ManifestTarget
from .._redact import redact_text
from .._retry import RetryPolicy
from .._sources import UploadSource
from ..models import PresignedUpload, PresignRequest
from ..resources import Data, Items, Storage
from ..telemetry._events import BatchRegistered, BytesSent, FileDone, FileFailed, UploadEvent
from ._report import UploadResult

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
    journal: Manifest | None
    on_event: Callable[[UploadEvent], object] | None
    retry: RetryPolicy
    put_timeout: aiohttp.ClientTimeout
    expiry_margin: timedelta
    put_slots: anyio.Semaphore
    api_slots: anyio.Semaphore
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

    def fail(
        self,
        source: UploadSource,
        result: UploadResult,
        stage: UploadStage,
        exc: BaseException,
        *,
        status: ManifestStatus = ManifestStatus.FAILED,
    ) -> None:
        """Mark ``result`` failed at ``stage`` and journal it (``status``: failed unless told otherwise)."""
        # Messages may quote a URL (aiohttp's do): its signature never reaches a result or the manifest.
        error = redact_text(str(exc))
        result.ok, result.stage, result.error, result.exception = False, stage, error, exc
        self.journal_file(source, result, status, error=f"{stage}: {error}")
        if self.on_event is not None:
            self.on_event(FileFailed(result))

    def maybe(self, source: UploadSource, result: UploadResult, exc: BaseException) -> None:
        """Mark ``result`` maybe registered: registering failed ambiguously and no look-up settled it."""
        result.maybe_registered = True
        self.fail(source, result, "register", exc, status=ManifestStatus.MAYBE_REGISTERED)

    def abort(self, exc: BaseException) -> None:
        """Stop the run: the target itself was refused, so no file can be registered."""
        if self.aborted is None:
            self.aborted = exc

    def registered(self, source: UploadSource, result: UploadResult, data_id: int) -> None:
        """Mark ``result`` registered as ``data_id`` and journal it."""
        result.ok, result.data_id = True, data_id
        self.journal_file(source, result, ManifestStatus.REGISTERED, data_id=data_id)
        if self.on_event is not None:
            self.on_event(FileDone(result))

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
        error: str | None = None,
    ) -> None:
        """Journal ``source`` at ``status``: the one writer of a file's manifest line.

        The line carries the path the file was PUT to and its modification time, so a
        resume matches it to the same file and looks it up by the same object path.
        """
        if self.journal is None:
            return
        self.journal.record(
            ManifestEntry(
                name=source.name,
                size=source.size,
                status=status,
                data_id=data_id,
                path=result.path,
                error=error,
                mtime_ns=source.mtime_ns,
            )
        )
