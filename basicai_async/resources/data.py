"""``client.data``: add and remove data items (one frame each) inside a dataset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._validate import check_id, check_ids, check_name, chunked
from ..models import DataItem, FileRef, NewData
from ._base import Resource, check_models

__all__ = ["Data", "check_new_data"]


def _check_files(name: str, files: object) -> list[FileRef]:
    """A non-empty list of ``FileRef``: a data item is made of at least one file."""
    return check_models(name, files, FileRef, lambda _name, _file: None)


def check_new_data(name: str, item: NewData) -> None:
    """A ``NewData`` whose name, files and optional parent ids are valid."""
    check_name(f"{name}.name", item.name)
    _check_files(f"{name}.files", item.files)
    if item.batch_id is not None:
        check_id(f"{name}.batch_id", item.batch_id)
    if item.scene_id is not None:
        check_id(f"{name}.scene_id", item.scene_id)


class Data(Resource):
    """Register uploaded files as data items, and remove data items."""

    __slots__ = ()

    async def add(
        self,
        dataset_id: int,
        *,
        name: str,
        files: Sequence[FileRef],
        batch_id: int | None = None,
        scene_id: int | None = None,
    ) -> DataItem:
        """Add one data item made of ``files`` (``POST /dataset/addData/{datasetId}``).

        The files must already be in object storage (see ``client.storage``).
        ``batch_id`` and ``scene_id`` place the item under a batch or a scene.
        Not retried after an ambiguous failure, which could add it twice.

        Example::

            item = await client.data.add(
                ds.id, name="frame-0", files=[FileRef(path=url, size=1234, mime_type="image/jpeg")]
            )
        """
        check_id("dataset_id", dataset_id)
        check_name("name", name)
        checked = _check_files("files", files)
        if batch_id is not None:
            check_id("batch_id", batch_id)
        if scene_id is not None:
            check_id("scene_id", scene_id)
        body = NewData(name=name, files=checked, batch_id=batch_id, scene_id=scene_id)
        return await self._pipeline.request(
            "POST",
            "/dataset/addData/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=DataItem,
        )

    async def remove(self, dataset_id: int, data_id: int) -> None:
        """Remove one data item (``POST /dataset/removeData/{datasetId}/{dataId}``)."""
        check_id("dataset_id", dataset_id)
        check_id("data_id", data_id)
        await self._pipeline.request(
            "POST",
            "/dataset/removeData/{datasetId}/{dataId}",
            path_params={"datasetId": dataset_id, "dataId": data_id},
            idempotent=True,
        )

    async def add_many(self, dataset_id: int, items: Sequence[NewData]) -> list[DataItem]:
        """Add many data items in one call (``POST /dataset/batchAddData/{datasetId}``).

        The created items come back in the order of ``items``. The list is sent
        whole, never split: the server adds a batch all or none, and splitting a
        call that is not retried after an ambiguous failure would leave the caller
        unable to tell which part was added. Split very large lists yourself.
        Not retried after an ambiguous failure, which could add them twice.
        """
        check_id("dataset_id", dataset_id)
        body = check_models("items", items, NewData, check_new_data)
        return await self._pipeline.request(
            "POST",
            "/dataset/batchAddData/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=list[DataItem],
        )

    async def remove_many(self, dataset_id: int, data_ids: Iterable[int]) -> None:
        """Remove data items in bulk (``POST /dataset/batchRemoveData/{datasetId}?dataIds=...``).

        More than 100 ids are sent as consecutive calls of at most 100, in order.
        """
        check_id("dataset_id", dataset_id)
        ids = check_ids("data_ids", data_ids)
        for chunk in chunked(ids):
            await self._pipeline.request(
                "POST",
                "/dataset/batchRemoveData/{datasetId}",
                path_params={"datasetId": dataset_id},
                params={"dataIds": chunk},
                idempotent=True,
            )
