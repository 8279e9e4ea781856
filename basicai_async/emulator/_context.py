"""What every handler reaches through the app: the state, store, keys, log, faults and dialect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ._auth import ApiKey, KeyRing, RequestLog
from ._dialects import Dialect
from ._faults import Faults
from ._state import State
from ._store import ObjectStore
from ._wire import envelope_bytes

__all__ = ["CONTEXT", "KEY", "Context", "context", "reply", "team"]


@dataclass(slots=True)
class Context:
    """The emulator's parts, shared by the app's handlers and the ``Emulator`` object."""

    state: State
    store: ObjectStore
    keys: KeyRing
    log: RequestLog
    faults: Faults
    dialect: Dialect


CONTEXT = web.AppKey("basicai_emulator", Context)
"""The app key under which the :class:`Context` lives."""
# aiohttp 3.14 warns on plain string request keys; older ones have no RequestKey.
KEY: Any = web.RequestKey("basicai_api_key", ApiKey) if hasattr(web, "RequestKey") else "basicai_api_key"
"""The request key under which the auth middleware leaves the caller's :class:`ApiKey`."""


def context(request: web.Request) -> Context:
    """The emulator context of the app serving ``request``."""
    return request.app[CONTEXT]


def team(request: web.Request) -> str:
    """The team of the API key that made ``request`` (set by the auth middleware)."""
    api_key: ApiKey = request[KEY]
    return api_key.team


def reply(request: web.Request, data: Any) -> web.Response:
    """A successful answer carrying ``data`` (plain JSON values), in the app's dialect."""
    dialect = context(request).dialect
    body = envelope_bytes(dialect.ok_code, dialect.ok_message, data)
    return web.Response(body=body, content_type="application/json")
