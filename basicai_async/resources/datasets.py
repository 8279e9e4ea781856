"""``client.datasets``: the ``/dataset/*`` paths that act on datasets themselves."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

from .._constants import MAX_PAGE_SIZE
from .._errors import BasicAIError
from .._exactly_once import Unsettled, create_once, name_key
from .._validate import check_id, check_ids, check_name, check_page_size, chunked
from ..models import Dataset, DatasetUpdate, IdPage, NewDataset, Page
from ..pagination import AsyncIdPager, AsyncPager
from ._base import Resource

__all__ = ["Datasets"]

# `data: null` is an answer of these calls (the platform's updates carry no data).
_MAYBE_DATASET: type[Dataset | None] = Dataset | None  # type: ignore[assignment]


class Datasets(Resource):
    """Create, change, delete, list and look up datasets."""

    __slots__ = ()

    async def create(self, *, name: str, type: str, description: str | None = None) -> Dataset:
        """Create a dataset (``POST /dataset/create``).

        ``type`` is one of ``DatasetType``'s values (``"IMAGE"``, ``"LIDAR_FUSION"``, ...).

        Exactly once (:mod:`basicai_async._exactly_once`): after an ambiguous failure
        (a timeout, a connection lost after sending, 500/502/504, a truncated answer)
        the name is looked up, one backoff step later, instead of blindly retried.
        The server keeps names stripped of leading and trailing whitespace, unique
        within a team, so a dataset found under the stripped name
        and of this type is the one this call created, and is returned; none found
        means the call did nothing, and it is sent once more. When the look-up
        fails too, the original error is raised with a note saying the dataset may
        exist. (A dataset of that name made before the call would have been refused
        with ``NameDuplicatedError``, whichever code the server names it by:
        ``NAME_DUPLICATED`` or the platform's ``DATASET_NAME_DUPLICATED``; after an
        ambiguous failure it is returned as found, since the server cannot hold
        two of that name.)

        Example::

            ds = await client.datasets.create(name="cars", type=DatasetType.IMAGE)
        """
        body = NewDataset(
            name=check_name("name", name), type=check_name("type", type), description=description
        )
        try:
            return await create_once(
                lambda: self._pipeline.request("POST", "/dataset/create", json=body, response_type=Dataset),
                lambda: self._find(name, type),
                retry=self._pipeline.retry,
            )
        except Unsettled as unsettled:
            error = unsettled.error
        error.add_note(f"dataset {name_key(name)!r} may exist now: look it up before retrying")
        raise error

    async def _find(self, name: str, type: str) -> Dataset | None:
        """The team's dataset named ``name`` (as the server stores it: ``name_key``) of ``type``, if any."""
        wanted = name_key(name)
        async for ds in self.list(name=wanted, type=type):
            if ds.name is not None and name_key(ds.name) == wanted:
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
        """Change only the given fields (``POST /dataset/update/{datasetId}``).

        Returns the dataset as changed: from the answer, or read back when the
        server answers with no data (as BasicAI's platform does).
        """
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
        return await self._changed(dataset_id, "/dataset/update/{datasetId}", body)

    async def replace(
        self, dataset_id: int, *, name: str, type: str, description: str | None = None
    ) -> Dataset:
        """Replace every field; fields not given are cleared (``POST /dataset/replace/{datasetId}``).

        Returns the dataset as replaced (read back when the answer carries no data).
        """
        check_id("dataset_id", dataset_id)
        body = NewDataset(
            name=check_name("name", name), type=check_name("type", type), description=description
        )
        return await self._changed(dataset_id, "/dataset/replace/{datasetId}", body)

    async def _changed(self, dataset_id: int, template: str, body: NewDataset | DatasetUpdate) -> Dataset:
        """Send an update or replace; the dataset as the answer has it, else as read back.

        BasicAI's platform answers its updates with ``data: null``: the change is
        made, so the dataset is read back (``GET /dataset/info``) rather than the
        call failing after the server acted.
        """
        changed = await self._pipeline.request(
            "POST",
            template,
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=_MAYBE_DATASET,
            idempotent=True,
        )
        if changed is not None:
            return changed
        try:
            return await self.get(dataset_id)
        except BasicAIError as exc:
            exc.add_note(f"dataset {dataset_id} was changed; only reading it back failed")
            raise

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

        def fetch(page_no: int) -> Awaitable[Page[Dataset]]:
            return self._pipeline.request(
                "GET", "/dataset/list", params={**params, "pageNo": page_no}, response_type=Page[Dataset]
            )

        return AsyncPager(fetch, page_size=page_size)

    def iter_by_id(self, *, limit: int = MAX_PAGE_SIZE) -> AsyncIdPager[Dataset]:
        """Every dataset in id order, stable while data changes (``GET /dataset/listById``)."""
        check_page_size("limit", limit)

        def fetch(last_id: int | None) -> Awaitable[IdPage[Dataset]]:
            return self._pipeline.request(
                "GET",
                "/dataset/listById",
                params={"lastId": last_id, "limit": limit},
                response_type=IdPage[Dataset],
            )

        return AsyncIdPager(fetch, limit=limit, path="/dataset/listById")
