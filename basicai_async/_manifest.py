"""The upload manifest: a JSONL journal, bound to one target, that makes an interrupted upload resumable.

Format (version 2). The first line names the target the records are true of::

    {"manifest": 2, "target": {"baseUrl": "https://api.basic.ai/api/v1", "datasetId": 7, "batchId": 3}}

Each later line records one file's step as it happens::

    {"name": "0001.jpg", "size": 1234, "mtimeNs": 1700000000000000000, "status": "registering", "path": "..."}
    {"name": "0001.jpg", "size": 1234, "mtimeNs": 1700000000000000000, "status": "registered", "dataId": 17}

The last line for a (name, size) wins. Statuses (:class:`ManifestStatus`):

- ``registering``: written *before* the register call, so after a crash in the
  middle of it the next run looks the file up rather than registering it twice;
- ``registered``: registered, ``dataId`` known;
- ``maybe_registered``: the register call failed ambiguously (timeout, reset,
  500/502/504, a truncated answer) and the lookup could not settle it: never
  retry such a file blindly, look it up first;
- ``failed``: certainly not registered (``error`` says why).

**Binding.** :meth:`Manifest.bind` (or ``Manifest(path, target=...)``) ties the
file to a :class:`ManifestTarget`: a new file gets the header at once; a file
bound to another target raises :class:`~basicai_async.ManifestMismatchError`
saying which target it belongs to. A manifest written before binding existed
(no header line) is *adopted* by the first target it is bound to, but none of
its ``registered`` records is trusted: they are downgraded to ``registering``,
so the uploader looks each file up in the target before counting it done (a
file found there resumes, one that is not is uploaded). The file is rewritten
once, header first, atomically.

**What identifies a file.** Within one bound target, a file is its name and
size, plus its modification time (``mtimeNs``) when the source knows it (files
on disk): the quick check rsync makes. A file touched or rewritten since it was
recorded does not count as resumed. A content hash would also catch a same-size
rewrite within the same second, but costs reading every file once more before
the upload starts (a full second pass over gigabytes); name and size alone let a
changed file pass as uploaded. Records written without ``mtimeNs`` (bytes,
streams, old manifests) match on name and size.

**Torn lines.** A crash in the middle of a write can leave a last line without
its newline. Reading skips it; before the next record is appended the file is
repaired: a torn line that still decodes is newline-terminated, one that does
not is truncated away (that step is redone), so no record is glued onto it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import IO

import msgspec
import yarl

from ._errors import ManifestMismatchError

__all__ = [
    "bound_to",
    "UNSURE_STATUSES",
    "Manifest",
    "ManifestEntry",
    "ManifestStatus",
    "ManifestTarget",
    "mismatch_error",
]

FORMAT_VERSION = 2


class ManifestStatus(StrEnum):
    """The state a manifest line records for a file."""

    REGISTERING = "registering"
    REGISTERED = "registered"
    MAYBE_REGISTERED = "maybe_registered"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def unsure(self) -> bool:
        """``registering`` or ``maybe_registered``: look the file up before trusting either way."""
        return self in UNSURE_STATUSES


UNSURE_STATUSES = (ManifestStatus.REGISTERING, ManifestStatus.MAYBE_REGISTERED)
"""The statuses a file is looked up in before it is trusted either way (``ManifestStatus.unsure``)."""


class ManifestEntry(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One line of the manifest."""

    name: str
    size: int
    status: ManifestStatus
    data_id: int | None = None
    path: str | None = None
    error: str | None = None
    mtime_ns: int | None = None
    after: int | None = None
    """On a ``registering`` line: the highest data id known at the level before the call was sent,
    when ids were seen to ascend (a look-up after a crash then lists only the ids past it)."""


class ManifestTarget(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Where a manifest's files go: the API's base URL and the dataset (and batch or scene).

    ``shard`` (``"i/n"``) is the worker's share of a sharded job: a manifest of
    shard 1/4 records only that shard's files, so it cannot resume shard 2/4.

    ``base_url`` is normalised (lower-case scheme and host, no default port, no
    credentials, query or trailing slash), so spellings of the same server compare equal.
    """

    base_url: str
    dataset_id: int
    batch_id: int | None = None
    scene_id: int | None = None
    shard: str | None = None

    def __post_init__(self) -> None:
        for field in ("dataset_id", "batch_id", "scene_id"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"ManifestTarget.{field} must be a positive int, got {value!r}")
        url = yarl.URL(self.base_url)
        if not url.is_absolute():
            raise ValueError(f"ManifestTarget.base_url must be an absolute URL, got {self.base_url!r}")
        normal = url.with_user(None).with_query(None).with_fragment(None)
        normal = normal.with_scheme(url.scheme.lower()).with_host((url.host or "").lower())
        self.base_url = str(normal).rstrip("/")

    @property
    def parent_id(self) -> int | None:
        """The level the target's files are registered into, and so looked up in.

        The scene when one is given (a scene inside a batch files its frames under
        the scene, not the batch), else the batch, else None: the dataset's top
        level. Registration, reconciliation and resume all read this one property.
        """
        return self.scene_id if self.scene_id is not None else self.batch_id

    def describe(self) -> str:
        """``dataset 7, batch 3 at https://...``: how messages name a target."""
        where = f"dataset {self.dataset_id}"
        if self.batch_id is not None:
            where += f", batch {self.batch_id}"
        if self.scene_id is not None:
            where += f", scene {self.scene_id}"
        if self.shard is not None:
            where += f", shard {self.shard}"
        return f"{where} at {self.base_url}"

    def cli_flags(self) -> str:
        """The ``basicai-async upload`` flags that aim at this target."""
        flags = f"--dataset {self.dataset_id}"
        if self.batch_id is not None:
            flags += f" --batch {self.batch_id}"
        if self.scene_id is not None:
            flags += f" --scene {self.scene_id}"
        if self.shard is not None:
            flags += f" --shard {self.shard}"
        return flags


class _Header(msgspec.Struct, kw_only=True):
    manifest: int
    target: ManifestTarget


_decoder = msgspec.json.Decoder(ManifestEntry)
_header_decoder = msgspec.json.Decoder(_Header)
_encoder = msgspec.json.Encoder()


class Manifest:
    """An append-only journal of upload outcomes, flushed line by line, bound to one target.

    Example::

        target = ManifestTarget(base_url=client.base_url, dataset_id=7)
        with Manifest("upload.jsonl", target=target) as manifest:
            done = manifest.registered()  # {(name, size): data_id}
    """

    def __init__(self, path: str | os.PathLike[str], *, target: ManifestTarget | None = None) -> None:
        self.path = Path(path)
        self._entries: dict[tuple[str, int], ManifestEntry] = {}
        self._target: ManifestTarget | None = None
        self._has_lines = False
        self._torn_at: int | None = None
        self._needs_newline = False
        for entry in self._read():
            self._entries[(entry.name, entry.size)] = entry
        self._file: IO[bytes] | None = None
        if target is not None:
            self.bind(target)

    @property
    def target(self) -> ManifestTarget | None:
        """The target this manifest is bound to (None: not bound yet)."""
        return self._target

    @property
    def torn(self) -> bool:
        """Whether the file ends in a line cut by a crash (repaired before the next record)."""
        return self._torn_at is not None or self._needs_newline

    def _read(self) -> Iterator[ManifestEntry]:
        if not self.path.exists():
            return
        offset = 0
        with self.path.open("rb") as f:
            for raw in f:
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                complete = raw.endswith(b"\n")
                if start == 0 and raw.lstrip().startswith(b'{"manifest"'):
                    try:
                        self._target = _header_decoder.decode(raw).target
                    except (msgspec.DecodeError, ValueError):
                        if not complete:
                            self._torn_at = start
                        continue
                    self._needs_newline = not complete
                    continue
                self._has_lines = True
                try:
                    entry = _decoder.decode(raw)
                except msgspec.DecodeError:
                    if not complete:
                        self._torn_at = start
                    # A line cut by a crash is skipped: that step is redone.
                    continue
                self._needs_newline = not complete
                yield entry

    def bind(self, target: ManifestTarget) -> None:
        """Tie the manifest to ``target``; refuse it if the file belongs to another one.

        Raises ``ManifestMismatchError`` naming the recorded target and the fix.
        """
        if bound_to(self.path, self._target, target):
            return
        self._target = target
        if self._has_lines:
            # A manifest from before binding: its records may be of another dataset.
            for key, entry in self._entries.items():
                if entry.status == ManifestStatus.REGISTERED:
                    self._entries[key] = msgspec.structs.replace(entry, status=ManifestStatus.REGISTERING)
        self._rewrite()

    def _rewrite(self) -> None:
        """Write the header and the latest records to a new file, then swap it in atomically."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as f:
            if self._target is not None:
                f.write(_encoder.encode(_Header(manifest=FORMAT_VERSION, target=self._target)) + b"\n")
            for entry in self._entries.values():
                f.write(_encoder.encode(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._torn_at, self._needs_newline = None, False

    def get(self, name: str, size: int, *, mtime_ns: int | None = None) -> ManifestEntry | None:
        """The latest entry for a file, if any; none when both sides know the mtime and it differs."""
        entry = self._entries.get((name, size))
        if entry is None or (mtime_ns is not None and entry.mtime_ns not in (None, mtime_ns)):
            return None
        return entry

    def get_many(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ManifestEntry]:
        """``{(name, size): entry}`` of the files of ``keys`` that have one."""
        entries = self._entries
        return {key: entries[key] for key in keys if key in entries}

    def entries(self) -> list[ManifestEntry]:
        """The latest entry of every file, in the order first recorded."""
        return list(self._entries.values())

    def registered(self) -> dict[tuple[str, int], int]:
        """``{(name, size): data_id}`` of the files recorded as registered."""
        return {
            key: e.data_id
            for key, e in self._entries.items()
            if e.status == ManifestStatus.REGISTERED and e.data_id is not None
        }

    def unsure(self) -> list[ManifestEntry]:
        """Entries to look up before trusting: ``registering`` and ``maybe_registered``."""
        return [e for e in self._entries.values() if ManifestStatus(e.status).unsure]

    def _open(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("ab")
        if self._torn_at is not None:
            f.truncate(self._torn_at)
        elif self._needs_newline:
            f.write(b"\n")
        self._torn_at, self._needs_newline = None, False
        return f

    def record(self, entry: ManifestEntry) -> None:
        """Append one entry and flush it to the OS, so a crash right after keeps it."""
        if self._file is None:
            self._file = self._open()
        self._file.write(_encoder.encode(entry) + b"\n")
        self._file.flush()
        self._entries[(entry.name, entry.size)] = entry

    def record_many(self, entries: Sequence[ManifestEntry]) -> None:
        """Append several entries with one write and one flush."""
        if not entries:
            return
        if self._file is None:
            self._file = self._open()
        self._file.write(b"".join(_encoder.encode(e) + b"\n" for e in entries))
        self._file.flush()
        for entry in entries:
            self._entries[(entry.name, entry.size)] = entry

    def close(self) -> None:
        """Close the journal file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bound_to(path: Path, recorded: ManifestTarget | None, requested: ManifestTarget) -> bool:
    """Whether a manifest recorded for ``recorded`` is bound to ``requested`` already (None: not bound).

    Raises ``ManifestMismatchError`` when it belongs to another target: the one
    binding rule of both manifest formats.
    """
    if recorded is None:
        return False
    if recorded != requested:
        raise mismatch_error(path, recorded, requested)
    return True


def mismatch_error(path: Path, recorded: ManifestTarget, requested: ManifestTarget) -> ManifestMismatchError:
    """The error for a manifest of ``recorded`` used for ``requested``, saying how to go on."""
    return ManifestMismatchError(
        f"manifest {path} belongs to {recorded.describe()}, not {requested.describe()}. "
        f"To resume that upload, upload to the same target (CLI: {recorded.cli_flags()} with the same "
        f"--manifest); to start a new upload into dataset {requested.dataset_id}, give another "
        f"--manifest file (or remove {path} if that upload is abandoned).",
        path=str(path),
        recorded=recorded.describe(),
        requested=requested.describe(),
    )
