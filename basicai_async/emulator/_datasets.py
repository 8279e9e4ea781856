"""Handlers of the ``/dataset/...`` calls on datasets themselves."""

from __future__ import annotations

from aiohttp import web

from ._bodies import DatasetBody, DatasetPatch
from ._context import context, reply, team
from ._paging import after_id, page
from ._state import DatasetRec
from ._wire import ApiError, Code, decode_body, path_id, query_bool, query_id_list

__all__ = ["routes"]

routes = web.RouteTableDef()

_SORT_KEYS = {
    "id": lambda rec: rec.id,
    "name": lambda rec: (rec.name, rec.id),
    "createdAt": lambda rec: (rec.created_at, rec.id),
}


@routes.post("/dataset/create")
async def create(request: web.Request) -> web.Response:
    """Create a dataset: body ``{"name", "type", "description"?}``."""
    body = await decode_body(request, DatasetBody)
    rec = context(request).state.create_dataset(team(request), body.name, body.type, body.description)
    return reply(request, context(request).dialect.dataset(rec))


async def _change(request: web.Request, replace: bool) -> web.Response:
    state = context(request).state
    rec = state.dataset(team(request), path_id(request, "datasetId"))
    if replace:
        full = await decode_body(request, DatasetBody)
        state.update_dataset(rec, full.name, full.type, full.description, replace=True)
    else:
        part = await decode_body(request, DatasetPatch)
        state.update_dataset(rec, part.name, part.type, part.description, replace=False)
    return reply(request, context(request).dialect.changed_dataset(rec))


@routes.post("/dataset/update/{datasetId}")
async def update(request: web.Request) -> web.Response:
    """Partial update: only the fields sent change."""
    return await _change(request, replace=False)


@routes.post("/dataset/replace/{datasetId}")
async def replace(request: web.Request) -> web.Response:
    """Full replace: the fields not sent are cleared."""
    return await _change(request, replace=True)


@routes.post("/dataset/delete/{datasetId}")
async def delete_one(request: web.Request) -> web.Response:
    """Delete one dataset and everything in it."""
    state = context(request).state
    state.delete_datasets([state.dataset(team(request), path_id(request, "datasetId"))])
    return reply(request, None)


@routes.post("/dataset/delete")
async def delete_many(request: web.Request) -> web.Response:
    """Delete ``?datasetIds=1,2,3`` (all or none)."""
    state = context(request).state
    state.delete_datasets(state.datasets_of(team(request), query_id_list(request, "datasetIds")))
    return reply(request, None)


@routes.get("/dataset/list")
async def list_page(request: web.Request) -> web.Response:
    """A page of the team's datasets, filtered by ``name`` (substring) and ``type``, sorted."""
    recs = context(request).state.team_datasets(team(request))
    name = request.query.get("name")
    type_ = request.query.get("type")
    sort_by = request.query.get("sortBy", "createdAt")
    if sort_by not in _SORT_KEYS:
        raise ApiError(Code.ILLEGAL_PARAM, f"sortBy must be one of {', '.join(_SORT_KEYS)}")
    ascending = query_bool(request, "ascending", False)
    if name:
        recs = [rec for rec in recs if name.lower() in rec.name.lower()]
    if type_:
        recs = [rec for rec in recs if rec.type == type_]
    recs.sort(key=_SORT_KEYS[sort_by], reverse=not ascending)
    return reply(request, page(request, recs, context(request).dialect.dataset))


@routes.get("/dataset/listById")
async def list_by_id(request: web.Request) -> web.Response:
    """The team's datasets in ascending id order after ``lastId``."""
    recs = {rec.id: rec for rec in context(request).state.team_datasets(team(request))}
    dialect = context(request).dialect
    return reply(request, after_id(request, list(recs), lambda dataset_id: dialect.dataset(recs[dataset_id])))


@routes.get("/dataset/info/{datasetId}")
async def info_one(request: web.Request) -> web.Response:
    """One dataset."""
    rec: DatasetRec = context(request).state.dataset(team(request), path_id(request, "datasetId"))
    return reply(request, context(request).dialect.dataset(rec))


@routes.get("/dataset/info")
async def info_many(request: web.Request) -> web.Response:
    """Several datasets, in the order of ``?datasetIds``."""
    recs = context(request).state.datasets_of(team(request), query_id_list(request, "datasetIds"))
    return reply(request, [context(request).dialect.dataset(rec) for rec in recs])
