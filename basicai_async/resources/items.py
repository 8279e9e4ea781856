"""``client.items``: the items (data, scenes, batches) at one level of a dataset's tree."""

from __future__ import annotations

from .._constants import MAX_PAGE_SIZE
from .._validate import check_id, check_page_size
from ..models import IdPage, Item, Page
from ..pagination import AsyncIdPager, AsyncPager
from ._base import Resource

__all__ = ["Items"]


class Items(Resource):
    """List the items of one level of a dataset, page by page or in id order."""

    __slots__ = ()

    def list(
        self, dataset_id: int, *, parent_id: int | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncPager[Item]:
        """Every item at one level, page by page (``GET /dataset/listItem/{datasetId}``).

        ``parent_id`` (a batch or scene) selects the level; none means the top
        level. ``item.is_data`` / ``is_scene`` / ``is_batch`` say which kind an item is.
        Pages may shift if items change meanwhile; ``iter_by_id`` does not.

        Example::

            async for item in client.items.list(ds.id):
                print("data" if item.is_data else item.item_type, item.name)
        """
        check_id("dataset_id", dataset_id)
        if parent_id is not None:
            check_id("parent_id", parent_id)
        check_page_size("page_size", page_size)
        path = f"/dataset/listItem/{dataset_id}"
        params: dict[str, object] = {"parentId": parent_id, "pageSize": page_size}

        async def fetch(page_no: int) -> Page[Item]:
            return await self._pipeline.request(
                "GET", path, params={**params, "pageNo": page_no}, response_type=Page[Item]
            )

        return AsyncPager(fetch, page_size=page_size)

    def iter_by_id(
        self, dataset_id: int, *, parent_id: int | None = None, limit: int = MAX_PAGE_SIZE
    ) -> AsyncIdPager[Item]:
        """Every item at one level in id order, stable while items change
        (``GET /dataset/listItemById/{datasetId}``)."""
        check_id("dataset_id", dataset_id)
        if parent_id is not None:
            check_id("parent_id", parent_id)
        check_page_size("limit", limit)
        path = f"/dataset/listItemById/{dataset_id}"

        async def fetch(last_id: int | None) -> IdPage[Item]:
            return await self._pipeline.request(
                "GET",
                path,
                params={"parentId": parent_id, "lastId": last_id, "limit": limit},
                response_type=IdPage[Item],
            )

        return AsyncIdPager(fetch, limit=limit)
