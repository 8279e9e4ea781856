"""Test doubles for the resource tests: a counting limiter and a recorded, mocked API.

``FakeApi`` wraps aioresponses: ``answer()`` registers one answer for an exact
method, path and query, and every request that reaches the mock is recorded in
order as a ``Call`` (URL, query, headers, decoded JSON body). A request nobody
answered fails the call (aioresponses refuses it), and the client is built with
``max_retries=0`` so that failure is immediate: no retry, no sleep.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from _pipeline_fakes import FakeLimiter
from aioresponses import aioresponses
from yarl import URL

from basicai_async._client import AsyncBasicAI

__all__ = ["API_KEY", "BASE_URL", "Call", "FakeApi", "FakeLimiter"]

API_KEY = "test-key"
BASE_URL = "http://api.test/api/v1"


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

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    @classmethod
    @asynccontextmanager
    async def open(cls, *, max_retries: int = 0) -> AsyncIterator[FakeApi]:
        """A fresh mock and client, closed on exit.

        With ``max_retries`` above 0 the pipeline's backoff sleeps are recorded in
        ``sleeps`` instead of slept.
        """
        limiter = FakeLimiter()
        with aioresponses() as mock:
            async with AsyncBasicAI(
                API_KEY, base_url=BASE_URL, limiter=limiter, max_retries=max_retries
            ) as client:
                fake = cls(mock, client, limiter)
                client._pipeline._sleep = fake._sleep
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
                params=dict(kwargs.get("params") or {}),
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
