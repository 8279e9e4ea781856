"""``client.annotations``: annotation sources and results of data items and scenes."""

from __future__ import annotations

from collections.abc import Iterable

from .._validate import check_id, check_ids, chunked
from ..models import AnnotationResult, AnnotationSource
from ._base import Resource

__all__ = ["Annotations"]


def _check_source(source_id: int | None) -> None:
    if source_id is not None:
        check_id("source_id", source_id)


class Annotations(Resource):
    """Read where annotations come from and the results themselves."""

    __slots__ = ()

    async def list_sources(self, dataset_id: int) -> list[AnnotationSource]:
        """The annotation sources of a dataset (``GET /dataset/listAnnotationSource/{datasetId}``).

        A source is a task, a model, an import, ...; its ``id`` filters the results below.
        """
        check_id("dataset_id", dataset_id)
        return await self._pipeline.request(
            "GET",
            "/dataset/listAnnotationSource/{datasetId}",
            path_params={"datasetId": dataset_id},
            response_type=list[AnnotationSource],
        )

    async def get_data_results(
        self, dataset_id: int, data_id: int, *, source_id: int | None = None
    ) -> list[AnnotationResult]:
        """The results of one data item, from every source unless ``source_id`` is given
        (``GET /dataset/dataAnnotationResult/{datasetId}/{dataId}``)."""
        check_id("dataset_id", dataset_id)
        check_id("data_id", data_id)
        _check_source(source_id)
        return await self._pipeline.request(
            "GET",
            "/dataset/dataAnnotationResult/{datasetId}/{dataId}",
            path_params={"datasetId": dataset_id, "dataId": data_id},
            params={"sourceId": source_id},
            response_type=list[AnnotationResult],
        )

    async def get_many_data_results(
        self, dataset_id: int, data_ids: Iterable[int], *, source_id: int | None = None
    ) -> list[AnnotationResult]:
        """The results of several data items
        (``GET /dataset/batchDataAnnotationResult/{datasetId}/?dataIds=...``).

        More than 100 ids are sent as consecutive calls of at most 100, in the
        order of ``data_ids``, and their answers are joined in that order.
        """
        check_id("dataset_id", dataset_id)
        ids = check_ids("data_ids", data_ids)
        _check_source(source_id)
        # The trailing slash is in the documented path: keep it exactly.
        path = "/dataset/batchDataAnnotationResult/{datasetId}/"
        found: list[AnnotationResult] = []
        for chunk in chunked(ids):
            found += await self._pipeline.request(
                "GET",
                path,
                path_params={"datasetId": dataset_id},
                params={"dataIds": chunk, "sourceId": source_id},
                response_type=list[AnnotationResult],
            )
        return found

    async def get_scene_results(
        self, dataset_id: int, scene_id: int, *, source_id: int | None = None
    ) -> list[AnnotationResult]:
        """The results of a scene's frames, from every source unless ``source_id`` is given
        (``GET /dataset/sceneAnnotationResult/{datasetId}/{sceneId}``)."""
        check_id("dataset_id", dataset_id)
        check_id("scene_id", scene_id)
        _check_source(source_id)
        return await self._pipeline.request(
            "GET",
            "/dataset/sceneAnnotationResult/{datasetId}/{sceneId}",
            path_params={"datasetId": dataset_id, "sceneId": scene_id},
            params={"sourceId": source_id},
            response_type=list[AnnotationResult],
        )
