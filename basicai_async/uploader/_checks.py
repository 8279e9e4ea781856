"""The checks of one upload, all before its first request: the target's ids, then each source alone.

Arguments that are wrong for the whole upload (a dataset id of 0, -5 or
``"7"``) raise ``TypeError``/``ValueError`` at once. A source that cannot be
uploaded (missing, unreadable, a directory, empty, a name that is not UTF-8,
over 1 GB, a name already given) never raises: it becomes that file's result,
failed at ``validate``, and its neighbours go on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from .._errors import FileTooLargeError, InvalidSourceError
from .._sources import UploadSource, check_path, check_source, display_name
from .._validate import check_file_size, check_id
from ._report import UploadResult

__all__ = ["NameSet", "Source", "check_target", "check_window"]

Source = UploadSource | str | os.PathLike[str] | InvalidSourceError
"""What a source iterable may hold: a source, a path, or the reason an item could not be one
(``url_sources`` yields that for a URL it cannot read, so the file fails alone)."""


def check_target(dataset_id: object, batch_id: object, scene_id: object) -> None:
    """Raise ``TypeError``/``ValueError`` for an id that no request should carry."""
    check_id("dataset_id", dataset_id)
    if batch_id is not None:
        check_id("batch_id", batch_id)
    if scene_id is not None:
        check_id("scene_id", scene_id)


def check_window(items: Sequence[object], names: NameSet) -> list[tuple[UploadSource | None, UploadResult]]:
    """Each item's result, in order, with its source when it passed (None when it failed at ``validate``).

    Blocking (stat and open of each path): run it in a worker thread when the window holds paths.
    """
    checked = [_check_one(item) for item in items]
    fresh = names.add_new([s.name for s, _ in checked if s is not None])
    out: list[tuple[UploadSource | None, UploadResult]] = []
    for source, result in checked:
        if source is not None and source.name not in fresh:
            result.stage, result.error = "validate", f"duplicate file name {source.name!r} in this upload"
            source = None
        elif source is not None:
            fresh.discard(source.name)  # a second one in the same window is a duplicate too
        out.append((source, result))
    return out


class NameSet:
    """The names seen so far in one upload, to fail a duplicate: in memory, then on disk past ``SPILL``.

    A run of millions of files must not hold millions of names in memory. Past
    ``SPILL`` names they move to a private temporary SQLite database (on disk, its
    page cache bounded), looked up a window at a time.
    """

    SPILL = 50_000

    __slots__ = ("_db", "_names")

    def __init__(self) -> None:
        self._names: set[str] | None = set()
        self._db: sqlite3.Connection | None = None

    def add_new(self, names: Sequence[str]) -> set[str]:
        """Record ``names``; the ones never seen before (a name twice in ``names`` counts once)."""
        batch = set(names)
        if self._names is not None:
            fresh = batch - self._names
            self._names |= fresh
            if len(self._names) > self.SPILL:
                self._spill()
            return fresh
        db = self._db
        assert db is not None
        seen: set[str] = set()
        listed = list(batch)
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(row[0] for row in db.execute(f"SELECT name FROM seen WHERE name IN ({marks})", chunk))
        fresh = batch - seen
        with db:
            db.executemany("INSERT INTO seen (name) VALUES (?)", [(n,) for n in fresh])
        return fresh

    def _spill(self) -> None:
        # "" opens a private temporary database on disk, deleted when closed.
        db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        db.execute("CREATE TABLE seen (name TEXT PRIMARY KEY) WITHOUT ROWID")
        with db:
            db.executemany("INSERT INTO seen (name) VALUES (?)", [(n,) for n in self._names or ()])
        self._db, self._names = db, None

    def close(self) -> None:
        """Drop the names (and the temporary database)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self._names = set()


def _check_one(item: object) -> tuple[UploadSource | None, UploadResult]:
    if isinstance(item, UploadSource):
        checked: UploadSource | InvalidSourceError = check_source(item) or item
    elif isinstance(item, InvalidSourceError):
        checked = item
    elif isinstance(item, (str, os.PathLike)):
        checked = check_path(item)
    else:
        shown = display_name(repr(item))
        checked = InvalidSourceError(
            f"{shown} is not a path or an UploadSource", filename=shown, reason="not_a_file"
        )
    if isinstance(checked, InvalidSourceError):
        size = item.size if isinstance(item, UploadSource) else 0
        return None, _failed(UploadResult(checked.filename, size), checked)
    result = UploadResult(checked.name, checked.size)
    try:
        check_file_size(checked.name, checked.size)
    except FileTooLargeError as too_large:
        return None, _failed(result, too_large)
    return checked, result


def _failed(result: UploadResult, exc: Exception) -> UploadResult:
    result.stage, result.error, result.exception = "validate", str(exc), exc
    return result
