"""``client.items``: the items (data, scenes, batches) at one level of a dataset's tree."""

from __future__ import annotations

from collections.abc import Awaitable

from .._constants import MAX_PAGE_SIZE
from .._validate import check_id, check_page_size
from ..models import IdPage, Item, Page
from ..pagination import AsyncIdPager, AsyncPager
from ._base import Resource

__all__ = ["Items"]

# The response types, built once: a page's fetch then passes the same object every time.
_PAGE = Page[Item]
_ID_PAGE = IdPage[Item]


class Items(Resource):
    """List the items of one level of a dataset, page by page or in id order."""

    __slots__ = ()

    def list(
        self,
        dataset_id: int,
        *,
        parent_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        start_page: int = 1,
    ) -> AsyncPager[Item]:
        """Every item at one level, page by page (``GET /dataset/listItem/{datasetId}``).

        ``parent_id`` (a batch or scene) selects the level; none means the top
        level. ``item.is_data`` / ``is_scene`` / ``is_batch`` say which kind an item is.
        Pages may shift if items change meanwhile; ``iter_by_id`` does not.
        ``start_page`` starts the listing part way (``total`` comes with each
        page the server sends it on).

        Example::

            async for item in client.items.list(ds.id):
                print("data" if item.is_data else item.item_type, item.name)
        """
        self._check(dataset_id, parent_id)
        check_page_size("page_size", page_size)
        if isinstance(start_page, bool) or not isinstance(start_page, int):
            raise TypeError(f"start_page must be an int >= 1, got {type(start_page).__name__}")
        if start_page < 1:
            raise ValueError(f"start_page must be >= 1, got {start_page}")
        path = "/dataset/listItem/{datasetId}"
        ids = {"datasetId": dataset_id}
        params: dict[str, object] = {"parentId": parent_id, "pageSize": page_size}

        def fetch(page_no: int) -> Awaitable[Page[Item]]:
            return self._pipeline.request(
                "GET", path, path_params=ids, params={**params, "pageNo": page_no}, response_type=_PAGE
            )

        return AsyncPager(fetch, page_size=page_size, start=start_page)

    def iter_by_id(
        self,
        dataset_id: int,
        *,
        parent_id: int | None = None,
        limit: int = MAX_PAGE_SIZE,
        after: int | None = None,
    ) -> AsyncIdPager[Item]:
        """Every item at one level in id order, stable while items change
        (``GET /dataset/listItemById/{datasetId}``).

        ``after`` starts past an id (the first call's ``lastId``), so several
        ranges of one level can be walked at once.
        """
        self._check(dataset_id, parent_id)
        check_page_size("limit", limit)
        if after is not None:
            check_id("after", after)
        path = "/dataset/listItemById/{datasetId}"
        ids = {"datasetId": dataset_id}

        def fetch(last_id: int | None) -> Awaitable[IdPage[Item]]:
            return self._pipeline.request(
                "GET",
                path,
                path_params=ids,
                params={"parentId": parent_id, "lastId": last_id, "limit": limit},
                response_type=_ID_PAGE,
            )

        return AsyncIdPager(fetch, limit=limit, after=after, path=path)

    @staticmethod
    def _check(dataset_id: int, parent_id: int | None) -> None:
        check_id("dataset_id", dataset_id)
        if parent_id is not None:
            check_id("parent_id", parent_id)
