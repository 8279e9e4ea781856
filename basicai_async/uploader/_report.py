"""What an upload tells its caller: one result per file and the report of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import UploadError, UploadStage

__all__ = ["UploadReport", "UploadResult"]


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
        """The files certainly not registered: safe to upload again."""
        return [r for r in self.results if not r.ok and not r.maybe_registered]

    @property
    def maybe_registered(self) -> list[UploadResult]:
        """The files whose registration could not be confirmed either way: look them up, do not retry."""
        return [r for r in self.results if r.maybe_registered]

    @property
    def bytes_uploaded(self) -> int:
        """Bytes of the registered files."""
        return sum(r.size for r in self.results if r.ok)

    def raise_for_failures(self) -> None:
        """Raise ``UploadError`` when a file is not (or not surely) registered, naming how many."""
        failed = [r for r in self.results if not r.ok]
        if failed:
            first = failed[0]
            unsure = len(self.maybe_registered)
            also = f" ({unsure} maybe registered: rerun with the manifest)" if unsure else ""
            # A result without a stage was never reached: the run stopped before it.
            stage = first.stage or "aborted"
            raise UploadError(
                f"{len(failed)} of {len(self.results)} files failed{also}; first: "
                f"{first.name} at {stage}: {first.error}",
                filename=first.name,
                stage=stage,
            )
