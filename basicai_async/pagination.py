"""The one pagination helper: async generators over both of BasicAI's list styles.

- Page style (``pageNo``/``pageSize``): ``total`` comes with page 1 only, and data
  may shift between pages. Iteration stops at a short page, an empty page, or
  once ``total`` records were seen.
- ID-order traversal (``lastId``/``limit``): a step with fewer than ``limit``
  records (possibly none) is the last one.

Example::

    async for dataset in iter_page_items(fetch_page, page_size=100):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from .models.envelope import IdPage, Page

__all__ = ["iter_by_id", "iter_page_items", "iter_pages"]


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T")
I = TypeVar("I", bound=_HasId)  # noqa: E741


async def iter_pages(fetch: Callable[[int], Awaitable[Page[T]]], *, page_size: int) -> AsyncIterator[Page[T]]:
    """Yield ``fetch(1)``, ``fetch(2)``, ... until the listing is exhausted."""
    page_no = 1
    total: int | None = None
    seen = 0
    while True:
        page = await fetch(page_no)
        if page_no == 1:
            total = page.total
        yield page
        seen += len(page.items)
        if len(page.items) < page_size or (total is not None and seen >= total):
            return
        page_no += 1


async def iter_page_items(fetch: Callable[[int], Awaitable[Page[T]]], *, page_size: int) -> AsyncIterator[T]:
    """Yield every record of a page-style listing, page after page."""
    async for page in iter_pages(fetch, page_size=page_size):
        for item in page.items:
            yield item


async def iter_by_id(fetch: Callable[[int | None], Awaitable[IdPage[I]]], *, limit: int) -> AsyncIterator[I]:
    """Yield every record of an ID-order traversal: ``fetch(None)``, then ``fetch(last_id)``..."""
    last_id: int | None = None
    while True:
        step = await fetch(last_id)
        for item in step.items:
            yield item
        if len(step.items) < limit:
            return
        last_id = step.items[-1].id
