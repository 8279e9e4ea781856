"""``client.datasets``: the ``/dataset/*`` paths that act on datasets themselves."""

from __future__ import annotations

from collections.abc import Iterable

from .._constants import MAX_PAGE_SIZE
from .._errors import APIError, BasicAIError
from .._http import is_ambiguous
from .._validate import check_id, check_ids, check_name, check_page_size, chunked
from ..models import Dataset, DatasetUpdate, IdPage, NewDataset, Page
from ..pagination import AsyncIdPager, AsyncPager
from ._base import Resource

__all__ = ["Datasets"]

_CREATE_ROUNDS = 3
"""Create calls after ambiguous failures whose look-up found nothing."""


class Datasets(Resource):
    """Create, change, delete, list and look up datasets."""

    __slots__ = ()

    async def create(self, *, name: str, type: str, description: str | None = None) -> Dataset:
        """Create a dataset (``POST /dataset/create``).

        ``type`` is one of ``DatasetType``'s values (``"IMAGE"``, ``"LIDAR_FUSION"``, ...).

        Exactly once: after an ambiguous failure (a timeout, a connection lost after
        sending, 500/502/504, a truncated answer) the name is looked up instead of
        blindly retried. The server keeps names stripped of leading and trailing
        whitespace, unique within a team, so a dataset found under the stripped name
        and of this type is the one this call created, and is returned; none found
        means the call did nothing, and it is sent once more. When the look-up
        fails too, the original error is raised with a note saying the dataset may
        exist. (A dataset of that name made before the call would have been refused
        with ``NameDuplicatedError``; after an ambiguous failure it is returned as
        found, since the server cannot hold two of that name.)

        Example::

            ds = await client.datasets.create(name="cars", type=DatasetType.IMAGE)
        """
        body = NewDataset(
            name=check_name("name", name), type=check_name("type", type), description=description
        )
        for attempt in range(_CREATE_ROUNDS):
            try:
                return await self._pipeline.request(
                    "POST", "/dataset/create", json=body, response_type=Dataset
                )
            except APIError as exc:
                if not is_ambiguous(exc) or attempt + 1 == _CREATE_ROUNDS:
                    raise
                # A moment for a server still finishing the call (a timeout) before looking,
                # as the uploader's reconciliation waits.
                retry = self._pipeline.retry
                await retry.sleep(retry.backoff(attempt + 1, retry.random()))
                try:
                    found = await self._find(name, type)
                except BasicAIError:
                    exc.add_note(f"dataset {name.strip()!r} may exist now: look it up before retrying")
                    unknown = True
                else:
                    unknown = False
                if unknown:
                    raise
                if found is not None:
                    return found
        raise AssertionError("unreachable")  # pragma: no cover

    async def _find(self, name: str, type: str) -> Dataset | None:
        """The team's dataset named ``name`` (as the server stores it: stripped) of ``type``, if any."""
        wanted = name.strip()
        async for ds in self.list(name=wanted, type=type):
            if ds.name is not None and ds.name.strip() == wanted:
                return ds
        return None

    async def update(
        self,
        dataset_id: int,
        *,
        name: str | None = None,
        type: str | None = None,
        description: str | None = None,
    ) -> Dataset:
        """Change only the given fields (``POST /dataset/update/{datasetId}``)."""
        check_id("dataset_id", dataset_id)
        if name is not None:
            check_name("name", name)
        if type is not None:
            check_name("type", type)
        if description is not None and not isinstance(description, str):
            raise TypeError(f"description must be a str, got {description.__class__.__name__}")
        if name is None and type is None and description is None:
            raise ValueError("update needs at least one of name, type, description")
        body = DatasetUpdate(name=name, type=type, description=description)
        return await self._pipeline.request(
            "POST",
            "/dataset/update/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=Dataset,
            idempotent=True,
        )

    async def replace(
        self, dataset_id: int, *, name: str, type: str, description: str | None = None
    ) -> Dataset:
        """Replace every field; fields not given are cleared (``POST /dataset/replace/{datasetId}``)."""
        check_id("dataset_id", dataset_id)
        body = NewDataset(
            name=check_name("name", name), type=check_name("type", type), description=description
        )
        return await self._pipeline.request(
            "POST",
            "/dataset/replace/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=Dataset,
            idempotent=True,
        )

    async def delete(self, dataset_id: int) -> None:
        """Delete one dataset (``POST /dataset/delete/{datasetId}``)."""
        check_id("dataset_id", dataset_id)
        await self._pipeline.request(
            "POST", "/dataset/delete/{datasetId}", path_params={"datasetId": dataset_id}, idempotent=True
        )

    async def delete_many(self, dataset_ids: Iterable[int]) -> None:
        """Delete datasets in bulk (``POST /dataset/delete?datasetIds=...``), 100 ids per call."""
        ids = check_ids("dataset_ids", dataset_ids)
        for chunk in chunked(ids):
            await self._pipeline.request(
                "POST", "/dataset/delete", params={"datasetIds": chunk}, idempotent=True
            )

    async def get(self, dataset_id: int) -> Dataset:
        """One dataset (``GET /dataset/info/{datasetId}``)."""
        check_id("dataset_id", dataset_id)
        return await self._pipeline.request(
            "GET", "/dataset/info/{datasetId}", path_params={"datasetId": dataset_id}, response_type=Dataset
        )

    async def get_many(self, dataset_ids: Iterable[int]) -> list[Dataset]:
        """Several datasets in the order asked (``GET /dataset/info?datasetIds=...``), 100 ids per call."""
        ids = check_ids("dataset_ids", dataset_ids)
        found: list[Dataset] = []
        for chunk in chunked(ids):
            found += await self._pipeline.request(
                "GET", "/dataset/info", params={"datasetIds": chunk}, response_type=list[Dataset]
            )
        return found

    def list(
        self,
        *,
        name: str | None = None,
        type: str | None = None,
        sort_by: str | None = None,
        ascending: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncPager[Dataset]:
        """Every dataset matching the filters, page by page (``GET /dataset/list``).

        ``name`` matches a substring; ``sort_by`` is ``"createdAt"``, ``"name"`` or ``"id"``.
        Pages may shift if datasets change meanwhile; ``iter_by_id`` does not.

        Example::

            async for ds in client.datasets.list(type="IMAGE"):
                print(ds.id, ds.name)
            async for page in client.datasets.list().pages():
                print(page.total, [ds.name for ds in page.items])
        """
        check_page_size("page_size", page_size)
        params: dict[str, object] = {
            "name": name,
            "type": type,
            "sortBy": sort_by,
            "ascending": ascending,
            "pageSize": page_size,
        }

        async def fetch(page_no: int) -> Page[Dataset]:
            return await self._pipeline.request(
                "GET", "/dataset/list", params={**params, "pageNo": page_no}, response_type=Page[Dataset]
            )

        return AsyncPager(fetch, page_size=page_size)

    def iter_by_id(self, *, limit: int = MAX_PAGE_SIZE) -> AsyncIdPager[Dataset]:
        """Every dataset in id order, stable while data changes (``GET /dataset/listById``)."""
        check_page_size("limit", limit)

        async def fetch(last_id: int | None) -> IdPage[Dataset]:
            return await self._pipeline.request(
                "GET",
                "/dataset/listById",
                params={"lastId": last_id, "limit": limit},
                response_type=IdPage[Dataset],
            )

        return AsyncIdPager(fetch, limit=limit)
