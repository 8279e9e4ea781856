"""The two list styles: pages (``pageNo``/``pageSize``) and ID order (``lastId``/``limit``)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from .._constants import DEFAULT_PAGE_SIZE
from ._context import context
from ._wire import MAX_PAGE, query_int

__all__ = ["after_id", "page"]

T = TypeVar("T")


def page(request: web.Request, records: Sequence[T], view: Callable[[T], Any]) -> dict[str, Any]:
    """One page of ``records``, in the app's dialect (``total`` on page 1 at least)."""
    page_no = query_int(request, "pageNo", 1, 1, None) or 1
    page_size = query_int(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE) or DEFAULT_PAGE_SIZE
    start = (page_no - 1) * page_size
    entries = [view(rec) for rec in records[start : start + page_size]]
    return context(request).dialect.page(entries, len(records), page_no, page_size)


def after_id(request: web.Request, ids: Sequence[int], view: Callable[[int], Any]) -> dict[str, Any]:
    """The next ``limit`` of the ascending ``ids`` strictly after ``lastId``, in the app's dialect."""
    last_id = query_int(request, "lastId", None, 0, None)
    limit = query_int(request, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE) or DEFAULT_PAGE_SIZE
    start = 0 if last_id is None else bisect.bisect_right(ids, last_id)
    return context(request).dialect.id_page([view(item_id) for item_id in ids[start : start + limit]])
