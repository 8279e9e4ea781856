"""The upload manifest: a JSONL journal that makes an interrupted upload resumable.

Each line records one file's step as it happens::

    {"name": "0001.jpg", "size": 1234, "status": "registering", "path": "..."}
    {"name": "0001.jpg", "size": 1234, "status": "registered", "dataId": 17}

The last line for a (name, size) wins. ``registering`` is written *before* the
register call, so after a crash in the middle of it the next run knows to look
the file up in the dataset rather than register it a second time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

__all__ = ["Manifest", "ManifestEntry"]


class ManifestEntry(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One line of the manifest."""

    name: str
    size: int
    status: str
    data_id: int | None = None
    path: str | None = None
    error: str | None = None


_decoder = msgspec.json.Decoder(ManifestEntry)
_encoder = msgspec.json.Encoder()


class Manifest:
    """An append-only journal of upload outcomes, flushed line by line.

    Example::

        with Manifest("upload.jsonl") as manifest:
            done = manifest.registered()  # {(name, size): data_id}
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[tuple[str, int], ManifestEntry] = {}
        for entry in self._read():
            self._entries[(entry.name, entry.size)] = entry
        self._file: IO[bytes] | None = None

    def _read(self) -> Iterator[ManifestEntry]:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            for raw in f:
                if not raw.strip():
                    continue
                try:
                    yield _decoder.decode(raw)
                except msgspec.DecodeError:
                    # A crash mid-write leaves at most one partial last line: that step is redone.
                    continue

    def get(self, name: str, size: int) -> ManifestEntry | None:
        """The latest entry for a file, if any."""
        return self._entries.get((name, size))

    def record(self, entry: ManifestEntry) -> None:
        """Append one entry and flush it to the OS, so a crash right after keeps it."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        self._file.write(_encoder.encode(entry) + b"\n")
        self._file.flush()
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
