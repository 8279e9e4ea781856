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
object path this run PUT the file to (:func:`same_object`): a file of the same
name registered by an earlier upload (another object) is never taken for this
one. Only an item that lists no files is matched by its name alone.

**The path rule.** What was registered and what a listing shows need not be the
same string: the registered path may be a signed URL (its signature redacted
in what the run keeps), and BasicAI's platform lists a file's ``path`` as the
object's key in its bucket (``12/1024/6f1c.../a.jpg``) where the registration
sent ``http://minio:9000/xtreme1/12/1024/6f1c.../a.jpg?X-Amz-...``. Two paths
name the same object when, without query and fragment, scheme and host, they
are equal or one ends with the other at a ``/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from .._errors import APIDecodeError
from .._exactly_once import name_key
from .._manifest import ManifestTarget
from ..resources import Items
from ._highwater import HighWater

__all__ = ["find_registered", "same_object"]


def _object_path(path: str) -> str:
    """``path`` without query, fragment, scheme and host, percent-decoded, without its leading ``/``."""
    parts = urlsplit(path)
    return unquote(parts.path).lstrip("/")


def same_object(registered: str, listed: str) -> bool:
    """Whether the path a run registered and one a listing shows name the same object (the path rule)."""
    mine, theirs = _object_path(registered), _object_path(listed)
    if not mine or not theirs:
        return False
    return mine == theirs or mine.endswith("/" + theirs) or theirs.endswith("/" + mine)


async def find_registered(
    items: Items,
    target: ManifestTarget,
    wanted: Sequence[tuple[str, str | None]],
    *,
    after: int | None = None,
    high_water: HighWater | None = None,
) -> dict[int, int]:
    """``{index in wanted: data id}`` for each ``(name, object path)`` found registered in ``target``.

    The files are looked up at ``target.parent_id``: where registration put them.

    ``after`` (a high-water mark known before the files' registration was sent,
    see ``_highwater``) lists only the ids past it first. That proves presence
    whatever the ids do: a file found there is registered. It proves absence only
    while ``high_water`` is trusted (ids seen to ascend at this level): otherwise
    the files not found past the mark are looked for in the whole level. A
    listing that does not start past the mark and ascend refutes ``high_water``
    and the whole level is walked instead.

    Raises the listing's ``BasicAIError`` when the level cannot be read (the caller
    then cannot tell, and says "maybe registered").
    """
    found: dict[int, int] = {}
    if after is not None:
        try:
            found = await _walk(items, target, wanted, after)
        except (_NotAscending, APIDecodeError):
            # The pager refuses an id that does not ascend past the mark (a server ignoring
            # ``lastId``) as undecodable; the whole level settles it, or fails for real.
            if high_water is not None:
                high_water.refute()
        else:
            if len(found) == len(wanted) or (high_water is not None and high_water.trusted):
                return found
    rest = [index for index in range(len(wanted)) if index not in found]
    more = await _walk(items, target, [wanted[index] for index in rest], None)
    found.update({rest[k]: data_id for k, data_id in more.items()})
    return found


class _NotAscending(Exception):
    """A listing from a mark gave an id at or below the previous one."""


async def _walk(
    items: Items, target: ManifestTarget, wanted: Sequence[tuple[str, str | None]], after: int | None
) -> dict[int, int]:
    by_name: dict[str, list[int]] = {}
    for index, (name, _) in enumerate(wanted):
        by_name.setdefault(name_key(name), []).append(index)
    found: dict[int, int] = {}
    if not by_name:
        return found
    previous = after
    async for item in items.iter_by_id(target.dataset_id, parent_id=target.parent_id, after=after):
        if after is not None:
            if previous is not None and item.id <= previous:
                raise _NotAscending
            previous = item.id
        if not item.is_data or item.name is None:
            continue
        candidates = by_name.get(name_key(item.name))
        if not candidates:
            continue
        paths = [f.path for f in item.files or () if f.path]
        for index in candidates:
            path = wanted[index][1]
            if not paths or path is None or any(same_object(path, p) for p in paths):
                found[index] = item.id
                candidates.remove(index)
                break
        if len(found) == len(wanted):
            break
    return found
