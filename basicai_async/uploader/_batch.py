"""The upload's pipeline: batches pre-signed ahead, PUTs taken in order, registration beside them.

Three stages overlap, so no API round trip sits on the PUTs' critical path:

- **Pre-sign ahead.** A feeder pre-signs the batches (up to 100 files each) in
  order while up to ``ahead`` batches hold URLs not yet handed to a PUT, so the
  next batch's URLs are there before the PUT slots run dry. ``ahead`` covers a
  pre-sign round trip of up to ``ROUNDS_AHEAD`` PUT round trips at full
  concurrency (an API call across the internet against a small file's PUT).
- **PUT.** ``concurrency`` long-lived PUT workers (a task per file would cost
  more CPU than a small file's PUT) take the files in source order, each the
  next one as soon as it is free, with no hand-over between tasks; a worker
  only ever PUTs, never waits on an API call of its batch.
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
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

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


def batches_ahead(concurrency: int) -> int:
    """Batches pre-signed ahead of the PUTs: files for ``ROUNDS_AHEAD`` rounds past the batch PUTing."""
    return math.ceil(ROUNDS_AHEAD * concurrency / MAX_BATCH_ITEMS) + 1


class _Batch:
    """One batch on its way through the pipeline."""

    __slots__ = ("error", "files", "left", "next", "signed", "span", "uploaded", "urls")

    def __init__(self, files: Files, span: Span | None) -> None:
        self.files = files
        # The batch's span (with OpenTelemetry): its pre-sign and registration calls nest under it.
        self.span = span
        self.signed = False
        self.urls: BatchUrls | None = None
        self.error: BasicAIError | None = None
        self.next = 0
        """The index of the next file to hand to a PUT worker."""
        self.left = len(files)
        """Files whose PUT has not ended: the last to end starts the registration."""
        self.uploaded: list[tuple[UploadSource, UploadResult]] = []

    def end_span(self) -> None:
        """End the batch's span, saying how its files ended."""
        if self.span is not None:
            registered = sum(r.ok for _, r in self.files)
            self.span.set_attribute("basicai.upload.registered", registered)
            self.span.set_attribute("basicai.upload.failed", len(self.files) - registered)
            self.span.end()


class _Pipeline:
    """One run's feeder and PUT workers, sharing the stage limits.

    The batches wait in ``_queue`` in source order. A free PUT worker takes the
    next file itself (``_take``, no await): a file costs no hand-over between
    tasks, which for a small file would be a noticeable part of its CPU. Workers
    wait on ``_changed`` only when no file is ready (the head batch not yet
    pre-signed, or nothing fed yet).
    """

    def __init__(self, run: UploadRun, concurrency: int, api_concurrency: int) -> None:
        self._run = run
        self._concurrency = concurrency
        ahead = batches_ahead(concurrency)
        self._ahead = anyio.Semaphore(ahead)
        """Batches fed and not yet wholly handed to the workers."""
        putting = math.ceil(concurrency / MAX_BATCH_ITEMS) + 1
        self._window = anyio.Semaphore(ahead + putting + api_concurrency)
        """Batches between their pre-sign and the end of their registration."""
        self._queue: deque[_Batch] = deque()
        self._fed = False
        self._changed = anyio.Event()
        self._idle = 0

    async def run(self, todo: AsyncIterator[Files]) -> None:
        # PUT workers instead of a task per file: a task's start costs more CPU than a small file's PUT.
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._feed, tg, todo)
            for _ in range(self._concurrency):
                tg.start_soon(self._worker, tg)

    def _wake(self) -> None:
        """Tell the idle workers the queue changed (a batch was signed, or feeding ended)."""
        if self._idle:
            self._changed.set()
            self._changed = anyio.Event()

    async def _feed(self, tg: TaskGroup, todo: AsyncIterator[Files]) -> None:
        try:
            while True:
                await self._window.acquire()
                await self._ahead.acquire()
                files = await anext(todo, None)
                if files is None:
                    return
                batch = _Batch(files, self._batch_span(files))
                tg.start_soon(self._presign, batch)
                self._queue.append(batch)
        finally:
            self._fed = True
            self._wake()

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
            pass  # no URLs and no error of its own: the batch fails at `aborted` (``_take``)
        except BasicAIError as exc:
            if isinstance(exc, TARGET_REFUSALS):
                run.abort(exc)
            batch.error = exc
        finally:
            batch.signed = True
            self._wake()

    def _take(self) -> tuple[_Batch, BatchUrls, UploadSource, UploadResult] | None:
        """The next file to PUT, in source order, or None when none is ready."""
        queue = self._queue
        while queue:
            batch = queue[0]
            urls = batch.urls
            if urls is None:
                if not batch.signed:
                    return None
                # A refused pre-sign fails the whole batch; after an abort nothing was asked.
                queue.popleft()
                self._failed(batch)
                continue
            index = batch.next
            batch.next = index + 1
            if batch.next == len(batch.files):
                # All its files are in flight: the next batch may be pre-signed.
                queue.popleft()
                self._ahead.release()
            source, result = batch.files[index]
            return batch, urls, source, result
        return None

    def _failed(self, batch: _Batch) -> None:
        run = self._run
        stage: UploadStage = "presign" if batch.error else "aborted"
        error = batch.error or run.aborted
        assert error is not None
        for source, result in batch.files:
            run.fail(source, result, stage, error)
        batch.end_span()
        self._ahead.release()
        self._window.release()

    async def _worker(self, tg: TaskGroup) -> None:
        run = self._run
        while True:
            taken = self._take()
            if taken is None:
                if self._fed and not self._queue:
                    return
                changed = self._changed
                self._idle += 1
                try:
                    await changed.wait()
                finally:
                    self._idle -= 1
                continue
            batch, urls, source, result = taken
            if await _put_one(run, source, result, urls):
                batch.uploaded.append((source, result))
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
        # While the batch's URLs are fresh (nearly always), one is taken without a coroutine.
        upload, renewed = urls.take_now(source) or await urls.take(source)
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
