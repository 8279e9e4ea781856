"""The upload manifest in SQLite: indexed, crash-safe, for uploads of millions of files.

Same records and rules as the JSON-lines :class:`~basicai_async.Manifest`
(bound to one target; a file known by name, size and modification time; the
statuses of :class:`~basicai_async.ManifestStatus`), but nothing is held in
memory: each look-up is one indexed query, so resuming a ten-million-file upload
reads only the rows of the files it is about to upload.

**Crash safety.** The database runs in WAL mode with ``synchronous=NORMAL``:
each :meth:`SqliteManifest.record_many` is one transaction, on disk (in the OS)
when it returns, so a process killed right after keeps it, and a crash never
corrupts the file (a power loss may lose the last transactions, as the
JSON-lines journal may lose its unflushed lines).

**Adopting a JSON-lines manifest.** Given the path of a manifest written by an
earlier version (JSON lines), ``SqliteManifest`` takes it over: its records are
copied into a new database (header and all; a manifest from before binding
stays unbound, its ``registered`` records downgraded when it is bound, as the
JSON-lines manifest does), the old file is kept beside it as
``<name>.jsonl.bak``, and the database replaces it atomically.

**Choosing one.** :func:`open_manifest` (what ``upload(manifest=path)`` and the
CLI's ``--manifest`` use) gives a JSON-lines :class:`~basicai_async.Manifest`
for a path ending in ``.jsonl`` or ``.ndjson`` (readable, one line per step, but
its records live in memory) and a ``SqliteManifest`` for any other path.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from ._manifest import (
    UNSURE_STATUSES,
    Manifest,
    ManifestEntry,
    ManifestStatus,
    ManifestTarget,
    bound_to,
)

__all__ = ["ManifestStore", "SqliteManifest", "open_manifest"]

SQLITE_MAGIC = b"SQLite format 3\x00"
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SCHEMA_VERSION = 1

# The columns of a row, in the order ``_entry`` reads them.
_COLUMNS = "name, size, status, data_id, path, error, mtime_ns, after"
_UNSURE = tuple(status.value for status in UNSURE_STATUSES)
# SQLite's default cap on a statement's variables was 999 before 3.32.
_IN_CHUNK = 400

_target_encoder = msgspec.json.Encoder()
_target_decoder = msgspec.json.Decoder(ManifestTarget)


class ManifestStore(Protocol):
    """What the uploader uses of a manifest: either :class:`Manifest` or :class:`SqliteManifest`."""

    @property
    def target(self) -> ManifestTarget | None:
        """The target the manifest is bound to."""

    def bind(self, target: ManifestTarget) -> None:
        """Tie the manifest to ``target``; ``ManifestMismatchError`` if it belongs to another."""

    def get(self, name: str, size: int, *, mtime_ns: int | None = None) -> ManifestEntry | None:
        """The latest entry for one file."""

    def get_many(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ManifestEntry]:
        """The latest entries of many ``(name, size)`` files at once (those recorded)."""

    def record(self, entry: ManifestEntry) -> None:
        """Journal one entry."""

    def record_many(self, entries: Sequence[ManifestEntry]) -> None:
        """Journal several entries at once (one write, one flush)."""

    def unsure(self) -> list[ManifestEntry]:
        """The ``registering`` and ``maybe_registered`` entries."""

    def close(self) -> None:
        """Release the file."""


def open_manifest(path: str | os.PathLike[str], *, target: ManifestTarget | None = None) -> ManifestStore:
    """The manifest at ``path``: JSON lines for ``*.jsonl``/``*.ndjson`` names, SQLite otherwise.

    An existing SQLite file is opened as one whatever its name; a JSON-lines
    manifest at a path of any other name is adopted into SQLite.
    """
    p = Path(path)
    if _is_sqlite(p) or p.suffix.lower() not in JSONL_SUFFIXES:
        return SqliteManifest(p, target=target)
    return Manifest(p, target=target)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


class SqliteManifest:
    """An upload manifest in one SQLite file: indexed by (name, size), written in transactions.

    Example::

        target = ManifestTarget(base_url=client.base_url, dataset_id=7)
        with SqliteManifest("upload.db", target=target) as manifest:
            entry = manifest.get("0001.jpg", 1234)
    """

    def __init__(self, path: str | os.PathLike[str], *, target: ManifestTarget | None = None) -> None:
        self.path = Path(path)
        if self.path.exists() and not _is_sqlite(self.path) and self.path.stat().st_size > 0:
            self._adopt()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection | None = _connect(self.path)
        try:
            self._target = self._read_target()
            if target is not None:
                self.bind(target)
        except BaseException:
            # A refused target (or an unreadable file) leaves no connection open behind the error.
            self.close()
            raise

    # -- binding ------------------------------------------------------------------------------

    @property
    def target(self) -> ManifestTarget | None:
        """The target this manifest is bound to (None: not bound yet)."""
        return self._target

    @property
    def torn(self) -> bool:
        """Always False: a transaction is all or nothing (kept for parity with :class:`Manifest`)."""
        return False

    def bind(self, target: ManifestTarget) -> None:
        """Tie the manifest to ``target``; refuse it if the file belongs to another one.

        Raises ``ManifestMismatchError`` naming the recorded target and the fix.
        """
        if bound_to(self.path, self._target, target):
            return
        db = self._conn()
        with db:
            if self._meta("unbound_lines") == "1":
                # Records adopted from before binding may be of another dataset: look each up first.
                db.execute(
                    "UPDATE files SET status = ? WHERE status = ?",
                    (ManifestStatus.REGISTERING.value, ManifestStatus.REGISTERED.value),
                )
                db.execute("DELETE FROM meta WHERE key = 'unbound_lines'")
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('target', ?)",
                (_target_encoder.encode(target).decode(),),
            )
        self._target = target

    # -- reading ------------------------------------------------------------------------------

    def get(self, name: str, size: int, *, mtime_ns: int | None = None) -> ManifestEntry | None:
        """The latest entry for a file, if any; none when both sides know the mtime and it differs."""
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM files WHERE name = ? AND size = ?", (name, size))
            .fetchone()
        )
        if row is None:
            return None
        entry = _entry(row)
        if mtime_ns is not None and entry.mtime_ns not in (None, mtime_ns):
            return None
        return entry

    def get_many(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ManifestEntry]:
        """``{(name, size): entry}`` of the files of ``keys`` that have one (a query per 400 names)."""
        found: dict[tuple[str, int], ManifestEntry] = {}
        wanted = set(keys)
        names = sorted({name for name, _ in wanted})
        db = self._conn()
        for start in range(0, len(names), _IN_CHUNK):
            chunk = names[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT {_COLUMNS} FROM files WHERE name IN ({marks})", chunk):
                key = (row[0], row[1])
                if key in wanted:
                    found[key] = _entry(row)
        return found

    def entries(self) -> Iterator[ManifestEntry]:
        """The latest entry of every file, in the order first recorded (read lazily)."""
        yield from (_entry(row) for row in self._conn().execute(f"SELECT {_COLUMNS} FROM files ORDER BY seq"))

    def registered(self) -> dict[tuple[str, int], int]:
        """``{(name, size): data_id}`` of the files recorded as registered (all in memory: small runs)."""
        rows = self._conn().execute(
            "SELECT name, size, data_id FROM files WHERE status = ? AND data_id IS NOT NULL",
            (ManifestStatus.REGISTERED.value,),
        )
        return {(name, size): data_id for name, size, data_id in rows}

    def unsure(self) -> list[ManifestEntry]:
        """Entries to look up before trusting: ``registering`` and ``maybe_registered`` (indexed)."""
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM files WHERE status IN (?, ?) ORDER BY seq", _UNSURE
        )
        return [_entry(row) for row in rows]

    def __len__(self) -> int:
        (count,) = self._conn().execute("SELECT count(*) FROM files").fetchone()
        return int(count)

    # -- writing ------------------------------------------------------------------------------

    def record(self, entry: ManifestEntry) -> None:
        """Write one entry in its own transaction."""
        self.record_many((entry,))

    def record_many(self, entries: Sequence[ManifestEntry] | Iterable[ManifestEntry]) -> None:
        """Write several entries in one transaction: all are kept, or (a crash mid-way) none."""
        db = self._conn()
        with db:
            db.executemany(
                f"INSERT INTO files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name, size) DO UPDATE SET status = excluded.status, "
                "data_id = excluded.data_id, path = excluded.path, error = excluded.error, "
                "mtime_ns = excluded.mtime_ns, after = excluded.after",
                [
                    (e.name, e.size, e.status, e.data_id, e.path, e.error, e.mtime_ns, e.after)
                    for e in entries
                ],
            )

    def close(self) -> None:
        """Close the database (its WAL is folded back into it)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> SqliteManifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect(self.path)
        return self._db

    def _meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _read_target(self) -> ManifestTarget | None:
        raw = self._meta("target")
        return None if raw is None else _target_decoder.decode(raw)

    def _adopt(self) -> None:
        """Copy a JSON-lines manifest into a new database that replaces it; keep the old file as a backup."""
        old = Manifest(self.path)
        tmp = self.path.with_name(self.path.name + ".adopting")
        tmp.unlink(missing_ok=True)
        db = _connect(tmp)
        try:
            with db:
                if old.target is not None:
                    db.execute(
                        "INSERT INTO meta (key, value) VALUES ('target', ?)",
                        (_target_encoder.encode(old.target).decode(),),
                    )
                elif old.entries():
                    db.execute("INSERT INTO meta (key, value) VALUES ('unbound_lines', '1')")
                db.executemany(
                    f"INSERT OR REPLACE INTO files ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (e.name, e.size, e.status, e.data_id, e.path, e.error, e.mtime_ns, e.after)
                        for e in old.entries()
                    ],
                )
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        backup = self.path.with_name(self.path.name + ".jsonl.bak")
        backup.unlink(missing_ok=True)
        os.link(self.path, backup)
        os.replace(tmp, self.path)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions only where ``with db`` opens them.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(
        f"""
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '{SCHEMA_VERSION}');
        CREATE TABLE IF NOT EXISTS files (
            seq INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            status TEXT NOT NULL,
            data_id INTEGER,
            path TEXT,
            error TEXT,
            mtime_ns INTEGER,
            after INTEGER,
            UNIQUE (name, size)
        );
        CREATE INDEX IF NOT EXISTS files_unsure ON files (status)
            WHERE status IN ('registering', 'maybe_registered');
        """
    )
    return db


def _entry(row: tuple[object, ...]) -> ManifestEntry:
    name, size, status, data_id, path, error, mtime_ns, after = row
    return ManifestEntry(
        name=str(name),
        size=int(size),  # type: ignore[call-overload]
        status=ManifestStatus(str(status)),
        data_id=data_id,  # type: ignore[arg-type]
        path=path,  # type: ignore[arg-type]
        error=error,  # type: ignore[arg-type]
        mtime_ns=mtime_ns,  # type: ignore[arg-type]
        after=after,  # type: ignore[arg-type]
    )
