"""Resuming from a manifest: skip what is registered, look up what is unsure before uploading it again.

A file the manifest records ``registered`` (with the same name, size and, when
known, modification time) is done. One it records ``registering`` (a crash in
the middle of its registration) or ``maybe_registered`` (an ambiguous failure
nobody could settle) is looked up in the target by the rule of
:mod:`._reconcile`; found, it is done; not found, it is uploaded again. When
that look-up itself fails (after the client's retries), nobody can tell: those
files are held back, maybe registered again with the look-up's error, and the
rest of the run goes on; a later run looks them up again.
"""

from __future__ import annotations

import msgspec

from .._errors import BasicAIError, UploadError
from .._manifest import UNSURE_STATUSES, ManifestStatus
from .._manifest_db import ManifestStore
from .._sources import UploadSource
from ._reconcile import find_registered
from ._report import UploadResult
from ._run import UploadRun

__all__ = ["held_back", "resumed", "settle_unsure"]


async def settle_unsure(run: UploadRun) -> None:
    """Look up every ``registering`` / ``maybe_registered`` file of the manifest once, before uploading.

    Found, it is recorded ``registered`` (with its data id); not found, it is
    certainly not registered and recorded ``failed``, so the window pass uploads
    it again. The look-up lists past the lowest high-water mark the unsure lines
    recorded first (``_highwater``: when every one of them has one); only the
    files not found there send it through the whole level.
    """
    journal = run.journal
    if journal is None:
        return
    unsure = journal.unsure()
    if not unsure:
        return
    marks = [e.after for e in unsure]
    after = min(m for m in marks if m is not None) if all(m is not None for m in marks) else None
    try:
        async with run.api_slots:  # its look-ups go one call at a time
            found = await find_registered(
                run.client.items, run.target, [(e.name, e.path) for e in unsure], after=after
            )
    except BasicAIError as exc:
        # Sending them again might register them twice: they stay unsure (``resumed`` holds them back).
        run.unsettled = exc
        return
    settled = []
    for index, entry in enumerate(unsure):
        data_id = found.get(index)
        if data_id is not None:
            settled.append(
                msgspec.structs.replace(
                    entry, status=ManifestStatus.REGISTERED, data_id=data_id, error=None, after=None
                )
            )
        else:
            settled.append(
                msgspec.structs.replace(
                    entry,
                    status=ManifestStatus.FAILED,
                    error="register: not found in the target after an unfinished registration",
                    after=None,
                )
            )
    journal.record_many(settled)


Files = list[tuple[UploadSource, UploadResult]]


def resumed(journal: ManifestStore, todo: Files) -> tuple[Files, list[UploadResult], Files]:
    """Sort one window's files by what the manifest says: to upload, registered, or held back.

    Held back: still unsure, because ``settle_unsure`` could not look them up (only
    they can be; it settles every other one before the first window).
    """
    entries = journal.get_many([(s.name, s.size) for s, _ in todo])
    if not entries:
        return todo, [], []
    remaining = []
    done = []
    held = []
    for source, result in todo:
        entry = entries.get((source.name, source.size))
        if entry is not None and entry.status in UNSURE_STATUSES:
            held.append((source, result))
            continue
        if (
            entry is None
            or entry.status != ManifestStatus.REGISTERED
            or entry.data_id is None
            or (source.mtime_ns is not None and entry.mtime_ns not in (None, source.mtime_ns))
        ):
            remaining.append((source, result))
            continue
        result.ok, result.data_id, result.resumed, result.path = True, entry.data_id, True, entry.path
        done.append(result)
    return remaining, done, held


def held_back(run: UploadRun, source: UploadSource) -> UploadError:
    """The error of a file held back from this run, chained to why its look-up failed."""
    why = f": {run.unsettled}" if run.unsettled is not None else ""
    error = UploadError(
        "an earlier run left its registration unsure and the look-up that settles it failed"
        f"{why}; held back so that it cannot be registered twice: run the upload again to settle it",
        filename=source.name,
        stage="register",
    )
    error.__cause__ = run.unsettled
    return error
