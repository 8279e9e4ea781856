"""Progress display for the command line: rich bars when rich is installed, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from .uploader import UploadResult

__all__ = ["ConsoleProgress"]


class ConsoleProgress:
    """An ``UploadProgress`` that draws files, bytes, rate and failures on the terminal.

    Use as a context manager around the upload::

        with ConsoleProgress() as progress:
            await client.uploader(progress=progress).upload(...)
    """

    def __init__(self, *, plain: bool | None = None) -> None:
        self.files_done = 0
        self.failures = 0
        self.bytes_sent = 0
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

    def started(self, files: int, total_bytes: int) -> None:
        """Add this many files and bytes still to do to the bars (called once per window of sources).

        Files that finish without being started (resumed from a manifest, failed at
        validation) are counted in the total as they finish, so a resumed run never
        shows more done than in all.
        """
        self._total_files += files
        self._total_bytes += total_bytes
        self._update_totals()

    def _update_totals(self) -> None:
        if self._rich is None:
            return
        if self._files_task is None:
            # Created at the first start or early finish, before any file is counted done on it.
            self._files_task = self._rich.add_task("files", total=self._total_files, completed=0)
            self._bytes_task = self._rich.add_task("bytes", total=self._total_bytes)
        else:
            self._rich.update(self._files_task, total=self._total_files)
            self._rich.update(self._bytes_task, total=self._total_bytes)

    def advanced(self, nbytes: int) -> None:
        """Count bytes sent (negative when a retry starts a file over)."""
        self.bytes_sent += nbytes
        if self._rich is not None and self._bytes_task is not None:
            self._rich.advance(self._bytes_task, nbytes)
        else:
            self._line()

    def finished(self, result: UploadResult) -> None:
        """Count one finished file, and a failure if it failed."""
        self.files_done += 1
        if result.resumed or result.stage == "validate":
            # Done before any upload began: never in a started() count.
            self._total_files += 1
            self._update_totals()
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

    def _line(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_line >= 1.0:
            self._last_line = now
            print(
                f"{self.files_done}/{self._total_files} files, {self.bytes_sent / 1e6:.1f} MB, "
                f"{self.failures} failed",
                file=sys.stderr,
            )
