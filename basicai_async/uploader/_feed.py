"""The sources of one upload, taken lazily in windows: checked, resumed, cut into batches.

An upload may be given ten million sources (a directory walk, a bucket
listing, a generator): none is listed up front. The feeder takes ``WINDOW``
sources at a time, only when the pipeline has room for more batches, and for
each window:

1. checks them (``_checks``): paths are stat-ed and opened in one worker-thread
   hop per window (a sync iterable is also advanced in that hop, so a directory
   walk never blocks the event loop); a bad source fails alone at ``validate``;
2. resumes them from the manifest (``_resume.resumed``): one look-up of the
   window's names (one indexed query in an SQLite manifest); a file recorded
   registered is done;
3. cuts the rest into batches of up to 100, carrying a partial batch over to
   the next window so that batches stay full.

Each file's result is handed to the run's tally as it is made, so the report
keeps memory flat past ``KEEP_RESULTS`` files (``_report``). Memory held here:
one window of sources, one partial batch, and the set of names seen so far
(duplicate names must fail: ``_checks.NameSet``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

import anyio

from .._constants import MAX_BATCH_ITEMS
from .._sources import UploadSource
from ..telemetry._events import UploadStarted
from ._checks import NameSet, Source, check_window
from ._report import UploadResult
from ._resume import Files, held_back, resumed
from ._run import UploadRun

__all__ = ["WINDOW", "batches"]

WINDOW = 1000
"""Sources taken, checked and resumed at a time."""


async def batches(run: UploadRun, sources: Iterable[Source] | AsyncIterable[Source]) -> AsyncIterator[Files]:
    """The files to upload, in source order, in batches of up to ``MAX_BATCH_ITEMS``."""
    names = NameSet()
    taken = False
    try:
        carry: Files = []
        async for window in _windows(sources, names):
            taken = True
            todo = _settle(run, window)
            carry += todo
            while len(carry) >= MAX_BATCH_ITEMS:
                yield carry[:MAX_BATCH_ITEMS]
                carry = carry[MAX_BATCH_ITEMS:]
        if carry:
            yield carry
        if not taken and run.on_event is not None:
            run.on_event(UploadStarted(files=0, to_upload=0, bytes=0))
    finally:
        names.close()


def _settle(run: UploadRun, window: list[tuple[UploadSource | None, UploadResult]]) -> Files:
    """Tally the window; announce it; finish the files that failed a check or are resumed; the rest to do."""
    tally = run.tally
    todo: Files = []
    for source, result in window:
        tally.add(result)
        if source is not None:
            todo.append((source, result))
    done: list[UploadResult] = []
    held: Files = []
    if run.journal is not None and todo:
        todo, done, held = resumed(run.journal, todo)
    if run.on_event is not None:
        run.on_event(
            UploadStarted(files=len(window), to_upload=len(todo), bytes=sum(s.size for s, _ in todo))
        )
    for source, result in window:
        if source is None:
            tally.finished(result)
    for result in done:
        tally.finished(result)
    for source, result in held:
        run.maybe(source, result, held_back(run, source))
    return todo


async def _windows(
    sources: Iterable[Source] | AsyncIterable[Source], names: NameSet
) -> AsyncIterator[list[tuple[UploadSource | None, UploadResult]]]:
    if isinstance(sources, AsyncIterable):
        window: list[object] = []
        async for item in sources:
            window.append(item)
            if len(window) >= WINDOW:
                yield await _check(window, names)
                window = []
        if window:
            yield await _check(window, names)
        return
    items = iter(sources)
    while True:
        # The iterator is advanced in the worker thread too: a directory walk blocks on the disk.
        checked = await anyio.to_thread.run_sync(_take_and_check, items, names)
        if checked is None:
            return
        yield checked


def _take_and_check(
    items: Iterator[Source], names: NameSet
) -> list[tuple[UploadSource | None, UploadResult]] | None:
    window = list(itertools.islice(items, WINDOW))
    return check_window(window, names) if window else None


async def _check(window: list[object], names: NameSet) -> list[tuple[UploadSource | None, UploadResult]]:
    if any(isinstance(item, (str, os.PathLike)) for item in window):
        return await anyio.to_thread.run_sync(check_window, window, names)
    return check_window(window, names)
