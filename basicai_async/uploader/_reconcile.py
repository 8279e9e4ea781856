"""Reconciliation: find out what an ambiguous registration did, by looking the files up in the target.

After a ``batchAddData`` call fails ambiguously (a timeout, a connection lost
after sending, 500/502/504, a truncated answer) the server may or may not have
registered the batch. Guessing either way loses files or doubles them, so the
uploader lists the level the files were registered into
(:attr:`ManifestTarget.parent_id <basicai_async.ManifestTarget.parent_id>`: the
scene when one is given, even inside a batch, else the batch, else the
dataset's top level) and matches what it finds.

**The matching rule.** The server stores a data item's name stripped of
leading and trailing whitespace (the emulator does ``name.strip()``; nothing
else is changed: case, inner spaces and Unicode form are kept), so names are
compared by :func:`~basicai_async._exactly_once.name_key` (the rule
``datasets.create``'s look-up follows too). An item that lists its files must also carry the
object path this run PUT the file to: a file of the same name registered by an
earlier upload (another object) is never taken for this one. Only an item that
lists no files is matched by its name alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._exactly_once import name_key
from .._manifest import ManifestTarget
from ..resources import Items

__all__ = ["find_registered"]


async def find_registered(
    items: Items, target: ManifestTarget, wanted: Sequence[tuple[str, str | None]]
) -> dict[int, int]:
    """``{index in wanted: data id}`` for each ``(name, object path)`` found registered in ``target``.

    The files are looked up at ``target.parent_id``: where registration put them.

    Raises the listing's ``BasicAIError`` when the level cannot be read (the caller
    then cannot tell, and says "maybe registered").
    """
    by_name: dict[str, list[int]] = {}
    for index, (name, _) in enumerate(wanted):
        by_name.setdefault(name_key(name), []).append(index)
    found: dict[int, int] = {}
    if not by_name:
        return found
    async for item in items.iter_by_id(target.dataset_id, parent_id=target.parent_id):
        if not item.is_data or item.name is None:
            continue
        candidates = by_name.get(name_key(item.name))
        if not candidates:
            continue
        paths = {f.path for f in item.files or () if f.path}
        for index in candidates:
            path = wanted[index][1]
            if not paths or path is None or path in paths:
                found[index] = item.id
                candidates.remove(index)
                break
        if len(found) == len(wanted):
            break
    return found
