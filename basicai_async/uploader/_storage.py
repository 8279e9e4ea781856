"""The session the storage PUTs go through: the client's connection pool, without the API's send trace.

``AsyncBasicAI``'s session carries ``send_trace``, which stamps each API call's
limiter slot as its headers leave. A PUT to storage has no slot to stamp, yet
aiohttp runs its tracing machinery for every request of a session that has a
trace config: for a small file that costs about a sixth of the client's CPU per
file (``benchmarks/ingest_scale.py``). So the PUTs go through a sibling session
over the same connector (the same pool, TLS and limits) that keeps everything
else the PUTs need of the client's session: proxies from the environment
(``trust_env``) and any trace config of the user's own (an instrumented session
still sees its PUTs). It keeps no cookies (storage has none to give the API),
and answers are never raised for status here: the PUT reads every status itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from .._http import is_send_trace

__all__ = ["storage_session"]


@asynccontextmanager
async def storage_session(api: aiohttp.ClientSession) -> AsyncIterator[aiohttp.ClientSession]:
    """A session over ``api``'s connector for one run's PUTs, closed after it (the pool stays open)."""
    session = aiohttp.ClientSession(
        connector=api.connector,
        connector_owner=False,
        trust_env=api.trust_env,
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[config for config in api.trace_configs if not is_send_trace(config)],
        auto_decompress=api.auto_decompress,
    )
    try:
        yield session
    finally:
        await session.close()
