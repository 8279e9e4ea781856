"""Progress events: what an upload or an export tells a service while it runs, as typed values.

A consumer is a plain callable, ``on_event(event)``, given to the uploader
(``client.uploader(on_event=...)``) or to ``export_results(..., on_event=...)``.
It is called synchronously on the event loop, in the order things happen, so it
must return quickly (hand slow work to a queue); an exception it raises stops
the run with that exception. ``Uploader.events`` offers the same events as an
async iterator instead.

Cost: nothing at all is built without a consumer. With one, an upload makes one
event per file reached its end (``FileDone`` or ``FileFailed``), one per
registration call, one per chunk of bytes sent, one per API call that waited on
the rate limiter, plus a start and a finish: a ten-million-file run makes tens
of millions of small objects, each dropped once the consumer returns.

``FileDone`` is *the* per-result stream of an upload: every registered file
comes through it once, carrying its ``UploadResult`` (name, data id, path), so a
service that keeps no per-file report still learns every data id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from ..export import ExportSummary
    from ..uploader import UploadReport, UploadResult

__all__ = [
    "BatchRegistered",
    "BytesSent",
    "EventConsumer",
    "ExportEvent",
    "ExportFinished",
    "ExportProgress",
    "ExportStarted",
    "FileDone",
    "FileFailed",
    "LimiterWaited",
    "ProgressEvent",
    "UploadEvent",
    "UploadFinished",
    "UploadStarted",
    "emitting",
    "limiter_waited",
]


@dataclass(frozen=True, slots=True)
class UploadStarted:
    """A window of an upload's sources is checked (and resumed from its manifest): its PUTs begin.

    Sources are taken lazily, up to 1,000 at a time, so an upload sends one
    ``UploadStarted`` per window (one for a small run), each counting that
    window: add them up for the totals so far. ``files`` counts the window's
    sources; ``to_upload`` those still to send (the others are already settled:
    resumed from the manifest or failed their checks, and each comes as a
    ``FileDone``/``FileFailed`` right after this event); ``bytes`` is the size
    of those to send.
    """

    files: int
    to_upload: int
    bytes: int


@dataclass(frozen=True, slots=True)
class BytesSent:
    """``nbytes`` more were sent to storage; negative when a retried PUT starts its file over."""

    nbytes: int


@dataclass(frozen=True, slots=True)
class FileDone:
    """One file is registered in the dataset: ``result.data_id`` is its data item.

    The per-result stream of an upload: every registered file comes here exactly
    once, including the files found already registered (``result.resumed``).
    """

    result: UploadResult


@dataclass(frozen=True, slots=True)
class FileFailed:
    """One file ended without being registered: ``result.stage`` and ``result.error`` say why.

    ``result.maybe_registered`` marks a file whose registration failed
    ambiguously and could not be looked up: it may be in the dataset (rerun
    with the manifest rather than upload it again).
    """

    result: UploadResult


@dataclass(frozen=True, slots=True)
class BatchRegistered:
    """One registration call (``batchAddData``) registered ``files`` files; a ``FileDone`` each follows."""

    files: int


@dataclass(frozen=True, slots=True)
class LimiterWaited:
    """One API call of this run waited ``seconds`` for the rate limiter before it went out.

    Only calls that waited at all are reported. A run whose calls keep waiting
    is held by the key's quota (``client.limiter.stats()`` tells which window).
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class UploadFinished:
    """The upload is over: ``report`` is what ``Uploader.upload`` returns."""

    report: UploadReport


@dataclass(frozen=True, slots=True)
class ExportStarted:
    """An export of ``dataset_id`` begins."""

    dataset_id: int


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """An export wrote more: the totals so far (after each write to its output, about every 64 KiB)."""

    data_items: int
    results: int
    bytes_written: int


@dataclass(frozen=True, slots=True)
class ExportFinished:
    """The export is complete: ``summary`` is what ``export_results`` returns."""

    summary: ExportSummary


UploadEvent: TypeAlias = (
    UploadStarted | BytesSent | FileDone | FileFailed | BatchRegistered | LimiterWaited | UploadFinished
)
"""Every event an upload sends."""

ExportEvent: TypeAlias = ExportStarted | ExportProgress | LimiterWaited | ExportFinished
"""Every event an export sends."""

ProgressEvent: TypeAlias = UploadEvent | ExportEvent
"""Any progress event."""

EventConsumer: TypeAlias = Callable[[ProgressEvent], object]
"""What takes the events: called once per event, on the event loop, and must return quickly."""

# The consumer of the run the current task works for. Tasks copy it when they
# are created, so the pipeline finds the run's consumer without any argument
# passing through the resources.
_consumer: ContextVar[Callable[[LimiterWaited], object] | None] = ContextVar(
    "basicai_async_consumer", default=None
)


@contextmanager
def emitting(consumer: Callable[[LimiterWaited], object] | None) -> Iterator[None]:
    """Within this block (and the tasks it starts), API calls that wait on the limiter tell ``consumer``."""
    token = _consumer.set(consumer)
    try:
        yield
    finally:
        _consumer.reset(token)


def limiter_waited(seconds: float) -> None:
    """Tell the current run's consumer, if any, that an API call waited ``seconds`` on the limiter."""
    consumer = _consumer.get()
    if consumer is not None:
        consumer(LimiterWaited(seconds))
