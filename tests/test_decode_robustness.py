"""Whatever bytes come back, a client call raises only typed SDK errors (issue 10, defect 8).

Hypothesis feeds the answer decoding, through public client calls to a
loopback server that answers whatever the test sets, arbitrary bytes, envelopes
of the wrong shape, numbers no int or float holds and nesting deep enough to
trip msgspec's recursion guard. (A loopback server rather than aioresponses:
aioresponses cannot serve a body past aiohttp's flow-control mark, and the
deeply nested answers are 200 kB.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basicai_async import (
    APIDecodeError,
    APIResponseError,
    AsyncBasicAI,
    BasicAIError,
    Dataset,
    InternalServerError,
    Limits,
    Window,
)

UNLIMITED = Limits((Window(10**9, 1.0),))

Call = Callable[[AsyncBasicAI], Awaitable[object]]


async def _first_dataset(client: AsyncBasicAI) -> object:
    async for dataset in client.datasets.list():
        return dataset
    return None


CALLS: dict[str, Call] = {
    "datasets.get": lambda c: c.datasets.get(1),
    "datasets.get_many": lambda c: c.datasets.get_many([1, 2]),
    "datasets.list": _first_dataset,
    "request": lambda c: c.request("GET", "/dataset/info/1"),
}


class _Harness:
    """One event loop, one loopback server and one client for all the examples of a test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.status, self.body = 200, b""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/api/v1"
        self.client = AsyncBasicAI("test-key", base_url=base_url, limits=UNLIMITED, max_retries=0)

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(status=self.status, body=self.body, content_type="application/json")

    def answer(self, call: Call, body: bytes, status: int = 200) -> object:
        """The call's result with ``body`` as the server's answer; it raises what the call raises."""
        self.status, self.body = status, body
        return self.loop.run_until_complete(call(self.client))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()


@pytest.fixture
def harness() -> Iterator[_Harness]:
    h = _Harness()
    yield h
    h.close()


def _typed_outcome(harness: _Harness, call: Call, body: bytes) -> BaseException | None:
    """Run the call; a non-SDK exception fails the test by propagating."""
    try:
        harness.answer(call, body)
    except BasicAIError as exc:
        outcome: BasicAIError = exc
    else:
        return None
    assert isinstance(outcome, (APIDecodeError, APIResponseError)), repr(outcome)
    return outcome


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(["id", "name", "type", "list", "total", "pageNo", "data", "code", "message"])


@st.composite
def wrong_shapes(draw: st.DrawFn) -> bytes:
    """Envelopes (or not) whose parts have arbitrary JSON in them."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return json.dumps(draw(JSON)).encode()
    code = draw(st.sampled_from(["OK", "ok", "ERROR", "RESOURCE_NOT_FOUND", "WHATEVER"]) | JSON)
    envelope: dict[str, Any] = {"code": code, "message": draw(JSON), "data": draw(JSON)}
    if kind == 2:
        envelope["data"] = draw(st.dictionaries(FIELDS, JSON, max_size=6))
    if kind == 3:
        envelope["data"] = {"list": draw(st.lists(st.dictionaries(FIELDS, JSON, max_size=6), max_size=3))}
    return json.dumps(envelope).encode()


@st.composite
def huge_numbers(draw: st.DrawFn) -> bytes:
    """Numbers past int64 and float range, where ids, sizes and totals go."""
    digits = draw(st.integers(19, 400))
    number = draw(
        st.sampled_from(["9" * digits, "-" + "9" * digits, f"1e{digits}", f"-1e{digits}", "1e-999"])
    )
    field = draw(st.sampled_from(["id", "total", "pageNo", "size"]))
    wrappers = ['{{"{f}": {n}}}', '{{"list": [{{"{f}": {n}}}], "total": {n}}}', "{n}"]
    wrapper = draw(st.sampled_from(wrappers))
    data = wrapper.format(f=field, n=number)
    return f'{{"code": "OK", "message": "", "data": {data}}}'.encode()


SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=60, deadline=None, suppress_health_check=SUPPRESS)
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(harness: _Harness, name: str, body: bytes) -> None:
    _typed_outcome(harness, CALLS[name], body)


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=80, deadline=None, suppress_health_check=SUPPRESS)
@given(body=wrong_shapes())
def test_wrong_shapes(harness: _Harness, name: str, body: bytes) -> None:
    _typed_outcome(harness, CALLS[name], body)


@pytest.mark.parametrize("name", ["datasets.get", "datasets.list"])
@settings(max_examples=40, deadline=None, suppress_health_check=SUPPRESS)
@given(body=huge_numbers())
def test_huge_numbers(harness: _Harness, name: str, body: bytes) -> None:
    _typed_outcome(harness, CALLS[name], body)


def _nested(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "0" + closer * depth


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("opener", ["[", '{"a":'])
@pytest.mark.parametrize("where", ["data", "message", "first", "bare"])
def test_deep_nesting_is_a_decode_error(harness: _Harness, name: str, opener: str, where: str) -> None:
    deep = _nested(100_000, opener)
    body = {
        "data": f'{{"code": "OK", "message": "", "data": {deep}}}',
        "message": f'{{"code": "ERROR", "message": {deep}, "data": null}}',
        "first": f'{{"data": {deep}, "code": "OK"}}',
        "bare": deep,
    }[where]
    with pytest.raises(APIDecodeError) as caught:
        harness.answer(CALLS[name], body.encode())
    assert caught.value.body.startswith(body[:100])


def test_deep_nesting_in_an_error_status_keeps_its_status(harness: _Harness) -> None:
    body = f'{{"code": "ERROR", "message": "boom", "data": {_nested(100_000, "[")}}}'
    with pytest.raises(InternalServerError) as caught:
        harness.answer(CALLS["datasets.get"], body.encode(), status=500)
    assert caught.value.status == 500


def test_a_well_formed_answer_still_decodes(harness: _Harness) -> None:
    body = {"code": "OK", "message": "", "data": {"id": 1, "name": "cars", "type": "IMAGE"}}
    dataset = harness.answer(CALLS["datasets.get"], json.dumps(body).encode())
    assert isinstance(dataset, Dataset)
    assert dataset.name == "cars"
