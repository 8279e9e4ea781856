"""A dataset's data ids in ID order, listed by several ID-order cursors at once.

One cursor over ``listItemById`` costs a round trip per 100 items, however
much quota is left. This walk splits each level of the tree into *segments*
of ids ``(lo, hi]`` and walks several segments concurrently, each with its own
``lastId`` cursor; the segments' ids are yielded in order.

- The ID-order traversal is the only source of truth. The page listing
  (``listItem``) serves only for hints: page 1 gives the level's ``total``, and
  ``pageSize=1`` pages at every segment's end (see ``_span``) give boundary ids.
  Any boundaries give a correct partition (they are made non-decreasing, and
  the last segment is unbounded), so a listing whose pages shift, come in
  another order, or lack ``total`` costs speed, never correctness: every item
  present for the whole walk lies in exactly one segment, and a ``lastId``
  cursor sees every item of its range present throughout exactly once.
- Order: level by level (breadth first, the top level first, then the levels
  of the batches and scenes in the order they were listed), each level in
  ascending id. Items added or removed during the walk may or may not appear.
- Memory: at most ``window`` segments (of about ``_SEGMENT`` ids each) are
  listed ahead of the consumer, and at most ``window`` levels' totals are
  fetched ahead, whatever the dataset's size.
- Segments: a level of ``total`` items splits into about ``window`` segments
  (whole steps of 100 ids, at most ``_SEGMENT``), so a small level keeps every
  cursor the window allows busy and a large one keeps memory bound.
- Calls: a level costs its ``listItemById`` steps, one ``total`` call, and one
  boundary call per segment (at most one per step, a tenth for large levels).
  The caller's ``slots`` cap the calls in flight; the client's rate limiter
  alone decides when each may go. Every call is a typed one of ``client.items``'
  pagers, started part way (at a page, after an id), so answers are decoded
  and checked by the one pipeline.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._constants import MAX_PAGE_SIZE
from .models import IdPage, Item, Page

if TYPE_CHECKING:
    from ._client import AsyncBasicAI

__all__ = ["walk_data_items"]

_STEP = MAX_PAGE_SIZE
# Ten steps a segment: one boundary call per ten listing calls, and a window of
# 20 segments holds 20,000 ids.
_SEGMENT = 10 * _STEP

_T = TypeVar("_T")
Bound = int | None
"""A segment boundary: an item id, or None for the end of the level."""


def _span(total: int | None, window: int) -> int:
    """Ids a segment of a level of ``total`` items covers: enough segments for every cursor.

    A level splits into about ``window`` segments (whole steps each), so a small
    level keeps every allowed cursor busy; no segment spans more than ``_SEGMENT``
    ids, so a large one keeps the window's memory bound.
    """
    if not total:
        return _SEGMENT
    per_cursor = -(-total // window)
    return min(_SEGMENT, max(_STEP, -(-per_cursor // _STEP) * _STEP))


class _Segment:
    """The items of one level whose ids are in ``(lo, hi]``, walked by one ``lastId`` cursor.

    ``lo`` is None for the level's start; a task's result None means the level
    ended before the segment. ``hi`` None (or a task's None) means no upper bound.
    """

    __slots__ = ("chunks", "containers", "hi", "lo", "parent", "room", "task")

    def __init__(
        self, parent: int | None, lo: asyncio.Task[Bound] | None, hi: asyncio.Task[Bound] | None
    ) -> None:
        self.parent = parent
        self.lo = lo
        self.hi = hi
        # One list of data items per step, None after the last; `room` bounds how many wait.
        self.chunks: asyncio.Queue[list[Item] | None] = asyncio.Queue()
        self.room = asyncio.Semaphore(_SEGMENT // _STEP + 1)
        self.containers: list[int] = []
        self.task: asyncio.Task[None] | None = None


class _TreeWalk:
    """One walk: a planner task creating segments in output order, segment tasks walking them."""

    def __init__(self, client: AsyncBasicAI, dataset_id: int, slots: asyncio.Semaphore, window: int) -> None:
        self._items = client.items
        self._dataset_id = dataset_id
        self._slots = slots
        self._window = window
        self._room = asyncio.Semaphore(window)
        self._out: asyncio.Queue[_Segment | None] = asyncio.Queue()
        # Plain tasks, not a task group: the consumer may stop early and close the
        # generator from another task, which a cancel scope forbids.
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def items(self) -> AsyncIterator[Item]:
        planner = self._spawn(self._plan())
        try:
            while (segment := await self._out.get()) is not None:
                while (chunk := await segment.chunks.get()) is not None:
                    segment.room.release()
                    for item in chunk:
                        yield item
                assert segment.task is not None
                await segment.task  # raises the walk's error, if any
                self._room.release()
            await planner
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- planning ----------------------------------------------------------------

    async def _plan(self) -> None:
        """Create every segment in output order, waiting for room in the window."""
        try:
            parents: deque[int | None] = deque([None])
            totals: deque[asyncio.Task[int | None]] = deque()
            walked: deque[_Segment] = deque()
            while parents or walked:
                if not parents:
                    # The next levels are the batches and scenes the oldest segment found.
                    segment = walked.popleft()
                    assert segment.task is not None
                    await segment.task
                    parents.extend(segment.containers)
                    continue
                # Fetch a few levels' totals ahead, so the next level is planned at once.
                while len(totals) < min(len(parents), self._window):
                    totals.append(self._spawn(self._total(parents[len(totals)])))
                parent = parents.popleft()
                total = await totals.popleft()
                for segment in self._segments(parent, total):
                    await self._room.acquire()
                    segment.task = self._spawn(self._walk(segment))
                    walked.append(segment)
                    self._out.put_nowait(segment)
                    # Done segments leave at once (in order), so memory stays flat in the level's size.
                    while walked and walked[0].task is not None and walked[0].task.done():
                        done = walked.popleft()
                        assert done.task is not None
                        await done.task  # its error, if any
                        parents.extend(done.containers)
        finally:
            self._out.put_nowait(None)

    def _segments(self, parent: int | None, total: int | None) -> Iterator[_Segment]:
        """The segments of one level, each with a boundary probe at each segment's end (``_span`` ids apart).

        Lazy: a segment's probe starts only when the planner asks for it.
        """
        # None: the variant without `total` walks the level with one cursor.
        span = _span(total, self._window)
        count = 1 if total is None else max(1, -(-total // span))
        lo: asyncio.Task[Bound] | None = None
        for index in range(1, count):
            hi = self._spawn(self._bound(parent, index * span - 1, lo))
            yield _Segment(parent, lo, hi)
            lo = hi
        yield _Segment(parent, lo, None)

    async def _bound(self, parent: int | None, index: int, before: Awaitable[Bound] | None) -> Bound:
        """The id at ``index`` of the page listing, made no lower than the previous boundary."""
        probed = await self._probe(parent, index)
        previous = None if before is None else await before
        if probed is None or (before is not None and previous is None):
            return None  # the level ends before `index`
        return probed if previous is None else max(probed, previous)

    # -- calls -------------------------------------------------------------------

    async def _page(self, parent: int | None, page_no: int) -> Page[Item]:
        """One item of the page listing at ``page_no`` (with the level's ``total``)."""
        pages = self._items.list(self._dataset_id, parent_id=parent, page_size=1, start_page=page_no).pages()
        try:
            async with self._slots:
                return await anext(pages)
        finally:
            await pages.aclose()

    async def _total(self, parent: int | None) -> int | None:
        return (await self._page(parent, 1)).total

    async def _probe(self, parent: int | None, index: int) -> int | None:
        page = await self._page(parent, index + 1)
        return page.items[0].id if page.items else None

    # -- walking -------------------------------------------------------------------

    async def _walk(self, segment: _Segment) -> None:
        """List ``(lo, hi]`` step by step, queueing each step's data ids."""
        try:
            last: int | None = None
            if segment.lo is not None:
                last = await segment.lo
                if last is None:
                    return  # the level ended before this segment began
            listing = self._items.iter_by_id(
                self._dataset_id, parent_id=segment.parent, limit=_STEP, after=last
            )
            steps = listing.pages()
            try:
                await self._walk_steps(segment, steps, last)
            finally:
                await steps.aclose()
        finally:
            segment.chunks.put_nowait(None)

    async def _walk_steps(
        self, segment: _Segment, steps: AsyncIterator[IdPage[Item]], last: int | None
    ) -> None:
        while True:
            await segment.room.acquire()
            async with self._slots:
                items = (await anext(steps)).items
            hi = None if segment.hi is None else await segment.hi
            done = len(items) < _STEP
            data: list[Item] = []
            # The pager has checked that the ids ascend.
            for item in items:
                if hi is not None and item.id > hi:
                    done = True
                    break
                last = item.id
                if item.is_data:
                    data.append(item)
                else:
                    segment.containers.append(item.id)
            segment.chunks.put_nowait(data)
            if done or (hi is not None and last == hi):
                return


def walk_data_items(
    client: AsyncBasicAI, dataset_id: int, *, slots: asyncio.Semaphore, window: int
) -> AsyncIterator[Item]:
    """Every data item of a dataset as listed (id, name, files), level by level in ascending id.

    ``slots`` caps the listing calls in flight (share it with other calls of the
    same job); ``window`` caps the segments listed ahead of the consumer.
    """
    return _TreeWalk(client, dataset_id, slots, window).items()
