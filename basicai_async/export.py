"""Export: stream a dataset's annotation results, in order, with memory flat in its size.

Data ids come from ID-order traversals (``listItemById``) of the dataset's
levels, several cursors at once (see ``_walk``); results are fetched with
``batchDataAnnotationResult`` 100 ids at a time, several chunks at once, and
yielded in the ids' order. ``api_concurrency`` caps the API calls in flight
(listing and results together); the client's rate limiter alone decides when
each call goes, so at real round trips an export runs at the quota's pace.

Order: data items level by level -- the top level first, then the levels of
the batches and scenes in the order they were listed -- each level in
ascending id; a data item's results together, in the server's order.

Consistency: every data item present for the whole export is exported exactly
once. Items added or removed while the export runs may or may not appear.

Memory: at most ``api_concurrency`` listing segments (about 1,000 ids each)
and ``api_concurrency`` result chunks are held at once, whatever the dataset's size.

Example::

    summary = await export_results(client, dataset_id, "results.jsonl")
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, TypeVar

import anyio
import msgspec

from ._concurrency import DEFAULT_API_CONCURRENCY, check_api_concurrency
from ._constants import MAX_IDS
from ._errors import ResourceNotFoundError
from ._halves import in_halves
from ._validate import check_id
from ._walk import walk_data_ids
from .models import AnnotationResult
from .telemetry._events import ExportEvent, ExportFinished, ExportProgress, ExportStarted, emitting

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


async def iter_data_ids(
    client: AsyncBasicAI, dataset_id: int, *, api_concurrency: int = DEFAULT_API_CONCURRENCY
) -> AsyncIterator[int]:
    """Every data item's id in a dataset, batches and scenes included, in the export's order.

    Level by level (the top level, then each batch's and scene's level in the
    order they were listed), each level in ascending id. ``api_concurrency``
    listing calls may be in flight at once. Every item present for the whole
    iteration comes exactly once; items added or removed meanwhile may or may not.
    """
    check_id("dataset_id", dataset_id)
    check_api_concurrency(api_concurrency)
    slots = asyncio.Semaphore(api_concurrency)
    async with _closing(walk_data_ids(client, dataset_id, slots=slots, window=api_concurrency)) as ids:
        async for data_id in ids:
            yield data_id


async def iter_results(
    client: AsyncBasicAI,
    dataset_id: int,
    *,
    source_id: int | None = None,
    api_concurrency: int = DEFAULT_API_CONCURRENCY,
) -> AsyncIterator[AnnotationResult]:
    """Every annotation result of a dataset, in the order of ``iter_data_ids``.

    ``api_concurrency`` (default 20, enough for the quota at 200 ms round trips)
    caps the API calls in flight, listing and results together.

    Example::

        async for result in iter_results(client, dataset_id):
            print(result.data_id, len(result.instances))
    """
    check_id("dataset_id", dataset_id)
    check_api_concurrency(api_concurrency)
    slots = asyncio.Semaphore(api_concurrency)
    # Plain tasks, not a task group: a consumer may stop iterating early, and this
    # generator is then closed from another task, which a cancel scope forbids.
    pending: deque[asyncio.Task[list[AnnotationResult]]] = deque()

    async def results(ids: list[int]) -> list[AnnotationResult]:
        async with slots:
            return await _results_of_present(client, dataset_id, ids, source_id)

    if source_id is not None:
        # Checked once up front: a chunk's "not found" then means removed data items.
        async with slots:
            sources = await client.annotations.list_sources(dataset_id)
        if all(source.id != source_id for source in sources):
            raise ValueError(f"source_id {source_id} is not an annotation source of dataset {dataset_id}")
    try:
        ids: list[int] = []
        # An abandoned inner generator would be closed later by a task of the loop's
        # own: close it here so stopping early leaves nothing running.
        walk = walk_data_ids(client, dataset_id, slots=slots, window=api_concurrency)
        async with _closing(walk) as data_ids:
            async for data_id in data_ids:
                ids.append(data_id)
                if len(ids) == MAX_IDS:
                    pending.append(asyncio.ensure_future(results(ids)))
                    ids = []
                    if len(pending) >= api_concurrency:
                        for result in await pending.popleft():
                            yield result
        if ids:
            pending.append(asyncio.ensure_future(results(ids)))
        while pending:
            for result in await pending.popleft():
                yield result
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _results_of_present(
    client: AsyncBasicAI, dataset_id: int, ids: list[int], source_id: int | None
) -> list[AnnotationResult]:
    """The results of ``ids``, leaving out data items removed since they were listed.

    The API refuses a whole chunk for one missing id, so a refused chunk is
    split in halves until the missing ids are alone (:func:`~._halves.in_halves`):
    a few calls per removed item.
    """
    found: list[AnnotationResult] = []
    missing: list[int] = []

    async def fetch(chunk: Sequence[int]) -> None:
        found.extend(await client.annotations.get_many_data_results(dataset_id, chunk, source_id=source_id))

    await in_halves(
        ids, fetch, refused=ResourceNotFoundError, alone=lambda data_id, _: missing.append(data_id)
    )
    if missing and not found:
        # Every id missing: make sure it is the items, not the dataset, that are gone.
        await client.datasets.get(dataset_id)
    return found


async def export_results(
    client: AsyncBasicAI,
    dataset_id: int,
    out: str | os.PathLike[str] | IO[bytes],
    *,
    source_id: int | None = None,
    api_concurrency: int = DEFAULT_API_CONCURRENCY,
    on_event: Callable[[ExportEvent], object] | None = None,
) -> ExportSummary:
    """Write every annotation result of a dataset to ``out`` as JSON lines (camelCase, one result a line).

    The order, consistency and memory of ``iter_results``; ``api_concurrency``
    caps the API calls in flight. ``on_event`` is told ``ExportStarted``, an
    ``ExportProgress`` after each write (about every 64 KiB), ``LimiterWaited``
    for calls held by the rate limiter, and ``ExportFinished``; it is called on
    the event loop and must return quickly.
    """
    # Checked before `out` is opened: bad arguments leave no empty file behind.
    check_id("dataset_id", dataset_id)
    check_api_concurrency(api_concurrency)
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
    if on_event is not None:
        on_event(ExportStarted(dataset_id))
    try:
        with emitting(on_event):
            async for result in iter_results(
                client, dataset_id, source_id=source_id, api_concurrency=api_concurrency
            ):
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
                    if on_event is not None:
                        on_event(ExportProgress(data_items, count, written))
            if pending:
                written += await _write(stream, pending)
                if on_event is not None:
                    on_event(ExportProgress(data_items, count, written))
    finally:
        if isinstance(out, (str, os.PathLike)):
            await stream.aclose()
    summary = ExportSummary(data_items=data_items, results=count, bytes_written=written)
    if on_event is not None:
        on_event(ExportFinished(summary))
    return summary


async def _write(stream: anyio.AsyncFile[bytes], pending: bytearray) -> int:
    size = len(pending)
    if size:
        await stream.write(bytes(pending))
        await stream.flush()
        pending.clear()
    return size
