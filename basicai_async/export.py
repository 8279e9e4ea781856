"""Export: stream a dataset's data items and results, in order, with memory flat in its size.

Each data item comes with its name and files (from the ID-order listing that
found it) beside its results (:class:`ExportedData`), and ``export_results``
writes them as JSON lines or a training format (:mod:`basicai_async.formats`).

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

Memory: at most ``api_concurrency`` listing segments (at most 1,000 ids each)
and ``api_concurrency`` result chunks are held at once, whatever the dataset's
size; a converter holds one item and its format's class list.

Example::

    summary = await export_results(client, dataset_id, "results.jsonl")
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import aiohttp

from ._concurrency import DEFAULT_API_CONCURRENCY, check_api_concurrency
from ._constants import MAX_IDS
from ._errors import ResourceNotFoundError
from ._exported import ExportedData, ExportedFile
from ._fileread import read_image_size, read_json
from ._halves import in_halves
from ._validate import check_id
from ._walk import walk_data_items
from .formats import Converter, SkippedObject, Tally, converter_named
from .models import AnnotationResult, Item
from .telemetry._events import ExportEvent, ExportFinished, ExportProgress, ExportStarted, emitting

if TYPE_CHECKING:
    from ._client import AsyncBasicAI

__all__ = [
    "ExportSummary",
    "ExportedData",
    "ExportedFile",
    "export_results",
    "iter_data_ids",
    "iter_exported",
    "iter_results",
]

# An ExportProgress event about this often (bytes written).
_PROGRESS_BYTES = 64 * 1024
# Image headers and camera configurations read at once (object storage, not the API: no quota).
_STORAGE_READS = 32
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote, and what it could not.

    ``data_items``: items exported (for ``jsonl``, those with results);
    ``results``: annotation results read; ``objects``: objects written in the
    format; ``clipped``: boxes cut to their image; ``skipped``: objects left out,
    by reason in ``skipped_by_reason``; the first ``formats.NAMED`` of each kind
    are named in ``skipped_objects`` and ``clipped_objects``.
    """

    data_items: int
    results: int
    bytes_written: int
    format: str = "jsonl"
    files_written: int = 1
    objects: int = 0
    clipped: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_objects: tuple[SkippedObject, ...] = ()
    clipped_objects: tuple[SkippedObject, ...] = ()


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
    async with _closing(walk_data_items(client, dataset_id, slots=slots, window=api_concurrency)) as items:
        async for item in items:
            yield item.id


async def iter_exported(
    client: AsyncBasicAI,
    dataset_id: int,
    *,
    source_id: int | None = None,
    api_concurrency: int = DEFAULT_API_CONCURRENCY,
    image_sizes: bool = False,
    calibration: bool = False,
) -> AsyncIterator[ExportedData]:
    """Every data item of a dataset with its name, files and results, in the order of ``iter_data_ids``.

    Items without results come too (``results`` empty). ``image_sizes=True``
    fills in each image's ``width``/``height`` the server did not send, from the
    image's first bytes (a ranged read of its URL, never the whole image);
    ``calibration=True`` reads each item's camera configuration (its JSON file)
    into ``calibration``. A file that cannot be read is named in ``problems``.

    Example::

        async for data in iter_exported(client, dataset_id):
            print(data.name, [f.name for f in data.files], len(data.results))
    """
    check_id("dataset_id", dataset_id)
    check_api_concurrency(api_concurrency)
    slots = asyncio.Semaphore(api_concurrency)
    reads = asyncio.Semaphore(_STORAGE_READS)
    # Plain tasks, not a task group: a consumer may stop iterating early, and this
    # generator is then closed from another task, which a cancel scope forbids.
    pending: deque[asyncio.Task[list[ExportedData]]] = deque()

    async def chunk(items: list[Item]) -> list[ExportedData]:
        async with slots:
            results = await _results_of_present(client, dataset_id, [item.id for item in items], source_id)
        by_data: dict[int, list[AnnotationResult]] = {}
        for result in results:
            by_data.setdefault(result.data_id, []).append(result)
        exported = [ExportedData.of(item, by_data.get(item.id, [])) for item in items]
        if image_sizes or calibration:
            session = await client.http_session()
            await asyncio.gather(
                *(_complete(one, session, client, reads, image_sizes, calibration) for one in exported)
            )
        return exported

    if source_id is not None:
        # Checked once up front: a chunk's "not found" then means removed data items.
        async with slots:
            sources = await client.annotations.list_sources(dataset_id)
        if all(source.id != source_id for source in sources):
            raise ValueError(f"source_id {source_id} is not an annotation source of dataset {dataset_id}")
    try:
        items: list[Item] = []
        # An abandoned inner generator would be closed later by a task of the loop's
        # own: close it here so stopping early leaves nothing running.
        walk = walk_data_items(client, dataset_id, slots=slots, window=api_concurrency)
        async with _closing(walk) as data_items:
            async for item in data_items:
                items.append(item)
                if len(items) == MAX_IDS:
                    pending.append(asyncio.ensure_future(chunk(items)))
                    items = []
                    if len(pending) >= api_concurrency:
                        for exported in await pending.popleft():
                            yield exported
        if items:
            pending.append(asyncio.ensure_future(chunk(items)))
        while pending:
            for exported in await pending.popleft():
                yield exported
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


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
    exported = iter_exported(client, dataset_id, source_id=source_id, api_concurrency=api_concurrency)
    async with _closing(exported) as data_items:
        async for data in data_items:
            for result in data.results:
                yield result


async def _complete(
    data: ExportedData,
    session: aiohttp.ClientSession,
    client: AsyncBasicAI,
    reads: asyncio.Semaphore,
    image_sizes: bool,
    calibration: bool,
) -> None:
    """Fill in ``data``'s missing image sizes and its calibration, naming what could not be read."""
    for file in data.files:
        if image_sizes and file.is_image and (file.width is None or file.height is None):
            if file.url is None:
                data.problems[file.name or "?"] = "the server sent no size and no URL to read it from"
                continue
            async with reads:
                size = await read_image_size(session, file.url, client.retry)
            if isinstance(size, str):
                data.problems[file.name or "?"] = size
            else:
                file.width, file.height = size
        elif calibration and data.calibration is None and file.is_json:
            if file.url is None:
                data.problems[file.name or "?"] = "the camera configuration has no URL to read it from"
                continue
            async with reads:
                config = await read_json(session, file.url, client.retry)
            if isinstance(config, str):
                data.problems[file.name or "?"] = config
            else:
                data.calibration = config


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
    format: str = "jsonl",
    source_id: int | None = None,
    api_concurrency: int = DEFAULT_API_CONCURRENCY,
    on_event: Callable[[ExportEvent], object] | None = None,
) -> ExportSummary:
    """Write every annotation result of a dataset to ``out`` in ``format``.

    ``jsonl`` (the default) writes a file (or an open binary stream): one
    result a line, camelCase, with its data item's ``dataName`` and
    ``dataFiles``. ``coco``, ``yolo``, ``voc``, ``pcd-boxes`` and ``kitti``
    write into the directory ``out`` (created; it must be empty); see
    :mod:`basicai_async.formats`. The order, consistency and memory of
    ``iter_exported``; ``api_concurrency`` caps the API calls in flight.
    Objects a format cannot hold are counted by reason in the summary and the
    first ones named; boxes past an image's edge are clipped, counted and named.
    ``on_event`` is told ``ExportStarted``, an ``ExportProgress`` about every
    64 KiB written, ``LimiterWaited`` for calls held by the rate limiter, and
    ``ExportFinished``; it is called on the event loop and must return quickly.

    Example::

        summary = await export_results(client, dataset_id, "out/", format="coco")
        print(summary.objects, summary.skipped)
    """
    # Checked before `out` is opened: bad arguments leave no empty file behind.
    check_id("dataset_id", dataset_id)
    check_api_concurrency(api_concurrency)
    converter_type = converter_named(format)
    target = _target(out, converter_type)
    tally = Tally()
    converter = converter_type(target, tally)
    data_items = 0
    results = 0
    reported = 0
    telemetry = client.telemetry
    counted = 0  # results counted in the telemetry's metric

    def progress() -> None:
        nonlocal reported, counted
        if telemetry is not None and results != counted:
            telemetry.exported(results - counted)
            counted = results
        if on_event is not None and converter.bytes_written != reported:
            reported = converter.bytes_written
            on_event(ExportProgress(data_items, results, reported))

    if on_event is not None:
        on_event(ExportStarted(dataset_id))
    exported = iter_exported(
        client,
        dataset_id,
        source_id=source_id,
        api_concurrency=api_concurrency,
        image_sizes=converter_type.needs_image_sizes,
        calibration=converter_type.needs_calibration,
    )
    span_of_run = (
        nullcontext(None)
        if telemetry is None
        else telemetry.run_span(
            "basicai.export", {"basicai.dataset.id": dataset_id, "basicai.export.format": format}
        )
    )
    with emitting(on_event), span_of_run as span:
        async with _closing(exported) as data_items_iter:
            try:
                async for data in data_items_iter:
                    if data.results or format != "jsonl":
                        data_items += 1
                    results += len(data.results)
                    converter.add(data)
                    if converter.bytes_written - reported >= _PROGRESS_BYTES:
                        progress()
            except BaseException:
                converter.abort()
                raise
            converter.close()
        progress()
        if span is not None:
            span.set_attribute("basicai.export.results", results)
            span.set_attribute("basicai.export.data_items", data_items)
            span.set_attribute("basicai.export.bytes", converter.bytes_written)
    summary = ExportSummary(
        data_items=data_items,
        results=results,
        bytes_written=converter.bytes_written,
        format=format,
        files_written=converter.files_written,
        objects=tally.objects,
        clipped=tally.clipped,
        skipped=sum(tally.skipped.values()),
        skipped_by_reason=dict(tally.skipped),
        skipped_objects=tuple(tally.skipped_named),
        clipped_objects=tuple(tally.clipped_named),
    )
    if on_event is not None:
        on_event(ExportFinished(summary))
    return summary


def _target(out: str | os.PathLike[str] | IO[bytes], converter: type[Converter]) -> Path | IO[bytes]:
    """Where ``converter`` writes: a file path or stream for one-file formats, else an empty directory."""
    if not isinstance(out, str | os.PathLike):
        if not converter.writes_file:
            raise TypeError(f"format {converter.name!r} writes a directory: give a path, not a stream")
        return out
    path = Path(out)
    if converter.writes_file:
        return path
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(
            f"format {converter.name!r} writes into a directory, and {path} is not an empty one: "
            "give a new or empty directory"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path
