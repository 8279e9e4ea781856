"""What the pipeline sends (URL, query, headers, body) and what it logs, with the key kept out."""

from __future__ import annotations

import logging

import aiohttp
import msgspec
import pytest
from _fakes import API_KEY, BASE_URL, FakeLimiter, connector_error, envelope, make_pipeline
from aioresponses import aioresponses
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from basicai_async import _errors as errors
from basicai_async._http import _decoder, encode_params, with_query
from basicai_async.models import Dataset, NewDataset, Page


async def test_get_sends_query_and_auth(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    pipeline, _, _ = make_pipeline(session)
    url = BASE_URL + "/dataset/list?ascending=true&datasetIds=4,5&pageNo=1"
    mocked.get(url, payload=envelope({"total": 1, "list": [{"id": 4, "name": "a"}]}))
    page = await pipeline.request(
        "get",
        "/dataset/list",
        params={"ascending": True, "datasetIds": [4, 5], "pageNo": 1, "name": None},
        response_type=Page[Dataset],
    )
    assert page == Page(items=[Dataset(id=4, name="a")], total=1)
    (call,) = mocked.requests[("GET", URL(url))]
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == f"ApiKey {API_KEY}"
    assert headers["Accept"] == "application/json"
    assert "Content-Type" not in headers
    assert call.kwargs["data"] is None
    # Written into the URL (matched above), so aiohttp has no params left to escape.
    assert not call.kwargs["params"]


async def test_a_query_to_escape_is_left_to_aiohttp(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, _, _ = make_pipeline(session)
    url = URL(BASE_URL + "/dataset/list").extend_query({"name": "a b&c=d/é", "pageNo": "2"})
    mocked.get(url, payload=envelope({"list": []}))
    await pipeline.request(
        "GET", "/dataset/list", params={"name": "a b&c=d/é", "pageNo": 2}, response_type=Page[Dataset]
    )
    (call,) = mocked.requests[("GET", url)]
    assert call.kwargs["params"] == {"name": "a b&c=d/é", "pageNo": "2"}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=4))
def test_with_query_builds_the_url_aiohttp_would(query: dict[str, str]) -> None:
    base = BASE_URL + "/dataset/listItem/3"
    url, left = with_query(base, query)
    assert URL(url).extend_query(left) == URL(base).extend_query(query)
    assert left == {} or left is query


@pytest.mark.parametrize(
    ("query", "written"),
    [
        ({"pageSize": "100", "pageNo": "7"}, "?pageSize=100&pageNo=7"),
        ({"dataIds": "1,2,3", "sourceId": "-1"}, "?dataIds=1,2,3&sourceId=-1"),
        ({"ascending": "true", "name": "a.b_c~d"}, "?ascending=true&name=a.b_c~d"),
        ({"name": "a&b=c"}, None),
        ({"a=b": "c"}, None),
        ({"name": "a b"}, None),
        ({"name": "é"}, None),
        ({}, None),
    ],
)
def test_with_query_writes_only_what_needs_no_escaping(query: dict[str, str], written: str | None) -> None:
    base = BASE_URL + "/dataset/list"
    url, left = with_query(base, query)
    if written is None:
        assert (url, left) == (base, query)
    else:
        assert (url, left) == (base + written, {})
        assert str(URL(url)) == str(URL(base).extend_query(query))


def test_with_query_leaves_a_url_that_has_a_query() -> None:
    base = BASE_URL + "/dataset/list?pageNo=1"
    assert with_query(base, {"pageSize": "10"}) == (base, {"pageSize": "10"})


async def test_post_sends_msgspec_json(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    pipeline, _, _ = make_pipeline(session)
    url = BASE_URL + "/dataset/create"
    mocked.post(url, payload=envelope({"id": 9, "name": "cars"}))
    await pipeline.request("POST", "/dataset/create", json=NewDataset(name="cars", type="IMAGE"))
    (call,) = mocked.requests[("POST", URL(url))]
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    # camelCase on the wire, unset optional fields left out.
    assert msgspec.json.decode(call.kwargs["data"]) == {"name": "cars", "type": "IMAGE"}


async def test_escape_hatch_type_decodes_plain_data(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, _, _ = make_pipeline(session)
    mocked.get(
        BASE_URL + "/dataset/info/1", payload=envelope({"id": 1, "extra": [1, {"a": None}]}), repeat=True
    )
    data = {"id": 1, "extra": [1, {"a": None}]}
    assert await pipeline.request("GET", "/dataset/info/1", response_type=object) == data
    # Without a response_type the call only acts: its data is checked, not returned.
    assert await pipeline.request("GET", "/dataset/info/1") is None


def test_encode_params() -> None:
    params = {
        "name": "cars",
        "ascending": False,
        "strict": True,
        "datasetIds": [1, 2, 3],
        "tags": ("a", "b"),
        "lastId": None,
        "pageSize": 100,
    }
    assert encode_params(params) == {
        "name": "cars",
        "ascending": "false",
        "strict": "true",
        "datasetIds": "1,2,3",
        "tags": "a,b",
        "pageSize": "100",
    }
    assert encode_params(None) == {}
    assert encode_params({}) == {}


def test_one_decoder_per_response_type() -> None:
    assert _decoder(Dataset) is _decoder(Dataset)
    assert _decoder(Page[Dataset]) is _decoder(Page[Dataset])
    assert _decoder(Dataset) is not _decoder(Page[Dataset])


@pytest.mark.parametrize("method", ["PUT", "DELETE", "patch"])
async def test_only_get_and_post(session: aiohttp.ClientSession, mocked: aioresponses, method: str) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    with pytest.raises(ValueError, match=f"only GET and POST, not '{method.upper()}'"):
        await pipeline.request(method, "/dataset/info/1")
    assert limiter.acquired == 0


async def test_path_must_be_absolute(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    with pytest.raises(ValueError, match="path must start with '/'"):
        await pipeline.request("GET", "dataset/info/1")
    assert limiter.acquired == 0


async def test_debug_line_per_attempt(
    session: aiohttp.ClientSession, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, _, _ = make_pipeline(session, limiter=FakeLimiter(wait=0.25))
    url = BASE_URL + "/dataset/info/1"
    mocked.get(url, exception=connector_error())
    mocked.get(url, status=502)
    mocked.get(url, payload=envelope({"id": 1, "name": "a"}))
    with caplog.at_level(logging.DEBUG, logger="basicai_async"):
        await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    lines = [r.getMessage() for r in caplog.records if r.name == "basicai_async"]
    assert len(lines) == 3
    for line, status, attempt in zip(lines, ["error", "502", "200"], [1, 2, 3], strict=True):
        assert line.startswith(f"GET /dataset/info/1 -> {status} in ")
        assert f"(attempt {attempt}, limiter wait 0.250s)" in line
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


async def test_no_log_above_debug_level(
    session: aiohttp.ClientSession, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, _, _ = make_pipeline(session)
    mocked.get(BASE_URL + "/dataset/info/1", payload=envelope(None))
    with caplog.at_level(logging.INFO, logger="basicai_async"):
        await pipeline.request("GET", "/dataset/info/1")
    assert caplog.records == []


FAILURES = [
    {"status": 401, "body": "unauthorized"},
    {"status": 429, "headers": {"Retry-After": "999"}},
    {"status": 500},
    {"payload": envelope(code="LICENSE_EXPIRED", message="renew")},
    {"body": "<html>"},
    {"payload": envelope(None)},
    {"exception": connector_error()},
    {"exception": aiohttp.ServerDisconnectedError()},
    {"exception": aiohttp.ServerTimeoutError()},
]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


@pytest.mark.parametrize("answer", FAILURES)
async def test_key_never_in_logs_or_errors(
    session: aiohttp.ClientSession,
    mocked: aioresponses,
    caplog: pytest.LogCaptureFixture,
    answer: dict[str, object],
) -> None:
    pipeline, _, _ = make_pipeline(session, max_retries=1)
    mocked.get(BASE_URL + "/dataset/info/1", repeat=True, **answer)
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.APIError) as info:
        await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    assert caplog.records
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.args)
    for exc in _chain(info.value):
        assert API_KEY not in str(exc)
        assert API_KEY not in repr(exc)
        assert API_KEY not in repr(exc.args)
    assert API_KEY not in repr(vars(info.value))
    assert API_KEY not in repr(pipeline)


async def test_a_body_that_cannot_be_json_is_a_type_error_before_any_request(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    with pytest.raises(TypeError, match="POST /dataset/create: the JSON body cannot be encoded"):
        await pipeline.request("POST", "/dataset/create", json={"when": object()})
    assert limiter.acquired == 0
    assert not mocked.requests
