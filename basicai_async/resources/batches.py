"""``client.batches``: add and remove batches (groups of items, not nested) inside a dataset."""

from __future__ import annotations

from .._validate import check_id, check_name
from ..models import Batch, NewBatch
from ._base import Resource

__all__ = ["Batches"]


class Batches(Resource):
    """Add an empty batch and remove an empty one."""

    __slots__ = ()

    async def add(self, dataset_id: int, *, name: str) -> Batch:
        """Add an empty batch (``POST /dataset/addBatch/{datasetId}``).

        The API adds no nested items in the same call: add data or scenes with
        ``batch_id`` afterwards. Not retried after an ambiguous failure, which
        could add it twice.
        """
        check_id("dataset_id", dataset_id)
        body = NewBatch(name=check_name("name", name))
        return await self._pipeline.request(
            "POST",
            "/dataset/addBatch/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=Batch,
        )

    async def remove(self, dataset_id: int, batch_id: int) -> None:
        """Remove a batch (``POST /dataset/removeBatch/{datasetId}/{batchId}``).

        Only an empty batch can be removed; the server refuses a batch that still
        holds items (``OperationFailedError``). Remove its items first.
        """
        check_id("dataset_id", dataset_id)
        check_id("batch_id", batch_id)
        await self._pipeline.request(
            "POST",
            "/dataset/removeBatch/{datasetId}/{batchId}",
            path_params={"datasetId": dataset_id, "batchId": batch_id},
            idempotent=True,
        )
