"""Progress display for the command line: rich bars when rich is installed, plain lines otherwise.

``ConsoleProgress`` is one consumer of the typed progress events (``telemetry``):
a service takes the same events with its own ``on_event``.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from .telemetry import (
    BytesSent,
    ExportProgress,
    FileDone,
    FileFailed,
    ProgressEvent,
    UploadStarted,
)
from .uploader import UploadResult

__all__ = ["ConsoleProgress"]


class ConsoleProgress:
    """An ``on_event`` consumer that draws files, bytes, rate and failures on the terminal.

    Use as a context manager around the upload::

        with ConsoleProgress() as progress:
            await client.uploader(on_event=progress).upload(...)
    """

    def __init__(self, *, plain: bool | None = None) -> None:
        self.files_done = 0
        self.failures = 0
        self.bytes_sent = 0
        self.results_exported = 0
        self._total_files = 0
        self._total_bytes = 0
        self._rich: Any = None
        self._files_task: Any = None
        self._bytes_task: Any = None
        self._last_line = 0.0
        if plain is None:
            plain = not sys.stderr.isatty()
        if not plain:
            try:
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TransferSpeedColumn,
                )
            except ImportError:  # pragma: no cover - rich is an optional extra
                return
            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                transient=False,
            )

    def __enter__(self) -> ConsoleProgress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
        else:
            self._line(force=True)

    def __call__(self, event: ProgressEvent) -> None:
        """Draw one event; the others (limiter waits, batches) only show in the rates."""
        if isinstance(event, BytesSent):
            self._advanced(event.nbytes)
        elif isinstance(event, (FileDone, FileFailed)):
            self._finished(event.result)
        elif isinstance(event, UploadStarted):
            self._started(event)
        elif isinstance(event, ExportProgress):
            self.results_exported = event.results
            self._line(what=f"{event.results} results of {event.data_items} data items exported")

    def _started(self, event: UploadStarted) -> None:
        # One event per window of sources taken: the totals grow as the sources are listed.
        # Files settled before the PUTs (resumed, failed their checks) are in the total too,
        # so a resumed run never shows more done than in all.
        self._total_files += event.files
        self._total_bytes += event.bytes
        if self._rich is None:
            return
        if self._files_task is None:
            self._files_task = self._rich.add_task(
                "files", total=self._total_files, completed=self.files_done
            )
            self._bytes_task = self._rich.add_task("bytes", total=self._total_bytes)
        else:
            self._rich.update(self._files_task, total=self._total_files)
            self._rich.update(self._bytes_task, total=self._total_bytes)

    def _advanced(self, nbytes: int) -> None:
        self.bytes_sent += nbytes
        if self._rich is not None and self._bytes_task is not None:
            self._rich.advance(self._bytes_task, nbytes)
        else:
            self._line()

    def _finished(self, result: UploadResult) -> None:
        self.files_done += 1
        if not result.ok:
            self.failures += 1
            message = f"failed: {result.name} at {result.stage}: {result.error}"
            if self._rich is not None:
                self._rich.console.print(f"[red]{message}[/red]")
            else:
                print(message, file=sys.stderr)
        if self._rich is not None and self._files_task is not None:
            self._rich.update(
                self._files_task,
                advance=1,
                description=f"files ({self.failures} failed)" if self.failures else "files",
            )
        else:
            self._line()

    def _line(self, force: bool = False, what: str | None = None) -> None:
        now = time.monotonic()
        if force or now - self._last_line >= 1.0:
            self._last_line = now
            if what is None:
                if not self._total_files:
                    return  # before UploadStarted nothing is drawn: no "1/0 files"
                what = (
                    f"{self.files_done}/{self._total_files} files, {self.bytes_sent / 1e6:.1f} MB, "
                    f"{self.failures} failed"
                )
            print(what, file=sys.stderr)
