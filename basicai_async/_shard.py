"""Split one upload job across N workers: each takes the sources whose *name* hashes to its shard.

The hash is BLAKE2b of the name's UTF-8 bytes (undecodable file-system bytes
kept as they are), read as a big-endian integer, modulo N: the same in every
process, machine and Python version (Python's ``hash()`` is salted per
process, so it would split the files differently in every worker). Hashing the
name, not the path or the listing order, means:

- every worker computes its share alone, from its own listing, with no
  coordinator: a Kubernetes Indexed Job (``--shard $JOB_COMPLETION_INDEX/N``),
  a Slurm array, Ray or Dask tasks, or plain processes;
- two sources with the same name land in the same shard, so the uploader's
  duplicate-name check still catches them;
- the split of one name never changes between runs, so a worker restarted
  with its manifest resumes exactly its own files.

Example::

    shard = Shard.parse("1/4")        # the second of four workers
    shard.contains("img/0001.jpg")    # True for about a quarter of the names
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ._errors import InvalidSourceError
from ._sources import UploadSource

__all__ = ["Shard", "ShardSpec", "in_shard", "shard_of", "shard_sources", "shard_sources_async"]

T = TypeVar("T")


def shard_of(name: str, count: int) -> int:
    """The shard (``0 <= shard < count``) that ``name`` belongs to, stable across processes and versions."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"the shard count must be an int >= 1, got {count!r}")
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``): one worker's share of a job.

    ``str(shard)`` is ``"index/count"``, the form ``--shard`` takes and a manifest records.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        for field, value in (("index", self.index), ("count", self.count)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Shard.{field} must be an int, got {type(value).__name__} {value!r}")
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"a shard is I/N with 0 <= I < N, got {self.index}/{self.count} "
                f"(the first of {max(self.count, 1)} workers is 0/{max(self.count, 1)})"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (as ``--shard`` takes it, e.g. ``$JOB_COMPLETION_INDEX/4``) as a ``Shard``."""
        index, sep, count = text.strip().partition("/")
        try:
            numbers = (int(index), int(count)) if sep else None
        except ValueError:
            numbers = None
        if numbers is None:
            raise ValueError(f"a shard is written I/N (e.g. 0/4, the first of 4 workers), got {text!r}")
        return cls(*numbers)

    def contains(self, name: str) -> bool:
        """Whether the source named ``name`` belongs to this shard."""
        return shard_of(name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


ShardSpec = Shard | tuple[int, int] | str
"""What ``shard=`` accepts: a ``Shard``, an ``(index, count)`` pair or ``"index/count"``."""


def as_shard(spec: ShardSpec | None) -> Shard | None:
    """``spec`` as a ``Shard`` (None stays None); ``ValueError``/``TypeError`` for a bad one."""
    if spec is None or isinstance(spec, Shard):
        return spec
    if isinstance(spec, str):
        return Shard.parse(spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        return Shard(*spec)
    raise TypeError(f"shard must be a Shard, an (index, count) pair or 'I/N', got {spec!r}")


def source_name(item: object) -> str:
    """The name a source is uploaded under: an ``UploadSource``'s name, a path's file name."""
    if isinstance(item, UploadSource):
        return item.name
    if isinstance(item, InvalidSourceError):
        return item.filename
    if isinstance(item, (str, os.PathLike)):
        return Path(item).name
    # Not a source at all: it fails at the uploader's check, in one shard (by its repr).
    return repr(item)


def in_shard(item: object, shard: Shard) -> bool:
    """Whether the source ``item`` (an ``UploadSource`` or a path) belongs to ``shard``."""
    return shard.contains(source_name(item))


def shard_sources(sources: Iterable[T], shard: Shard) -> Iterator[T]:
    """The sources of ``sources`` that belong to ``shard``, lazily, in order."""
    return (item for item in sources if in_shard(item, shard))


async def shard_sources_async(sources: AsyncIterable[T], shard: Shard) -> AsyncIterator[T]:
    """The sources of an async iterable that belong to ``shard``, lazily, in order."""
    async for item in sources:
        if in_shard(item, shard):
            yield item
