"""Export: stream a dataset's annotation results, in order, with memory flat in its size.

Data ids come from an ID-order traversal of the dataset's items (descending
into batches and scenes); results are fetched with ``batchDataAnnotationResult``
100 ids at a time, a few chunks concurrently, and yielded in traversal order.
At most ``concurrency`` chunks are held at once, whatever the dataset's size.

Example::

    summary = await export_results(client, dataset_id, "results.jsonl")
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, TypeVar

import anyio
import msgspec

from ._constants import MAX_IDS
from ._validate import check_id
from .models import AnnotationResult

if TYPE_CHECKING:
    from ._client import AsyncBasicAI

__all__ = ["ExportSummary", "export_results", "iter_data_ids", "iter_results"]

_FLUSH_BYTES = 64 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    data_items: int
    results: int
    bytes_written: int


@asynccontextmanager
async def _closing(iterator: AsyncIterator[_T]) -> AsyncIterator[AsyncIterator[_T]]:
    """``contextlib.aclosing`` for an iterator typed as a plain ``AsyncIterator``."""
    try:
        yield iterator
    finally:
        if isinstance(iterator, AsyncGenerator):
            await iterator.aclose()


async def iter_data_ids(client: AsyncBasicAI, dataset_id: int) -> AsyncIterator[int]:
    """Every data item's id in a dataset, in ID order level by level, batches and scenes included."""
    check_id("dataset_id", dataset_id)
    parents: deque[int | None] = deque([None])
    while parents:
        parent = parents.popleft()
        # Closed here, not by the garbage collector, when our consumer stops early.
        async with _closing(client.items.iter_by_id(dataset_id, parent_id=parent)) as level:
            async for item in level:
                if item.is_data:
                    yield item.id
                else:
                    parents.append(item.id)


async def iter_results(
    client: AsyncBasicAI,
    dataset_id: int,
    *,
    source_id: int | None = None,
    concurrency: int = 4,
) -> AsyncIterator[AnnotationResult]:
    """Every annotation result of a dataset, in data-id traversal order.

    Example::

        async for result in iter_results(client, dataset_id):
            print(result.data_id, len(result.instances))
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    # Plain tasks, not a task group: a consumer may stop iterating early, and this
    # generator is then closed from another task, which a cancel scope forbids.
    pending: deque[asyncio.Task[list[AnnotationResult]]] = deque()

    def fetch(ids: list[int]) -> None:
        pending.append(
            asyncio.ensure_future(
                client.annotations.get_many_data_results(dataset_id, ids, source_id=source_id)
            )
        )

    try:
        ids: list[int] = []
        # An abandoned inner generator would be closed later by a task of the loop's
        # own: close it here so stopping early leaves nothing running.
        async with _closing(iter_data_ids(client, dataset_id)) as data_ids:
            async for data_id in data_ids:
                ids.append(data_id)
                if len(ids) == MAX_IDS:
                    fetch(ids)
                    ids = []
                    if len(pending) >= concurrency:
                        for result in await pending.popleft():
                            yield result
        if ids:
            fetch(ids)
        while pending:
            for result in await pending.popleft():
                yield result
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def export_results(
    client: AsyncBasicAI,
    dataset_id: int,
    out: str | os.PathLike[str] | IO[bytes],
    *,
    source_id: int | None = None,
    concurrency: int = 4,
) -> ExportSummary:
    """Write every annotation result of a dataset to ``out`` as JSON lines (camelCase, one result a line)."""
    encoder = msgspec.json.Encoder()
    line = bytearray()
    pending = bytearray()
    count = 0
    data_items = 0
    last_data_id: int | None = None
    written = 0
    stream: anyio.AsyncFile[bytes] = (
        anyio.wrap_file(out) if not isinstance(out, (str, os.PathLike)) else await anyio.open_file(out, "wb")
    )
    try:
        async for result in iter_results(client, dataset_id, source_id=source_id, concurrency=concurrency):
            encoder.encode_into(result, line)
            line.extend(b"\n")
            pending += line
            count += 1
            # Results come grouped by data item, so counting changes keeps memory flat.
            if result.data_id != last_data_id:
                data_items += 1
                last_data_id = result.data_id
            if len(pending) >= _FLUSH_BYTES:
                written += await _write(stream, pending)
        written += await _write(stream, pending)
    finally:
        if isinstance(out, (str, os.PathLike)):
            await stream.aclose()
    return ExportSummary(data_items=data_items, results=count, bytes_written=written)


async def _write(stream: anyio.AsyncFile[bytes], pending: bytearray) -> int:
    size = len(pending)
    if size:
        await stream.write(bytes(pending))
        await stream.flush()
        pending.clear()
    return size
