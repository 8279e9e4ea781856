"""``client.items``: the items (data, scenes, batches) at one level of a dataset's tree."""

from __future__ import annotations

import msgspec

from .._constants import MAX_PAGE_SIZE
from .._validate import check_id, check_page_size
from ..models import IdPage, Item, Page
from ..pagination import AsyncIdPager, AsyncPager
from ._base import Resource

__all__ = ["Items"]


class ItemListing(msgspec.Struct, kw_only=True, gc=False):
    """A page or step as it may arrive: real servers send ``"list": null`` on an empty one."""

    items: list[Item] | None = msgspec.field(default=None, name="list")
    total: int | None = None


class Items(Resource):
    """List the items of one level of a dataset, page by page or in id order."""

    __slots__ = ()

    def list(
        self, dataset_id: int, *, parent_id: int | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncPager[Item]:
        """Every item at one level, page by page (``GET /dataset/listItem/{datasetId}``).

        ``parent_id`` (a batch or scene) selects the level; none means the top
        level. ``item.item_type`` says whether an item is data, a scene or a batch.
        Pages may shift if items change meanwhile; ``iter_by_id`` does not.

        Example::

            async for item in client.items.list(ds.id):
                print(item.item_type, item.name)
        """
        self._check(dataset_id, parent_id)
        check_page_size("page_size", page_size)

        async def fetch(page_no: int) -> Page[Item]:
            return await self._page(dataset_id, parent_id, page_no, page_size)

        return AsyncPager(fetch, page_size=page_size)

    def iter_by_id(
        self, dataset_id: int, *, parent_id: int | None = None, limit: int = MAX_PAGE_SIZE
    ) -> AsyncIdPager[Item]:
        """Every item at one level in id order, stable while items change
        (``GET /dataset/listItemById/{datasetId}``)."""
        self._check(dataset_id, parent_id)
        check_page_size("limit", limit)

        async def fetch(last_id: int | None) -> IdPage[Item]:
            return await self._step(dataset_id, parent_id, last_id, limit)

        return AsyncIdPager(fetch, limit=limit)

    async def page(
        self,
        dataset_id: int,
        page_no: int,
        *,
        parent_id: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Page[Item]:
        """One page of ``list`` (``page_no`` from 1), with ``total`` when the server sends it.

        For callers that fetch pages out of order or concurrently; ``list`` walks them all.
        """
        self._check(dataset_id, parent_id)
        check_id("page_no", page_no)
        check_page_size("page_size", page_size)
        return await self._page(dataset_id, parent_id, page_no, page_size)

    async def step(
        self,
        dataset_id: int,
        *,
        parent_id: int | None = None,
        last_id: int | None = None,
        limit: int = MAX_PAGE_SIZE,
    ) -> IdPage[Item]:
        """One step of ``iter_by_id``: up to ``limit`` items with ids above ``last_id``, ascending.

        For callers that walk several id ranges at once; ``iter_by_id`` walks the whole level.
        """
        self._check(dataset_id, parent_id)
        if last_id is not None:
            check_id("last_id", last_id)
        check_page_size("limit", limit)
        return await self._step(dataset_id, parent_id, last_id, limit)

    @staticmethod
    def _check(dataset_id: int, parent_id: int | None) -> None:
        check_id("dataset_id", dataset_id)
        if parent_id is not None:
            check_id("parent_id", parent_id)

    async def _page(self, dataset_id: int, parent_id: int | None, page_no: int, size: int) -> Page[Item]:
        listing = await self._pipeline.request(
            "GET",
            f"/dataset/listItem/{dataset_id}",
            params={"parentId": parent_id, "pageNo": page_no, "pageSize": size},
            response_type=ItemListing,
        )
        return Page(items=listing.items or [], total=listing.total)

    async def _step(
        self, dataset_id: int, parent_id: int | None, last_id: int | None, limit: int
    ) -> IdPage[Item]:
        listing = await self._pipeline.request(
            "GET",
            f"/dataset/listItemById/{dataset_id}",
            params={"parentId": parent_id, "lastId": last_id, "limit": limit},
            response_type=ItemListing,
        )
        return IdPage(items=listing.items or [])
