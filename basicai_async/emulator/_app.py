"""The aiohttp application: API routes under ``/api/v1`` behind auth, limits and faults; the store beside.

One middleware wraps every API call, in this order: log the arrival (under the
key presented), authenticate (401), take a rate-limit slot (429 with
``Retry-After``), draw a fault, run the handler, and turn a business error into
the HTTP 200 envelope. Limits come before faults because the real service
counts a call that a gateway later fails; a client must count it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import _datasets, _items, _uploads
from ._auth import KeyRing, retry_after_header
from ._context import CONTEXT, KEY, Context
from ._faults import drop_connection, error_response, truncated
from ._store import STORE_PREFIX
from ._wire import ApiError, envelope_bytes, http_error

__all__ = ["API_PREFIX", "build_app", "endpoint_of"]

API_PREFIX = "/api/v1"
"""Where the API is served (the base URL's path)."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def endpoint_of(path: str) -> str:
    """The fault-injection name of an API path: its two segments after the prefix."""
    return "/".join(path[len(API_PREFIX) + 1 :].split("/")[:2])


def _business_error(error: ApiError, ctx: Context) -> web.Response:
    code = ctx.dialect.error_code(error)
    if error.status == 200:
        body = envelope_bytes(code, error.message, None)
        return web.Response(body=body, content_type="application/json")
    return http_error(error.status, code, error.message)


async def _serve(
    request: web.Request, handler: _Handler, ctx: Context, key: str | None
) -> web.StreamResponse:
    try:
        request[KEY] = ctx.keys.check(key)
    except ApiError as exc:
        return _business_error(exc, ctx)
    assert key is not None
    limiter = ctx.keys.limiter(key)
    if limiter is not None and not await limiter.try_acquire():
        return http_error(429, "TOO_MANY_REQUESTS", "rate limit exceeded", retry_after_header(limiter))
    fault = ctx.faults.decide(endpoint_of(request.path))
    if fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.kind == "error":
        return error_response(fault.status)
    if fault.kind == "rate_limit":
        retry = {"Retry-After": str(fault.retry_after)}
        return http_error(429, "TOO_MANY_REQUESTS", "rate limit exceeded (injected)", retry)
    if fault.kind == "drop_before":
        return drop_connection(request)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = _business_error(exc, ctx)
    except web.HTTPException as exc:
        # 404 for an unknown path, 405 for a wrong method, 413 for a huge body:
        # keep the status and headers (Allow) but answer JSON like every API error.
        headers: dict[str, str] | None = None
        if "Allow" in exc.headers:
            headers = {"Allow": exc.headers["Allow"]}
        response = http_error(exc.status, exc.reason.upper().replace(" ", "_"), exc.reason, headers)
    if fault.kind == "drop_after":
        return drop_connection(request)
    if fault.kind == "truncate" and isinstance(response, web.Response):
        return await truncated(request, response)
    return response


@web.middleware
async def _api_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX + "/"):
        return await handler(request)
    ctx = request.app[CONTEXT]
    key = KeyRing.presented(request.headers.get("Authorization"))
    now = asyncio.get_running_loop().time()
    record = ctx.log.record(key or "", now, request.method, request.path)
    try:
        response = await _serve(request, handler, ctx, key)
    except BaseException:
        record.status = 500
        raise
    # A prepared response (a truncated body) sent its status before the drop.
    dropped = request.transport is None or request.transport.is_closing()
    record.status = None if dropped and not response.prepared else response.status
    return response


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(ctx: Context) -> web.Application:
    """The emulator's application serving ``ctx``."""
    app = web.Application(middlewares=[_api_middleware])
    app[CONTEXT] = ctx
    for table in (_datasets.routes, _items.routes, _uploads.routes):
        for route in table:
            assert isinstance(route, web.RouteDef)
            app.router.add_route(route.method, API_PREFIX + route.path, route.handler)
    app.router.add_put(STORE_PREFIX + "/{key:.+}", ctx.store.handle_put)
    app.router.add_get(STORE_PREFIX + "/{key:.+}", ctx.store.handle_get, allow_head=False)
    app.router.add_get("/_emulator/health", _health)
    return app
