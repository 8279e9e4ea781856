"""Resuming from a manifest: skip what is registered, look up what is unsure before uploading it again.

A file the manifest records ``registered`` (with the same name, size and, when
known, modification time) is done. One it records ``registering`` (a crash in
the middle of its registration) or ``maybe_registered`` (an ambiguous failure
nobody could settle) is looked up in the target by the rule of
:mod:`._reconcile`; found, it is done; not found, it is uploaded again.
"""

from __future__ import annotations

from .._manifest import Manifest, ManifestEntry, ManifestStatus, ManifestTarget
from .._sources import UploadSource
from ..resources import Items
from ._reconcile import find_registered
from ._report import UploadResult

__all__ = ["resume"]

_UNSURE = frozenset({ManifestStatus.REGISTERING.value, ManifestStatus.MAYBE_REGISTERED.value})


async def resume(
    journal: Manifest,
    items: Items,
    target: ManifestTarget,
    todo: list[tuple[UploadSource, UploadResult]],
) -> list[tuple[UploadSource, UploadResult]]:
    """The sources still to upload; the others' results are marked registered and ``resumed``."""
    entries = [journal.get(s.name, s.size, mtime_ns=s.mtime_ns) for s, _ in todo]
    unsure = [(i, e) for i, e in enumerate(entries) if e is not None and e.status in _UNSURE]
    found: dict[int, int] = {}
    if unsure:
        wanted = [(todo[i][0].name, e.path) for i, e in unsure]
        hits = await find_registered(items, target, wanted)
        found = {unsure[k][0]: data_id for k, data_id in hits.items()}
    remaining = []
    for index, ((source, result), entry) in enumerate(zip(todo, entries, strict=True)):
        registered = entry is not None and entry.status == ManifestStatus.REGISTERED.value
        data_id = entry.data_id if registered and entry is not None else found.get(index)
        if data_id is None:
            remaining.append((source, result))
            continue
        result.ok, result.data_id, result.resumed = True, data_id, True
        result.path = entry.path if entry is not None else None
        if not registered:
            journal.record(
                ManifestEntry(
                    name=source.name,
                    size=source.size,
                    status=ManifestStatus.REGISTERED.value,
                    data_id=data_id,
                    path=result.path,
                    mtime_ns=source.mtime_ns,
                )
            )
    return remaining
