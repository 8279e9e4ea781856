"""Handlers of the calls on a dataset's contents: data, scenes, batches, item listings, results."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from aiohttp import web

from ._bodies import NewBatchBody, NewDataBody, NewSceneBody
from ._context import context, reply, team
from ._dialects import Dialect
from ._files import check_files, file_info
from ._paging import after_id, page
from ._state import TOP, DatasetRec, ItemRec, NewDataRec
from ._views import results_for
from ._wire import MAX_IDS, ApiError, Code, decode_body, path_id, query_id_list, query_int, raw

__all__ = ["routes"]

routes = web.RouteTableDef()


def _dataset(request: web.Request) -> DatasetRec:
    return context(request).state.dataset(team(request), path_id(request, "datasetId"))


def _dialect(request: web.Request) -> Dialect:
    return context(request).dialect


def _entry(request: web.Request, rec: ItemRec) -> msgspec.Raw:
    """The listItem entry of ``rec``, encoded once: an item never changes after it is made,
    and listings are the emulator's hottest path (a benchmark's server must not be its bottleneck)."""
    if rec.wire is None:
        rec.wire = raw(_dialect(request).item(rec))
    return rec.wire


def _checked(request: web.Request, ds: DatasetRec, new: Sequence[NewDataBody]) -> list[NewDataRec]:
    store = context(request).store
    for one in new:
        check_files(ds.type, one.files, store)
    return [
        NewDataRec(
            one.name, one.files, one.batch_id, one.scene_id, tuple(file_info(f, store) for f in one.files)
        )
        for one in new
    ]


@routes.post("/dataset/addData/{datasetId}")
async def add_data(request: web.Request) -> web.Response:
    """Add one data item; body ``{"name", "batchId"?, "sceneId"?, "files"}``."""
    ds = _dataset(request)
    body = await decode_body(request, NewDataBody)
    (created,) = context(request).state.add_data(ds, _checked(request, ds, [body]))
    return reply(request, _dialect(request).data(created))


@routes.post("/dataset/batchAddData/{datasetId}")
async def batch_add_data(request: web.Request) -> web.Response:
    """Add up to 100 data items (all or none); the created items in order."""
    ds = _dataset(request)
    body = await decode_body(request, list[NewDataBody])
    if not 1 <= len(body) <= MAX_IDS:
        raise ApiError(Code.ILLEGAL_PARAM, f"batchAddData takes 1 to {MAX_IDS} items, got {len(body)}")
    created = context(request).state.add_data(ds, _checked(request, ds, body))
    return reply(request, [_dialect(request).data(rec) for rec in created])


@routes.post("/dataset/removeData/{datasetId}/{dataId}")
async def remove_data(request: web.Request) -> web.Response:
    """Remove one data item."""
    ds = _dataset(request)
    context(request).state.remove(ds, [path_id(request, "dataId")], "DATA")
    return reply(request, None)


@routes.post("/dataset/batchRemoveData/{datasetId}")
async def batch_remove_data(request: web.Request) -> web.Response:
    """Remove ``?dataIds=1,2,3`` (all or none)."""
    ds = _dataset(request)
    context(request).state.remove(ds, query_id_list(request, "dataIds"), "DATA")
    return reply(request, None)


@routes.post("/dataset/addScene/{datasetId}")
async def add_scene(request: web.Request) -> web.Response:
    """Add a scene and its frames; the Scene with its frames."""
    ds = _dataset(request)
    body = await decode_body(request, NewSceneBody)
    frames = _checked(request, ds, body.frames or [])
    scene, created = context(request).state.add_scene(ds, body.name, body.batch_id, frames)
    return reply(request, _dialect(request).scene(scene, created))


@routes.post("/dataset/removeScene/{datasetId}/{sceneId}")
async def remove_scene(request: web.Request) -> web.Response:
    """Remove a scene and its frames."""
    ds = _dataset(request)
    context(request).state.remove(ds, [path_id(request, "sceneId")], "SCENE")
    return reply(request, None)


@routes.post("/dataset/addBatch/{datasetId}")
async def add_batch(request: web.Request) -> web.Response:
    """Add an empty batch."""
    ds = _dataset(request)
    body = await decode_body(request, NewBatchBody)
    return reply(request, _dialect(request).batch(context(request).state.add_batch(ds, body.name)))


@routes.post("/dataset/removeBatch/{datasetId}/{batchId}")
async def remove_batch(request: web.Request) -> web.Response:
    """Remove a batch; only an empty one (else OPERATION_FAILED)."""
    ds = _dataset(request)
    context(request).state.remove(ds, [path_id(request, "batchId")], "BATCH")
    return reply(request, None)


def _level(request: web.Request, ds: DatasetRec) -> list[int]:
    parent_id = query_int(request, "parentId", TOP, 0, None) or TOP
    if parent_id != TOP:
        parent = ds.items.get(parent_id)
        if parent is None or parent.kind == "DATA":
            raise ApiError(Code.RESOURCE_NOT_FOUND, f"no batch or scene {parent_id} in dataset {ds.id}")
    return ds.level(parent_id)


@routes.get("/dataset/listItem/{datasetId}")
async def list_item(request: web.Request) -> web.Response:
    """A page of the items at one level (``parentId``; absent = top), ascending id."""
    ds = _dataset(request)
    return reply(
        request, page(request, _level(request, ds), lambda item_id: _entry(request, ds.items[item_id]))
    )


@routes.get("/dataset/listItemById/{datasetId}")
async def list_item_by_id(request: web.Request) -> web.Response:
    """The items at one level after ``lastId``, ascending id."""
    ds = _dataset(request)
    return reply(
        request, after_id(request, _level(request, ds), lambda item_id: _entry(request, ds.items[item_id]))
    )


@routes.get("/dataset/listAnnotationSource/{datasetId}")
async def list_sources(request: web.Request) -> web.Response:
    """The dataset's annotation sources."""
    return reply(request, [_dialect(request).source(source) for source in _dataset(request).sources])


def _source_id(request: web.Request, ds: DatasetRec) -> int | None:
    source_id = query_int(request, "sourceId", None, 0, None)
    if source_id is not None and all(source.id != source_id for source in ds.sources):
        raise ApiError(Code.RESOURCE_NOT_FOUND, f"annotation source {source_id} not found")
    return source_id


@routes.get("/dataset/dataAnnotationResult/{datasetId}/{dataId}")
async def data_results(request: web.Request) -> web.Response:
    """The results of one data item, from every source or only ``sourceId``."""
    ds = _dataset(request)
    data = ds.item(path_id(request, "dataId"), "DATA")
    return reply(
        request, [_dialect(request).result(r) for r in results_for(ds, data, _source_id(request, ds))]
    )


@routes.get("/dataset/batchDataAnnotationResult/{datasetId}/")
@routes.get("/dataset/batchDataAnnotationResult/{datasetId}")
async def batch_data_results(request: web.Request) -> web.Response:
    """The results of ``?dataIds=1,2,3``, flat, in the order of the ids."""
    ds = _dataset(request)
    source_id = _source_id(request, ds)
    datas = [ds.item(data_id, "DATA") for data_id in query_id_list(request, "dataIds")]
    return reply(
        request, [_dialect(request).result(r) for data in datas for r in results_for(ds, data, source_id)]
    )


@routes.get("/dataset/sceneAnnotationResult/{datasetId}/{sceneId}")
async def scene_results(request: web.Request) -> web.Response:
    """The results of every frame of a scene, frame by frame."""
    ds = _dataset(request)
    scene = ds.item(path_id(request, "sceneId"), "SCENE")
    source_id = _source_id(request, ds)
    frames = [ds.items[frame_id] for frame_id in ds.level(scene.id)]
    return reply(
        request, [_dialect(request).result(r) for frame in frames for r in results_for(ds, frame, source_id)]
    )
