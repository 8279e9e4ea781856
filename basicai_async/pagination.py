"""The one pagination helper: BasicAI's two list styles, as generators and as pager objects.

- Page style (``pageNo``/``pageSize``): ``total`` comes with page 1 only, and data
  may shift between pages. Iteration stops at a short page, an empty page, or
  once ``total`` records were seen.
- ID-order traversal (``lastId``/``limit``): a step with fewer than ``limit``
  records (possibly none) is the last one. Ids must ascend, across steps and
  within one: an id at or below the one before raises ``APIDecodeError``
  (the next ``lastId`` would skip records or list some again).

Resources return an ``AsyncPager`` (page style) or an ``AsyncIdPager`` (ID
order): each is an async iterator of the records, and ``pages()`` gives the
pages themselves (with ``total`` on page style), as openai-python's pagers do.
Either may start part way: at page ``start`` (a page style listing), or after
the id ``after`` (an ID-order traversal), so callers can walk several ranges
of one listing at once.

Example::

    listing = client.datasets.list()
    async for page in listing.pages():
        print(page.total, len(page.items))
    async for dataset in client.datasets.list():
        print(dataset.name)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from ._errors import APIDecodeError
from .models.envelope import IdPage, Page

__all__ = ["AsyncIdPager", "AsyncPager", "iter_id_pages", "iter_pages"]


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T")
I = TypeVar("I", bound=_HasId)  # noqa: E741


async def iter_pages(
    fetch: Callable[[int], Awaitable[Page[T]]], *, page_size: int, start: int = 1
) -> AsyncGenerator[Page[T], None]:
    """Yield ``fetch(start)``, ``fetch(start + 1)``, ... until the listing is exhausted."""
    page_no = start
    total: int | None = None
    # The records of the pages skipped count towards ``total``.
    seen = (start - 1) * page_size
    while True:
        page = await fetch(page_no)
        if page_no == start:
            total = page.total
        yield page
        count = len(page.items)
        # Let the page go before the next one is fetched: its memory is then reused for the
        # next decode instead of both pages living at once (a third of a listing's CPU).
        del page
        seen += count
        if count < page_size or (total is not None and seen >= total):
            return
        page_no += 1


async def iter_id_pages(
    fetch: Callable[[int | None], Awaitable[IdPage[I]]],
    *,
    limit: int,
    after: int | None = None,
    path: str = "ID-order listing",
) -> AsyncGenerator[IdPage[I], None]:
    """Yield the steps of an ID-order traversal: ``fetch(after)``, then ``fetch(last_id)``...

    Raises ``APIDecodeError`` (naming ``GET path``) when an id does not ascend.
    """
    last_id = after
    while True:
        step = await fetch(last_id)
        for item in step.items:
            if last_id is not None and item.id <= last_id:
                raise APIDecodeError(
                    f"answered id {item.id} after id {last_id}: ids must ascend", method="GET", path=path
                )
            last_id = item.id
        yield step
        count = len(step.items)
        del step  # not held while the next step is fetched and decoded (see iter_pages)
        if count < limit:
            return


class _Records(Generic[T]):
    """An async iterator over the records of the pages that ``pages()`` yields."""

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: AsyncGenerator[T, None] | None = None

    def pages(self) -> AsyncGenerator[Page[T] | IdPage[T], None]:
        raise NotImplementedError

    async def _iterate(self) -> AsyncGenerator[T, None]:
        async for page in self.pages():
            records = page.items
            del page
            for record in records:
                yield record
            # Not held while the next page is fetched and decoded (see iter_pages); the last
            # record may stay, it holds no reference to the page.
            del records

    def _started(self) -> AsyncGenerator[T, None]:
        records = self._records
        if records is None:
            records = self._records = self._iterate()
        return records

    def __aiter__(self) -> AsyncGenerator[T, None]:
        # ``async for`` drives the records' generator itself: a record then costs one
        # generator step, not also a Python-level ``__anext__`` call (half a page's
        # CPU in a 100-record listing). ``anext(pager)`` continues the same records.
        return self._started()

    def __anext__(self) -> Awaitable[T]:
        return self._started().__anext__()

    async def aclose(self) -> None:
        """Stop early: close the listing's generator (``contextlib.aclosing`` calls this)."""
        if self._records is not None:
            await self._records.aclose()


class AsyncPager(_Records[T]):
    """A page-style listing: iterate it for the records, or ``pages()`` for the pages and ``total``.

    Nothing is fetched until iteration starts; ``pages()`` starts a listing of its own.
    """

    __slots__ = ("_fetch", "_page_size", "_start")

    def __init__(self, fetch: Callable[[int], Awaitable[Page[T]]], *, page_size: int, start: int = 1) -> None:
        super().__init__()
        self._fetch = fetch
        self._page_size = page_size
        self._start = start

    def pages(self) -> AsyncGenerator[Page[T], None]:
        """Every page in order from ``start``; ``page.total`` (on page 1) counts the listing's records."""
        return iter_pages(self._fetch, page_size=self._page_size, start=self._start)


class AsyncIdPager(_Records[I]):
    """An ID-order traversal: iterate it for the records, or ``pages()`` for its steps.

    Nothing is fetched until iteration starts; ``pages()`` starts a traversal of its own.
    ``path`` names the call in the ``APIDecodeError`` raised when ids do not ascend.
    """

    __slots__ = ("_after", "_fetch", "_limit", "_path")

    def __init__(
        self,
        fetch: Callable[[int | None], Awaitable[IdPage[I]]],
        *,
        limit: int,
        after: int | None = None,
        path: str = "ID-order listing",
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self._limit = limit
        self._after = after
        self._path = path

    def pages(self) -> AsyncGenerator[IdPage[I], None]:
        """Every step in order (of the records with ids above ``after``), each of at most ``limit``."""
        return iter_id_pages(self._fetch, limit=self._limit, after=self._after, path=self._path)
