"""The upload's pipeline: batches pre-signed ahead, PUTs dispatched in order, registration beside them.

Three stages overlap, so no API round trip sits on the PUTs' critical path:

- **Pre-sign ahead.** A feeder pre-signs the batches (up to 100 files each) in
  order while up to ``ahead`` batches hold URLs not yet handed to a PUT, so the
  next batch's URLs are there before the PUT slots run dry. ``ahead`` covers a
  pre-sign round trip of up to ``ROUNDS_AHEAD`` PUT round trips at full
  concurrency (an API call across the internet against a small file's PUT).
- **PUT.** A dispatcher hands the files in source order to ``concurrency``
  long-lived PUT workers (a task per file would cost more CPU than a small
  file's PUT), one file per free worker; a worker only ever PUTs, never waits
  on an API call of its batch.
- **Register.** When the last PUT of a batch finishes, the batch is registered
  in a task of its own while later batches PUT.

API calls (pre-signs, renewals, registrations) each take one of the run's
``api_slots`` (the ``api_concurrency`` knob) for as long as they are in flight;
the client's rate limiter alone decides when each may go. Memory is bounded
whatever the number of sources (they come lazily, from ``_feed``): at most
``ahead`` batches of URLs wait, at most ``concurrency`` PUTs run, and a window of batches between pre-sign and
registration (``ahead``, those PUTing and ``api_concurrency`` registering)
makes the feeder wait when registration falls behind.

A refusal of the target itself (``TARGET_REFUSALS``: the dataset not found, no
permission, an expired licence) stops the run: every file not yet sent fails
at the ``aborted`` stage and no further request goes out.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._constants import MAX_BATCH_ITEMS
from .._errors import BasicAIError, UploadError, UploadStage
from .._sources import UploadSource
from ._put import PutFailed, put_file
from ._register import TARGET_REFUSALS, register
from ._report import UploadResult
from ._run import RunAborted, UploadRun
from ._urls import BatchUrls

if TYPE_CHECKING:
    from opentelemetry.trace import Span

__all__ = ["ROUNDS_AHEAD", "batches_ahead", "upload_batches"]

ROUNDS_AHEAD = 4
"""PUT round trips (at full concurrency) a pre-sign may take without the slots running dry."""

Files = Sequence[tuple[UploadSource, UploadResult]]
_Put = tuple["_Batch", BatchUrls, UploadSource, UploadResult]


def batches_ahead(concurrency: int) -> int:
    """Batches pre-signed ahead of the PUTs: files for ``ROUNDS_AHEAD`` rounds past the batch PUTing."""
    return math.ceil(ROUNDS_AHEAD * concurrency / MAX_BATCH_ITEMS) + 1


class _Batch:
    """One batch on its way through the pipeline."""

    __slots__ = ("error", "files", "left", "signed", "span", "uploaded", "urls")

    def __init__(self, files: Files, span: Span | None) -> None:
        self.files = files
        # The batch's span (with OpenTelemetry): its pre-sign and registration calls nest under it.
        self.span = span
        self.signed = anyio.Event()
        self.urls: BatchUrls | None = None
        self.error: BasicAIError | None = None
        self.left = len(files)
        self.uploaded: list[tuple[UploadSource, UploadResult]] = []

    def end_span(self) -> None:
        """End the batch's span, saying how its files ended."""
        if self.span is not None:
            registered = sum(r.ok for _, r in self.files)
            self.span.set_attribute("basicai.upload.registered", registered)
            self.span.set_attribute("basicai.upload.failed", len(self.files) - registered)
            self.span.end()


class _Pipeline:
    """One run's feeder, dispatcher and PUT workers, sharing the stage limits."""

    def __init__(self, run: UploadRun, concurrency: int, api_concurrency: int) -> None:
        self._run = run
        self._concurrency = concurrency
        self._slots = anyio.Semaphore(concurrency)
        """Files handed to the workers and not yet PUT: at most one per worker."""
        ahead = batches_ahead(concurrency)
        self._ahead = anyio.Semaphore(ahead)
        putting = math.ceil(concurrency / MAX_BATCH_ITEMS) + 1
        self._window = anyio.Semaphore(ahead + putting + api_concurrency)

    async def run(self, todo: AsyncIterator[Files]) -> None:
        send, receive = anyio.create_memory_object_stream[_Batch](math.inf)
        # PUT workers instead of a task per file: a task's start costs more CPU than a small file's PUT.
        # A file is handed over once a worker is free (``_slots``), so a batch counts as dispatched
        # (and the next may be pre-signed) only once its files are all in flight; the stream itself
        # never makes either side wait, which would cost a trip through the event loop a file.
        put_send, put_receive = anyio.create_memory_object_stream[_Put](math.inf)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._feed, tg, todo, send)
            async with put_receive:
                for _ in range(self._concurrency):
                    tg.start_soon(self._worker, tg, put_receive.clone())
            await self._dispatch(receive, put_send)

    async def _feed(
        self, tg: TaskGroup, todo: AsyncIterator[Files], send: MemoryObjectSendStream[_Batch]
    ) -> None:
        async with send:
            while True:
                await self._window.acquire()
                await self._ahead.acquire()
                files = await anext(todo, None)
                if files is None:
                    return
                batch = _Batch(files, self._batch_span(files))
                tg.start_soon(self._presign, batch)
                send.send_nowait(batch)

    def _batch_span(self, files: Files) -> Span | None:
        telemetry = self._run.telemetry
        if telemetry is None:
            return None
        size = sum(s.size for s, _ in files)
        attributes = {"basicai.upload.files": len(files), "basicai.upload.bytes": size}
        return telemetry.start_span("basicai.upload.batch", attributes)

    async def _presign(self, batch: _Batch) -> None:
        run = self._run
        sources = [s for s, _ in batch.files]
        try:
            if run.aborted is None:
                with _within(run, batch.span):
                    signed = await run.presign(sources)
                batch.urls = BatchUrls(run, sources, signed)
        except RunAborted:
            pass  # no URLs and no error of its own: the dispatcher fails the batch at `aborted`
        except BasicAIError as exc:
            if isinstance(exc, TARGET_REFUSALS):
                run.abort(exc)
            batch.error = exc
        finally:
            batch.signed.set()

    async def _dispatch(
        self, receive: MemoryObjectReceiveStream[_Batch], put_send: MemoryObjectSendStream[_Put]
    ) -> None:
        run = self._run
        async with receive, put_send:
            async for batch in receive:
                await batch.signed.wait()
                if batch.urls is None:
                    # A refused pre-sign fails the whole batch; after an abort nothing was asked.
                    stage: UploadStage = "presign" if batch.error else "aborted"
                    error = batch.error or run.aborted
                    assert error is not None
                    for source, result in batch.files:
                        run.fail(source, result, stage, error)
                    batch.end_span()
                    self._ahead.release()
                    self._window.release()
                    continue
                for source, result in batch.files:
                    try:
                        # A free slot is taken without a trip through the event loop.
                        self._slots.acquire_nowait()
                    except anyio.WouldBlock:
                        await self._slots.acquire()
                    put_send.send_nowait((batch, batch.urls, source, result))
                self._ahead.release()

    async def _worker(self, tg: TaskGroup, puts: MemoryObjectReceiveStream[_Put]) -> None:
        run = self._run
        async with puts:
            while True:
                try:
                    # A file already waiting is taken without a trip through the event loop
                    # (``receive`` checkpoints every time: µs a file, a tenth of a small PUT).
                    batch, urls, source, result = puts.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        batch, urls, source, result = await puts.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                try:
                    if await _put_one(run, source, result, urls):
                        batch.uploaded.append((source, result))
                finally:
                    self._slots.release()
                batch.left -= 1
                if not batch.left:
                    # Registered beside the PUTs: a worker never waits on an API call.
                    tg.start_soon(self._register, batch)

    async def _register(self, batch: _Batch) -> None:
        run = self._run
        try:
            if batch.uploaded:
                async with run.api_slots:
                    with _within(run, batch.span):
                        await register(run, batch.uploaded)
        finally:
            batch.end_span()
            self._window.release()


def _within(run: UploadRun, span: Span | None) -> AbstractContextManager[Any]:
    """The batch's span made current (its API calls nest under it), or nothing without one."""
    if span is None or run.telemetry is None:
        return nullcontext()
    return run.telemetry.within(span)


async def upload_batches(
    run: UploadRun, todo: AsyncIterator[Files], *, concurrency: int, api_concurrency: int
) -> None:
    """Pre-sign, PUT and register ``todo``'s batches of up to 100, the stages overlapping."""
    await _Pipeline(run, concurrency, api_concurrency).run(todo)


async def _put_one(run: UploadRun, source: UploadSource, result: UploadResult, urls: BatchUrls) -> bool:
    """PUT one file; False when it failed (its result says why)."""
    if run.aborted is not None:
        # The target was refused as a whole: no PUT of this file could be registered.
        run.fail(source, result, "aborted", run.aborted)
        return False
    try:
        upload, renewed = await urls.take(source)
        upload = await put_file(run, source, upload, renewed=renewed)
    except PutFailed as exc:
        # Users get the public error type, never the PUT's private one.
        failed = UploadError(str(exc), filename=source.name, stage="put")
        failed.__cause__ = exc.__cause__
        run.fail(source, result, "put", failed)
        return False
    except RunAborted as exc:
        run.fail(source, result, "aborted", exc.reason)
        return False
    except BasicAIError as exc:
        # The only API call inside a PUT is renewing its URL; a refused key or
        # dataset there stops the run, as it does at the batch's own pre-sign.
        if isinstance(exc, TARGET_REFUSALS):
            run.abort(exc)
        run.fail(source, result, "presign", exc)
        return False
    except OSError as exc:
        run.fail(source, result, "put", exc)
        return False
    run.stored(result, upload)
    return True
