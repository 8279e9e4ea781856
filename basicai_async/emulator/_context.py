"""What every handler reaches through the app: the state, store, keys, log and faults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ._auth import ApiKey, KeyRing, RequestLog
from ._faults import Faults
from ._state import State
from ._store import ObjectStore

__all__ = ["CONTEXT", "KEY", "Context", "context", "team"]


@dataclass(slots=True)
class Context:
    """The emulator's parts, shared by the app's handlers and the ``Emulator`` object."""

    state: State
    store: ObjectStore
    keys: KeyRing
    log: RequestLog
    faults: Faults


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
