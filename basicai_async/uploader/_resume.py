"""Resuming from a manifest: skip what is registered, look up what a crash left mid-registration."""

from __future__ import annotations

from .._manifest import Manifest, ManifestEntry
from .._sources import UploadSource
from ..resources import Items
from ._report import UploadResult

__all__ = ["resume"]


async def resume(
    journal: Manifest,
    items: Items,
    dataset_id: int,
    parent_id: int | None,
    todo: list[tuple[UploadSource, UploadResult]],
) -> list[tuple[UploadSource, UploadResult]]:
    """The sources still to upload; the others' results are marked registered and ``resumed``."""
    unsure = {
        s.name: r
        for s, r in todo
        if (e := journal.get(s.name, s.size)) is not None and e.status == "registering"
    }
    found: dict[str, int] = {}
    if unsure:
        async for item in items.iter_by_id(dataset_id, parent_id=parent_id):
            if item.is_data and item.name in unsure:
                found[item.name] = item.id
    remaining = []
    for source, result in todo:
        entry = journal.get(source.name, source.size)
        data_id = entry.data_id if entry is not None and entry.status == "registered" else None
        data_id = data_id or found.get(source.name)
        if data_id is None:
            remaining.append((source, result))
            continue
        result.ok, result.data_id, result.resumed = True, data_id, True
        result.path = entry.path if entry is not None else None
        if entry is None or entry.status != "registered":
            journal.record(
                ManifestEntry(name=source.name, size=source.size, status="registered", data_id=data_id)
            )
    return remaining
