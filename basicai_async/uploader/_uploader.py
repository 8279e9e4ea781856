"""``Uploader``: checks the sources, resumes from a manifest, and runs the batches of one upload."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from contextlib import nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio

from .._concurrency import DEFAULT_API_CONCURRENCY, check_api_concurrency
from .._manifest import Manifest, ManifestTarget
from .._manifest_db import ManifestStore, SqliteManifest, open_manifest
from .._shard import ShardSpec, as_shard, shard_sources, shard_sources_async
from ..telemetry._events import UploadEvent, UploadFinished, emitting
from ._batch import upload_batches
from ._checks import Source, check_target
from ._feed import batches
from ._report import Tally, UploadReport
from ._resume import settle_unsure
from ._run import UploadClient, UploadRun
from ._storage import storage_session

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..telemetry._otel import Telemetry

__all__ = ["Uploader"]

Sources = Iterable[Source] | AsyncIterable[Source]


class Uploader:
    """Uploads files into a dataset: pre-sign, PUT concurrently, register.

    Args:
        client: the client whose limiter, retries and session the API calls use.
        concurrency: PUTs in flight at once (default 16, sized for one machine).
        api_concurrency: API calls in flight at once (pre-signs, registrations,
            lookups; default 20, enough for BasicAI's 100 calls/s at 200 ms round
            trips). It only caps the calls outstanding: the client's rate limiter
            decides when each may go.
        put_retries: retries of one PUT after a 5xx or a connection error (with the
            client's ``RetryPolicy`` backoff).
        expiry_margin: a pre-signed URL expiring within this many seconds is renewed first.
        put_timeout: seconds one PUT may go without reading or writing a byte (a small file's
            PUT, of up to 64 KiB sent in one write, must be over within it).
        on_event: called with each progress event of every upload (``UploadStarted``,
            ``BytesSent``, ``FileDone``, ``FileFailed``, ``BatchRegistered``,
            ``LimiterWaited``, ``UploadFinished``), on the event loop, in order. It
            must return quickly; an exception it raises stops the upload.
            ``FileDone`` carries each registered file's ``UploadResult``.
    """

    def __init__(
        self,
        client: UploadClient,
        *,
        concurrency: int = 16,
        put_retries: int = 3,
        expiry_margin: float = 30.0,
        put_timeout: float = 120.0,
        on_event: Callable[[UploadEvent], object] | None = None,
        api_concurrency: int = DEFAULT_API_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if put_retries < 0:
            raise ValueError(f"put_retries must be >= 0, got {put_retries}")
        if on_event is not None and not callable(on_event):
            raise TypeError(f"on_event must be a callable taking one event, got {type(on_event).__name__}")
        self._client = client
        self._concurrency = concurrency
        self._api_concurrency = check_api_concurrency(api_concurrency)
        self._retry = dataclasses.replace(client.retry, max_retries=put_retries)
        self._expiry_margin = timedelta(seconds=expiry_margin)
        self._put_timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=put_timeout)
        self._small_put_timeout = aiohttp.ClientTimeout(total=put_timeout, sock_connect=30)
        self._on_event = on_event

    async def upload(
        self,
        dataset_id: int,
        sources: Sources,
        *,
        batch_id: int | None = None,
        scene_id: int | None = None,
        manifest: str | os.PathLike[str] | Manifest | SqliteManifest | None = None,
        shard: ShardSpec | None = None,
    ) -> UploadReport:
        """Upload and register every source into ``dataset_id`` (or one of its batches or scenes).

        Returns the run's report: for up to ``KEEP_RESULTS`` (10,000) files one
        result per source, in order; past that the counts and the files not
        registered, so memory stays flat however many files go (each registered
        file is still sent as a ``FileDone`` event, and is in the manifest).
        Sources are taken lazily, a window at a time (``_feed``): a generator, a
        directory walk or a bucket listing of any length is never listed whole.
        Ids are checked before any request
        (``TypeError``/``ValueError``). A source that cannot be uploaded (missing,
        unreadable, a directory, empty, a name that is not UTF-8, over 1 GB, a
        duplicate name) fails alone at ``validate``, without any call.

        ``sources`` may be an async iterable (``object_sources("s3://bucket/prefix/")``).
        An item may also be an ``InvalidSourceError`` (what ``url_sources`` yields for
        a URL it cannot read): that file fails at ``validate``.

        ``shard=(i, n)`` (or ``Shard(i, n)``, ``"i/n"``) uploads only the sources whose
        name hashes to shard ``i`` of ``n`` (see ``Shard``): run ``n`` workers over the
        same sources, each with its own shard and manifest, to split one job.

        ``manifest`` is bound to this target (the client's base URL, the dataset and
        the batch or scene, and the shard): one written for another target raises
        ``ManifestMismatchError`` before any request. A path ending in ``.jsonl``
        keeps JSON lines (its records in memory); any other is an SQLite manifest
        (``SqliteManifest``: indexed, for millions of files), which adopts a
        JSON-lines manifest found at that path.
        """
        return await self._upload(dataset_id, sources, batch_id, scene_id, manifest, shard, self._on_event)

    async def events(
        self,
        dataset_id: int,
        sources: Sources,
        *,
        batch_id: int | None = None,
        scene_id: int | None = None,
        manifest: str | os.PathLike[str] | Manifest | SqliteManifest | None = None,
        shard: ShardSpec | None = None,
    ) -> AsyncGenerator[UploadEvent, None]:
        """Run ``upload`` and yield its events as they happen; the last is ``UploadFinished``.

        The same events an ``on_event`` consumer gets (that consumer is called
        too). An error that stops the upload is raised here once the events
        before it are taken. Events wait in memory until taken, so keep up with
        them. Closing the iterator early (``contextlib.aclosing`` closes it as the
        loop is left) cancels the upload; with a manifest, a rerun resumes it.

        Example::

            async for event in client.uploader().events(dataset_id, paths):
                if isinstance(event, FileDone):
                    store(event.result.name, event.result.data_id)
                elif isinstance(event, FileFailed):
                    log.warning("%s: %s", event.result.name, event.result.error)
        """
        send, receive = anyio.create_memory_object_stream[UploadEvent](math.inf)
        also = self._on_event

        def both(event: UploadEvent) -> None:
            if also is not None:
                also(event)
            send.send_nowait(event)

        async def run() -> None:
            with send:
                await self._upload(dataset_id, sources, batch_id, scene_id, manifest, shard, both)

        # A plain task, not a task group: the consumer may stop early, and this
        # generator is then closed from another task, which a cancel scope forbids.
        task = asyncio.ensure_future(run())
        try:
            with receive:
                async for event in receive:
                    yield event
            await task
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _upload(
        self,
        dataset_id: int,
        sources: Sources,
        batch_id: int | None,
        scene_id: int | None,
        manifest: str | os.PathLike[str] | Manifest | SqliteManifest | None,
        shard: ShardSpec | None,
        on_event: Callable[[UploadEvent], object] | None,
    ) -> UploadReport:
        check_target(dataset_id, batch_id, scene_id)
        part = as_shard(shard)
        target = ManifestTarget(
            base_url=self._client.base_url,
            dataset_id=dataset_id,
            batch_id=batch_id,
            scene_id=scene_id,
            shard=None if part is None else str(part),
        )
        journal: ManifestStore | None = None
        if isinstance(manifest, (Manifest, SqliteManifest)):
            manifest.bind(target)
            journal = manifest
        elif manifest:
            journal = open_manifest(manifest, target=target)
        if part is not None:
            sources = (
                shard_sources_async(sources, part)
                if isinstance(sources, AsyncIterable)
                else shard_sources(sources, part)
            )
        api_slots = anyio.Semaphore(self._api_concurrency)
        telemetry = self._client.telemetry
        try:
            async with storage_session(await self._client.http_session()) as session:
                with emitting(on_event), _run_span(telemetry, target) as span:
                    run = UploadRun(
                        client=self._client,
                        session=session,
                        target=target,
                        journal=journal,
                        on_event=on_event,
                        tally=Tally(on_event, telemetry=telemetry),
                        retry=self._retry,
                        put_timeout=self._put_timeout,
                        small_put_timeout=self._small_put_timeout,
                        expiry_margin=self._expiry_margin,
                        api_slots=api_slots,
                        telemetry=telemetry,
                    )
                    await settle_unsure(run)
                    await upload_batches(
                        run,
                        batches(run, sources),
                        concurrency=self._concurrency,
                        api_concurrency=self._api_concurrency,
                    )
                    if span is not None:
                        _finished(span, run.tally.report())
        finally:
            if journal is not None and manifest is not journal:
                journal.close()
        report = run.tally.report()
        if on_event is not None:
            on_event(UploadFinished(report))
        return report


def _run_span(telemetry: Telemetry | None, target: ManifestTarget) -> Any:
    """The span of the whole run (its calls and batches nest under it), or nothing."""
    if telemetry is None:
        return nullcontext()
    attributes = {"basicai.dataset.id": target.dataset_id}
    if target.batch_id is not None:
        attributes["basicai.batch.id"] = target.batch_id
    if target.scene_id is not None:
        attributes["basicai.scene.id"] = target.scene_id
    return telemetry.run_span("basicai.upload", attributes)


def _finished(span: Span, report: UploadReport) -> None:
    """Say on the run's span how its files ended."""
    span.set_attribute("basicai.upload.files", report.total)
    span.set_attribute("basicai.upload.registered", report.registered_count)
    span.set_attribute("basicai.upload.resumed", report.resumed_count)
    span.set_attribute("basicai.upload.maybe_registered", report.maybe_registered_count)
    span.set_attribute(
        "basicai.upload.failed", report.total - report.registered_count - report.maybe_registered_count
    )
