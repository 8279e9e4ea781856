"""Test doubles for the request pipeline: a counting limiter and a pipeline that never sleeps.

The pipeline's ``_sleep`` and ``_random`` attributes are swapped for recorders so
retry delays are asserted exactly, without real sleeps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.client_reqrep import ConnectionKey

from basicai_async._http import Pipeline, RetryConfig
from basicai_async.ratelimit import LimiterStats

__all__ = [
    "API_KEY",
    "BASE_URL",
    "FakeLimiter",
    "SleepRecorder",
    "connector_error",
    "envelope",
    "make_pipeline",
]

API_KEY = "sk-DISTINCTIVE-7f3a9c1e-do-not-log"
"""A key no other string in a test could contain by accident."""

BASE_URL = "https://api.example.test/api/v1"


class FakeLimiter:
    """A limiter that admits at once and counts: ``acquired`` calls, ``pauses`` asked for."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.acquired = 0
        self.tried = 0
        self.pauses: list[float] = []

    async def acquire(self) -> float:
        """Count the call and report ``wait`` seconds waited."""
        self.acquired += 1
        return self.wait

    async def try_acquire(self) -> bool:
        """Count the call; always admitted."""
        self.tried += 1
        return True

    async def pause(self, seconds: float) -> None:
        """Record the pause instead of holding anyone."""
        self.pauses.append(seconds)

    def stats(self) -> LimiterStats:
        """A snapshot with the counters above."""
        return LimiterStats(
            windows=(),
            admitted=self.acquired,
            waiting=0,
            total_wait=self.wait * self.acquired,
            next_slot_in=0.0,
            paused_for=0.0,
        )


class SleepRecorder:
    """Stands in for ``asyncio.sleep``: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_pipeline(
    session: aiohttp.ClientSession,
    *,
    limiter: FakeLimiter | None = None,
    max_retries: int = 3,
    max_retry_after: float = 60.0,
    rand: float = 0.0,
    api_key: str = API_KEY,
) -> tuple[Pipeline, FakeLimiter, SleepRecorder]:
    """A pipeline over ``session`` with a fake limiter, recorded sleeps and fixed jitter ``rand``."""
    limiter = limiter if limiter is not None else FakeLimiter()

    async def get_session() -> aiohttp.ClientSession:
        return session

    factory: Callable[[], Awaitable[aiohttp.ClientSession]] = get_session
    pipeline = Pipeline(
        api_key=api_key,
        base_url=BASE_URL + "/",
        limiter=limiter,
        retry=RetryConfig(max_retries=max_retries, max_retry_after=max_retry_after),
        session=factory,
    )
    sleeper = SleepRecorder()
    pipeline._sleep = sleeper
    pipeline._random = lambda: rand
    return pipeline, limiter, sleeper


def connector_error(host: str = "api.example.test") -> aiohttp.ClientConnectorError:
    """What aiohttp raises when the TCP connection cannot be opened (nothing was sent)."""
    key = ConnectionKey(host, 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


def envelope(data: object = None, code: str = "OK", message: str = "") -> dict[str, object]:
    """A BasicAI answer envelope."""
    return {"code": code, "message": message, "data": data}
