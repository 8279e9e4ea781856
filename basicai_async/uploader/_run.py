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
from typing import TYPE_CHECKING, Protocol

import aiohttp
import anyio

from .._errors import UploadStage
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

if TYPE_CHECKING:
    from ..telemetry._otel import Telemetry

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

    @property
    def telemetry(self) -> Telemetry | None:
        """The client's spans and metrics (None without OpenTelemetry)."""

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
    small_put_timeout: aiohttp.ClientTimeout
    """The same limit for a small body (sent in one write): one timer for the whole PUT, not one
    re-armed at every read, since such a PUT is all waiting for the answer anyway."""
    expiry_margin: timedelta
    api_slots: anyio.Semaphore
    high_water: HighWater = field(default_factory=HighWater)
    """The highest data id known at the level, so a look-up lists only what is new (``_highwater``)."""
    telemetry: Telemetry | None = None
    """The client's spans and metrics: the run's batches and file counts go there."""
    aborted: BaseException | None = None
    """A refusal of the whole target (dataset not found, no permission, licence): nothing more is sent."""
    unsettled: BaseException | None = None
    """Why the files an earlier run left unsure could not be looked up (``settle_unsure``): they are
    held back from this run, still maybe registered, never sent again."""
    _register_paths: dict[int, str] = field(default_factory=dict)

    def stored(self, result: UploadResult, upload: PresignedUpload) -> None:
        """``result``'s file is in storage at ``upload``: keep the path to register, show a redacted one.

        The path storage wants registered may be a signed URL (the platform's
        ``accessUrl``); it is sent exactly as received, so the run keeps it here,
        by result, while results, the manifest and messages hold only
        ``upload.display_path``.
        """
        result.path = upload.display_path
        self._register_paths[id(result)] = upload.register_path
        if self.telemetry is not None:
            self.telemetry.bytes_stored(result.size)

    def register_path(self, result: UploadResult) -> str:
        """The exact path to register ``result``'s file under (see :meth:`stored`)."""
        return self._register_paths.get(id(result), result.path or "")

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
        self._register_paths.pop(id(result), None)
        self.tally.finished(result)

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
        self._register_paths.pop(id(result), None)
        self.tally.finished(result)

    def registered_many(
        self, files: Sequence[tuple[UploadSource, UploadResult]], data_ids: Sequence[int]
    ) -> None:
        """Mark each file registered as its data id, journaled in one write."""
        for (_, result), data_id in zip(files, data_ids, strict=True):
            result.ok, result.data_id = True, data_id
        self.journal_files(files, ManifestStatus.REGISTERED, data_ids=data_ids)
        for _, result in files:
            self._register_paths.pop(id(result), None)
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
        error: str | None = None,
    ) -> None:
        """Journal ``source`` at ``status``: the one writer of a file's manifest line.

        The line carries the path the file was PUT to and its modification time, so a
        resume matches it to the same file and looks it up by the same object path.
        """
        if self.journal is not None:
            self.journal.record(_line(source, result, status, data_id, error, None))

    def journal_files(
        self,
        files: Sequence[tuple[UploadSource, UploadResult]],
        status: ManifestStatus,
        *,
        data_ids: Sequence[int] | None = None,
        after: int | None = None,
    ) -> None:
        """``journal_file`` for a batch, in one write (one transaction in an SQLite manifest).

        ``after`` (on ``registering`` lines) is the high-water mark the call is sent with.
        """
        if self.journal is None:
            return
        ids: Sequence[int | None] = data_ids if data_ids is not None else [None] * len(files)
        self.journal.record_many(
            [_line(s, r, status, i, None, after) for (s, r), i in zip(files, ids, strict=True)]
        )


def _line(
    source: UploadSource,
    result: UploadResult,
    status: ManifestStatus,
    data_id: int | None,
    error: str | None,
    after: int | None,
) -> ManifestEntry:
    return ManifestEntry(
        name=source.name,
        size=source.size,
        status=status,
        data_id=data_id,
        path=result.path,
        error=error,
        mtime_ns=source.mtime_ns,
        after=after,
    )
