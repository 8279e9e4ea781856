"""What an upload tells its caller: one result per file and the report of a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._errors import UploadError, UploadStage
from ..telemetry._events import FileDone, FileFailed

if TYPE_CHECKING:
    from ..telemetry._events import UploadEvent
    from ..telemetry._otel import Telemetry

__all__ = ["KEEP_RESULTS", "Tally", "UploadReport", "UploadResult"]


@dataclass(slots=True)
class UploadResult:
    """What became of one source.

    ``ok`` is True only once the file is registered (``data_id`` set). Otherwise
    ``stage`` says where it stopped (``validate``, ``presign``, ``put``,
    ``register``, or ``aborted`` when the run stopped before this file because
    the target was refused as a whole) and ``error`` why. ``resumed`` marks a
    file found registered before this run uploaded it (by the manifest, or by a
    look-up after an ambiguous failure).

    ``maybe_registered`` is True when registering failed ambiguously (a timeout,
    a dropped connection, 500/502/504, a truncated answer) and the look-up that
    should have settled it failed too: the file may be in the dataset. Such a
    file is *not* in ``report.failed``: retrying it blindly could register it
    twice. Rerun with the same manifest (the next run looks it up first), or look
    it up yourself.
    """

    name: str
    size: int
    ok: bool = False
    data_id: int | None = None
    path: str | None = None
    stage: UploadStage | None = None
    error: str | None = None
    resumed: bool = False
    maybe_registered: bool = False
    exception: BaseException | None = field(default=None, repr=False)


KEEP_RESULTS = 10_000
"""Up to this many files, a report keeps every file's result; past it, only those not registered."""


@dataclass(slots=True)
class UploadReport:
    """The outcome of one ``upload`` call: counts, and the results worth reading.

    A run of up to ``KEEP_RESULTS`` (10,000) files keeps every file's result in
    ``results``, in the order of its sources (``complete`` is True). A larger run
    keeps its memory flat: ``results`` holds only the files not registered
    (failed or maybe registered), the counts hold the rest, and each registered
    file is in the manifest and is sent as a ``FileDone`` event as it finishes
    (``Uploader(on_event=...)`` or ``Uploader.events``).
    """

    results: list[UploadResult]
    total: int = -1
    """Files in the run (those of other shards are not counted)."""
    registered_count: int = -1
    """Files registered, by this run or (``resumed``) before it."""
    resumed_count: int = -1
    """Of those, the ones found registered before this run uploaded them."""
    maybe_registered_count: int = -1
    bytes_uploaded: int = -1
    """Bytes of the registered files."""
    complete: bool = True
    """Whether ``results`` holds every file's result (a run of at most ``KEEP_RESULTS`` files)."""

    def __post_init__(self) -> None:
        if self.total < 0:
            # Built from a full list of results (a small run, or by hand): count it.
            results = self.results
            self.total = len(results)
            self.registered_count = sum(1 for r in results if r.ok)
            self.resumed_count = sum(1 for r in results if r.ok and r.resumed)
            self.maybe_registered_count = sum(1 for r in results if r.maybe_registered)
            self.bytes_uploaded = sum(r.size for r in results if r.ok)

    @property
    def failed_count(self) -> int:
        """Files certainly not registered."""
        return self.total - self.registered_count - self.maybe_registered_count

    @property
    def succeeded(self) -> list[UploadResult]:
        """The registered files (only a ``complete`` report has them; see ``registered_count``)."""
        if not self.complete:
            raise ValueError(
                f"this report of {self.total} files keeps no result per registered file (past "
                f"{KEEP_RESULTS} files only failures are kept, so memory stays flat): count them with "
                "report.registered_count, or take each from its FileDone event (on_event) or the manifest"
            )
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[UploadResult]:
        """The files certainly not registered: safe to upload again."""
        return [r for r in self.results if not r.ok and not r.maybe_registered]

    @property
    def maybe_registered(self) -> list[UploadResult]:
        """The files whose registration could not be confirmed either way: look them up, do not retry."""
        return [r for r in self.results if r.maybe_registered]

    def raise_for_failures(self) -> None:
        """Raise ``UploadError`` when a file is not (or not surely) registered, naming how many."""
        failed = [r for r in self.results if not r.ok]
        if failed:
            first = failed[0]
            unsure = self.maybe_registered_count
            also = f" ({unsure} maybe registered: rerun with the manifest)" if unsure else ""
            # A result without a stage was never reached: the run stopped before it.
            stage = first.stage or "aborted"
            raise UploadError(
                f"{self.total - self.registered_count} of {self.total} files failed{also}; first: "
                f"{first.name} at {stage}: {first.error}",
                filename=first.name,
                stage=stage,
            )


class Tally:
    """Builds an ``UploadReport`` as results come: every result up to ``keep``, then counts and failures.

    ``add`` takes each new result in source order; ``finished`` each final one,
    and sends it on as ``FileDone`` or ``FileFailed`` (the per-result stream:
    what a run past ``keep`` files keeps of its registered files).
    """

    __slots__ = (
        "_keep",
        "_on_event",
        "_telemetry",
        "bytes",
        "maybe",
        "registered",
        "results",
        "resumed",
        "total",
    )

    def __init__(
        self,
        on_event: Callable[[UploadEvent], object] | None,
        *,
        keep: int | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._on_event = on_event
        self._telemetry = telemetry
        self._keep = KEEP_RESULTS if keep is None else keep
        self.results: list[UploadResult] = []
        self.total = self.registered = self.resumed = self.maybe = self.bytes = 0

    @property
    def complete(self) -> bool:
        """Whether every result is still kept."""
        return self.total <= self._keep

    def add(self, result: UploadResult) -> None:
        """A new file of the run (in source order)."""
        self.total += 1
        if self.total <= self._keep:
            self.results.append(result)
        elif self.total == self._keep + 1:
            # Past the limit: from now on only the files that end unregistered are kept.
            self.results = [r for r in self.results if r.stage is not None or r.maybe_registered]

    def finished(self, result: UploadResult) -> None:
        """A file reached its final state."""
        if result.ok:
            self.registered += 1
            self.bytes += result.size
            if result.resumed:
                self.resumed += 1
        else:
            if result.maybe_registered:
                self.maybe += 1
            if not self.complete:
                self.results.append(result)
        if self._telemetry is not None:
            self._telemetry.file_ended(_outcome(result))
        if self._on_event is not None:
            self._on_event(FileDone(result) if result.ok else FileFailed(result))

    def report(self) -> UploadReport:
        """The report of the run so far."""
        return UploadReport(
            self.results,
            total=self.total,
            registered_count=self.registered,
            resumed_count=self.resumed,
            maybe_registered_count=self.maybe,
            bytes_uploaded=self.bytes,
            complete=self.complete,
        )


def _outcome(result: UploadResult) -> str:
    """The ``basicai.upload.outcome`` a final result is counted under."""
    if result.ok:
        return "resumed" if result.resumed else "registered"
    return "maybe_registered" if result.maybe_registered else "failed"
