"""The two list styles: pages (``pageNo``/``pageSize``) and ID order (``lastId``/``limit``)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from ._wire import MAX_PAGE, query_int

__all__ = ["after_id", "page"]

T = TypeVar("T")


def page(request: web.Request, records: Sequence[T], view: Callable[[T], Any]) -> dict[str, Any]:
    """One page of ``records``: ``{"total", "list"}`` on page 1, ``{"list"}`` after."""
    page_no = query_int(request, "pageNo", 1, 1, None) or 1
    page_size = query_int(request, "pageSize", 10, 1, MAX_PAGE) or 10
    start = (page_no - 1) * page_size
    data: dict[str, Any] = {"list": [view(rec) for rec in records[start : start + page_size]]}
    if page_no == 1:
        data["total"] = len(records)
    return data


def after_id(request: web.Request, ids: Sequence[int], view: Callable[[int], Any]) -> dict[str, Any]:
    """The next ``limit`` of the ascending ``ids`` strictly after ``lastId``: ``{"list"}``."""
    last_id = query_int(request, "lastId", None, 0, None)
    limit = query_int(request, "limit", 10, 1, MAX_PAGE) or 10
    start = 0 if last_id is None else bisect.bisect_right(ids, last_id)
    return {"list": [view(item_id) for item_id in ids[start : start + limit]]}
