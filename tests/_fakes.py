"""Test doubles shared by the unit tests (fixtures live in conftest.py; plain helpers here).

- ``FakeLimiter`` admits at once and counts; ``SleepRecorder`` stands in for
  ``asyncio.sleep`` in a ``RetryPolicy`` so retry delays are asserted exactly,
  without real sleeps; ``make_pipeline`` builds a pipeline with both.
- ``FakeApi`` wraps aioresponses: ``answer()`` registers one answer for an exact
  method, path and query, and every request that reaches the mock is recorded in
  order as a ``Call`` (URL, query, headers, decoded JSON body). A request nobody
  answered fails the call (aioresponses refuses it), and the client is built
  with ``max_retries=0`` so that failure is immediate: no retry, no sleep.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from yarl import URL

from basicai_async import AsyncBasicAI, RetryPolicy
from basicai_async._http import Pipeline
from basicai_async.ratelimit import LimiterStats

__all__ = [
    "API_KEY",
    "BASE_URL",
    "Call",
    "FakeApi",
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
    sleeper = SleepRecorder()
    policy = RetryPolicy(
        max_retries=max_retries, max_retry_after=max_retry_after, sleep=sleeper, random=lambda: rand
    )
    pipeline = Pipeline(
        api_key=api_key, base_url=BASE_URL + "/", limiter=limiter, retry=policy, session=factory
    )
    return pipeline, limiter, sleeper


def connector_error(host: str = "api.example.test") -> aiohttp.ClientConnectorError:
    """What aiohttp raises when the TCP connection cannot be opened (nothing was sent)."""
    key = ConnectionKey(host, 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


def envelope(data: object = None, code: str = "OK", message: str = "") -> dict[str, object]:
    """A BasicAI answer envelope."""
    return {"code": code, "message": message, "data": data}


@dataclass(frozen=True)
class Call:
    """One request as it reached the mocked server."""

    method: str
    url: URL
    params: dict[str, str]
    headers: dict[str, str]
    json: Any

    @property
    def path(self) -> str:
        """The path relative to ``BASE_URL``, trailing slash kept."""
        return self.url.path.removeprefix(URL(BASE_URL).path)


def _url(path: str, query: Mapping[str, str] | None) -> URL:
    url = URL(BASE_URL + path)
    return url.with_query(sorted((query or {}).items()))


class FakeApi:
    """A client wired to a mocked API that records every request."""

    def __init__(self, mock: aioresponses, client: AsyncBasicAI, limiter: FakeLimiter) -> None:
        self.mock = mock
        self.client = client
        self.limiter = limiter
        self.calls: list[Call] = []
        self.sleeps: list[float] = []

    @classmethod
    @asynccontextmanager
    async def open(cls, *, max_retries: int = 0) -> AsyncIterator[FakeApi]:
        """A fresh mock and client, closed on exit.

        With ``max_retries`` above 0 the pipeline's backoff sleeps are recorded in
        ``sleeps`` instead of slept.
        """
        limiter = FakeLimiter()
        sleeper = SleepRecorder()
        retry = RetryPolicy(max_retries=max_retries, sleep=sleeper)
        with aioresponses() as mock:
            async with AsyncBasicAI(API_KEY, base_url=BASE_URL, limiter=limiter, retry=retry) as client:
                fake = cls(mock, client, limiter)
                fake.sleeps = sleeper.delays
                yield fake

    def answer(
        self,
        method: str,
        path: str,
        data: object = None,
        *,
        query: Mapping[str, str] | None = None,
        code: str = "OK",
        status: int = 200,
    ) -> None:
        """Answer the next ``method`` request to exactly ``path`` + ``query`` with an envelope of ``data``."""
        self.mock.add(
            _url(path, query),
            method,
            status=status,
            payload={"code": code, "message": "", "data": data},
            callback=partial(self._record, method.upper()),
        )

    def _record(self, method: str, url: URL, **kwargs: Any) -> None:
        body = kwargs.get("data")
        self.calls.append(
            Call(
                method=method,
                url=url,
                # The query as it went out, written into the URL or passed as params.
                params=dict(url.query),
                headers=dict(kwargs.get("headers") or {}),
                json=None if body is None else json.loads(body),
            )
        )

    def only_call(self) -> Call:
        """The one request made; fails if there were none or several."""
        assert len(self.calls) == 1, self.calls
        return self.calls[0]

    def assert_call(
        self,
        call: Call,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> None:
        """``call`` was ``method path?params`` with this JSON body and the API key header."""
        assert call.method == method
        assert call.url == _url(path, params), call.url
        assert call.path == path
        assert call.params == dict(params or {})
        assert call.json == json
        assert call.headers["Authorization"] == f"ApiKey {API_KEY}"
        if json is not None:
            assert call.headers["Content-Type"] == "application/json"

    async def assert_refused_before_any_request(
        self, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
    ) -> None:
        """``call`` raises ``error`` matching ``match`` having sent nothing and taken no limiter slot."""
        with pytest.raises(error, match=match):
            await call(self.client)
        assert self.calls == []
        assert self.limiter.acquired == 0
