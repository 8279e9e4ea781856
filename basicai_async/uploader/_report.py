"""What an upload tells its caller: one result per file, the report of a run, progress callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .._errors import UploadError

__all__ = ["NoProgress", "UploadProgress", "UploadReport", "UploadResult"]


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


class NoProgress:
    """The progress of an upload nobody watches."""

    def started(self, files: int, total_bytes: int) -> None:
        """Nothing to draw."""

    def advanced(self, nbytes: int) -> None:
        """Nothing to draw."""

    def finished(self, result: UploadResult) -> None:
        """Nothing to draw."""
