"""``client.scenes``: add and remove scenes (continuous frames) inside a dataset."""

from __future__ import annotations

from collections.abc import Sequence

from .._validate import check_id, check_name
from ..models import NewData, NewScene, Scene
from ._base import Resource, check_models
from .data import check_new_data

__all__ = ["Scenes"]


class Scenes(Resource):
    """Add a scene (optionally with its frames) and remove one."""

    __slots__ = ()

    async def add(
        self,
        dataset_id: int,
        *,
        name: str,
        batch_id: int | None = None,
        frames: Sequence[NewData] | None = None,
    ) -> Scene:
        """Add a scene, with its frames if given (``POST /dataset/addScene/{datasetId}``).

        Each frame is a ``NewData`` (its ``scene_id`` is the new scene's, so leave it unset).
        Not retried after an ambiguous failure, which could add it twice.

        Example::

            scene = await client.scenes.add(ds.id, name="drive-1", frames=[NewData(...), ...])
        """
        check_id("dataset_id", dataset_id)
        check_name("name", name)
        if batch_id is not None:
            check_id("batch_id", batch_id)
        checked: list[NewData] | None = None
        if frames is not None:
            checked = check_models("frames", frames, NewData, check_new_data)
        body = NewScene(name=name, batch_id=batch_id, frames=checked)
        return await self._pipeline.request(
            "POST",
            "/dataset/addScene/{datasetId}",
            path_params={"datasetId": dataset_id},
            json=body,
            response_type=Scene,
        )

    async def remove(self, dataset_id: int, scene_id: int) -> None:
        """Remove a scene and its frames (``POST /dataset/removeScene/{datasetId}/{sceneId}``)."""
        check_id("dataset_id", dataset_id)
        check_id("scene_id", scene_id)
        await self._pipeline.request(
            "POST",
            "/dataset/removeScene/{datasetId}/{sceneId}",
            path_params={"datasetId": dataset_id, "sceneId": scene_id},
            idempotent=True,
        )
