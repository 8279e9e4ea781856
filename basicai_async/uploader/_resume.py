"""Resuming from a manifest: skip what is registered, look up what is unsure before uploading it again.

A file the manifest records ``registered`` (with the same name, size and, when
known, modification time) is done. One it records ``registering`` (a crash in
the middle of its registration) or ``maybe_registered`` (an ambiguous failure
nobody could settle) is looked up in the target by the rule of
:mod:`._reconcile`; found, it is done; not found, it is uploaded again.
"""

from __future__ import annotations

from .._manifest import Manifest, ManifestStatus
from .._sources import UploadSource
from ._reconcile import find_registered
from ._report import UploadResult
from ._run import UploadRun

__all__ = ["resume"]


async def resume(
    run: UploadRun, journal: Manifest, todo: list[tuple[UploadSource, UploadResult]]
) -> list[tuple[UploadSource, UploadResult]]:
    """The sources still to upload; the others' results are marked registered and ``resumed``.

    Progress is not told here: the caller reports the files settled before the upload begins.
    """
    entries = [journal.get(s.name, s.size, mtime_ns=s.mtime_ns) for s, _ in todo]
    unsure = [(i, e) for i, e in enumerate(entries) if e is not None and ManifestStatus(e.status).unsure]
    found: dict[int, int] = {}
    if unsure:
        wanted = [(todo[i][0].name, e.path) for i, e in unsure]
        async with run.api_slots:  # its look-ups go one call at a time
            hits = await find_registered(run.client.items, run.target, wanted)
        found = {unsure[k][0]: data_id for k, data_id in hits.items()}
    remaining = []
    for index, ((source, result), entry) in enumerate(zip(todo, entries, strict=True)):
        registered = entry is not None and entry.status == ManifestStatus.REGISTERED
        data_id = entry.data_id if registered and entry is not None else found.get(index)
        if data_id is None:
            remaining.append((source, result))
            continue
        result.ok, result.data_id, result.resumed = True, data_id, True
        result.path = entry.path if entry is not None else None
        if not registered:
            run.journal_file(source, result, ManifestStatus.REGISTERED, data_id=data_id)
    return remaining
