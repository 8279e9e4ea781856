"""AsyncBasicAI: options from arguments and environment, session lifecycle, the escape hatch."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from _fakes import API_KEY, FakeLimiter, SleepRecorder, envelope
from aioresponses import aioresponses
from yarl import URL

from basicai_async import AsyncBasicAI, ConfigurationError, ExactLimiter, NotFoundError, RetryPolicy, Uploader
from basicai_async._client import DEFAULT_BASE_URL

BASE = "https://basicai.example.test/api/v1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASICAI_API_KEY", raising=False)
    monkeypatch.delenv("BASICAI_BASE_URL", raising=False)


async def test_escape_hatch_returns_plain_data_through_the_limiter(mocked: aioresponses) -> None:
    limiter = FakeLimiter()
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1, "name": "cars", "newField": [1]}))
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        data = await client.request("GET", "/dataset/info/1")
    assert data == {"id": 1, "name": "cars", "newField": [1]}
    assert limiter.acquired == 1
    (call,) = mocked.requests[("GET", URL(BASE + "/dataset/info/1"))]
    assert call.kwargs["headers"]["Authorization"] == f"ApiKey {API_KEY}"


async def test_escape_hatch_params_and_json(mocked: aioresponses) -> None:
    url = BASE + "/dataset/update/3?dryRun=true"
    mocked.post(url, status=500)
    mocked.post(url, payload=envelope(None))
    sleeper = SleepRecorder()
    retry = RetryPolicy(max_retries=1, sleep=sleeper, random=lambda: 0.0)
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter(), retry=retry) as client:
        assert client.retry is retry
        result = await client.request(
            "POST", "/dataset/update/3", params={"dryRun": True}, json={"name": "x"}, idempotent=True
        )
    assert result is None
    assert sleeper.delays == [0.5]
    calls = mocked.requests[("POST", URL(url))]
    assert len(calls) == 2
    assert calls[0].kwargs["data"] == b'{"name":"x"}'


async def test_escape_hatch_raises_the_same_errors(mocked: aioresponses) -> None:
    mocked.get(BASE + "/nope", status=404, body="missing")
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter()) as client:
        with pytest.raises(NotFoundError) as info:
            await client.request("GET", "/nope")
    assert (info.value.method, info.value.path, info.value.body) == ("GET", "/nope", "missing")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value.args)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD"])
async def test_escape_hatch_only_get_and_post(method: str) -> None:
    limiter = FakeLimiter()
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        with pytest.raises(ValueError, match="only GET and POST"):
            await client.request(method, "/dataset/info/1")
    assert limiter.acquired == 0


@pytest.mark.parametrize("key", [None, "", "   "])
async def test_missing_key_is_a_configuration_error(key: str | None) -> None:
    with pytest.raises(ConfigurationError, match="BASICAI_API_KEY"):
        AsyncBasicAI(key)


async def test_key_and_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, mocked: aioresponses
) -> None:
    monkeypatch.setenv("BASICAI_API_KEY", API_KEY)
    monkeypatch.setenv("BASICAI_BASE_URL", BASE + "/")
    mocked.get(BASE + "/dataset/info/2", payload=envelope({"id": 2}))
    async with AsyncBasicAI(limiter=FakeLimiter()) as client:
        assert client.base_url == BASE
        assert await client.request("GET", "/dataset/info/2") == {"id": 2}
    (call,) = mocked.requests[("GET", URL(BASE + "/dataset/info/2"))]
    assert call.kwargs["headers"]["Authorization"] == f"ApiKey {API_KEY}"


async def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch, mocked: aioresponses) -> None:
    monkeypatch.setenv("BASICAI_API_KEY", "env-key")
    monkeypatch.setenv("BASICAI_BASE_URL", "https://env.example.test/api/v1")
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}))
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter()) as client:
        assert client.base_url == BASE
        await client.request("GET", "/dataset/info/1")
    (call,) = mocked.requests[("GET", URL(BASE + "/dataset/info/1"))]
    assert call.kwargs["headers"]["Authorization"] == f"ApiKey {API_KEY}"


async def test_default_base_url_and_limiter() -> None:
    client = AsyncBasicAI(API_KEY)
    assert client.base_url == DEFAULT_BASE_URL == "https://open.basic.ai/api/v1"
    assert isinstance(client.limiter, ExactLimiter)
    await client.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "open.basic.ai/api/v1"}, "base_url must start with http"),
        ({"base_url": "ftp://example.test"}, "base_url must start with http"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
    ],
)
async def test_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncBasicAI(API_KEY, **kwargs)  # type: ignore[arg-type]


async def test_bad_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASICAI_BASE_URL", "localhost:8080")
    with pytest.raises(ConfigurationError, match="localhost:8080"):
        AsyncBasicAI(API_KEY)


async def test_async_with_closes_the_session_it_opened() -> None:
    async with AsyncBasicAI(API_KEY, base_url=BASE) as client:
        session = await client.http_session()
        assert isinstance(session, aiohttp.ClientSession)
        assert not session.closed
    assert session.closed


async def test_lazily_opened_session_is_closed_by_close(mocked: aioresponses) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}))
    client = AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter())
    await client.request("GET", "/dataset/info/1")
    session = await client.http_session()
    await client.close()
    assert session.closed
    with pytest.raises(ConfigurationError, match="client is closed"):
        await client.http_session()


async def test_a_session_passed_in_is_never_closed(mocked: aioresponses) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}))
    async with aiohttp.ClientSession() as session:
        async with AsyncBasicAI(API_KEY, base_url=BASE, session=session, limiter=FakeLimiter()) as client:
            await client.request("GET", "/dataset/info/1")
        assert not session.closed
        await client.close()
        assert not session.closed
    assert session.closed


async def test_closed_client_raises_on_use() -> None:
    limiter = FakeLimiter()
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        pass
    with pytest.raises(ConfigurationError, match="closed"):
        await client.request("GET", "/dataset/info/1")
    with pytest.raises(ConfigurationError, match="closed"):
        await client.datasets.get(1)
    with pytest.raises(ConfigurationError, match="closed"):
        await client.__aenter__()


async def test_a_client_closed_after_use_refuses_calls_with_either_session(mocked: aioresponses) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}), repeat=True)
    client = AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter())
    await client.request("GET", "/dataset/info/1")  # its own session, open: the fast path's
    await client.close()
    with pytest.raises(ConfigurationError, match="client is closed"):
        await client.datasets.get(1)
    async with aiohttp.ClientSession() as session:
        client = AsyncBasicAI(API_KEY, base_url=BASE, session=session, limiter=FakeLimiter())
        await client.request("GET", "/dataset/info/1")
        await client.close()
        with pytest.raises(ConfigurationError, match="client is closed"):
            await client.datasets.get(1)


async def test_a_session_given_and_closed_after_use_is_a_configuration_error(mocked: aioresponses) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}), repeat=True)
    session = aiohttp.ClientSession()
    client = AsyncBasicAI(API_KEY, base_url=BASE, session=session, limiter=FakeLimiter())
    await client.datasets.get(1)
    await session.close()
    with pytest.raises(ConfigurationError, match=r"session .* is closed"):
        await client.datasets.get(1)


async def test_a_closed_session_passed_in_is_a_configuration_error() -> None:
    session = aiohttp.ClientSession()
    await session.close()
    client = AsyncBasicAI(API_KEY, base_url=BASE, session=session, limiter=FakeLimiter())
    with pytest.raises(ConfigurationError, match=r"session .* is closed"):
        await client.request("GET", "/dataset/info/1")


async def test_key_never_in_repr_or_logs(mocked: aioresponses, caplog: pytest.LogCaptureFixture) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}))
    with caplog.at_level(logging.DEBUG):
        async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter()) as client:
            await client.request("GET", "/dataset/info/1")
            assert repr(client) == f"AsyncBasicAI(base_url={BASE!r})"
            assert API_KEY not in repr(client)
            assert API_KEY not in str(client)
    assert any("GET /dataset/info/1 -> 200" in r.getMessage() for r in caplog.records)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


async def test_missing_key_error_does_not_echo_a_blank_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncBasicAI(" \t")
    assert "\t" not in str(info.value)


async def test_resources_share_the_client_pipeline(mocked: aioresponses) -> None:
    limiter = FakeLimiter()
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1, "name": "d"}))
    mocked.post(BASE + "/dataset/removeData/1/2", payload=envelope(None))
    mocked.post(BASE + "/dataset/removeBatch/1/3", payload=envelope(None))
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        assert client.limiter is limiter
        await client.datasets.get(1)
        await client.data.remove(1, 2)
        await client.batches.remove(1, 3)
    assert limiter.acquired == 3


async def test_uploader_is_bound_to_the_client() -> None:
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter()) as client:
        assert isinstance(client.uploader(), Uploader)


BAD_CALLS = [
    pytest.param(lambda c: c.datasets.get(0), ValueError, "dataset_id must be a positive id", id="zero-id"),
    pytest.param(lambda c: c.datasets.get(True), TypeError, "dataset_id must be an int id", id="bool-id"),
    pytest.param(lambda c: c.datasets.get("1"), TypeError, "got str '1'", id="str-id"),
    pytest.param(lambda c: c.datasets.get_many("12"), TypeError, "got a string", id="ids-string"),
    pytest.param(lambda c: c.datasets.get_many([]), ValueError, "at least one id", id="ids-empty"),
    pytest.param(lambda c: c.datasets.get_many([1, -2]), ValueError, r"dataset_ids\[1\]", id="ids-bad"),
    pytest.param(
        lambda c: c.datasets.create(name=" ", type="IMAGE"), ValueError, "name must not", id="blank"
    ),
    pytest.param(
        lambda c: c.datasets.create(name=3, type="IMAGE"), TypeError, "name must be a str", id="int"
    ),
]


@pytest.mark.parametrize(("call", "cls", "message"), BAD_CALLS)
async def test_arguments_checked_before_any_request(
    mocked: aioresponses, call: object, cls: type[Exception], message: str
) -> None:
    limiter = FakeLimiter()
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        with pytest.raises(cls, match=message):
            await call(client)  # type: ignore[operator]
    assert (limiter.acquired, mocked.requests) == (0, {})


@pytest.mark.parametrize(
    ("size", "cls", "message"),
    [(0, ValueError, "from 1 to 100, got 0"), (101, ValueError, "got 101"), (True, TypeError, "got bool")],
)
async def test_page_size_checked_when_the_listing_is_built(
    size: object, cls: type[Exception], message: str
) -> None:
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=FakeLimiter()) as client:
        with pytest.raises(cls, match=message):
            client.datasets.list(page_size=size)  # type: ignore[arg-type]
        with pytest.raises(cls, match=message):
            client.datasets.iter_by_id(limit=size)  # type: ignore[arg-type]


async def test_250_ids_become_calls_of_100_100_50(mocked: aioresponses) -> None:
    limiter = FakeLimiter()
    ids = list(range(1, 251))
    for start in (0, 100, 200):
        chunk = ids[start : start + 100]
        url = BASE + "/dataset/info?datasetIds=" + ",".join(map(str, chunk))
        mocked.get(url, payload=envelope([{"id": i, "name": f"d{i}"} for i in chunk]))
    async with AsyncBasicAI(API_KEY, base_url=BASE, limiter=limiter) as client:
        found = await client.datasets.get_many(ids)
    assert [d.id for d in found] == ids
    assert limiter.acquired == 3


async def test_a_session_passed_in_gets_the_client_timeout(mocked: aioresponses) -> None:
    mocked.get(BASE + "/dataset/info/1", payload=envelope({"id": 1}))
    async with aiohttp.ClientSession() as session:
        client = AsyncBasicAI(API_KEY, base_url=BASE, session=session, limiter=FakeLimiter(), timeout=7.5)
        await client.request("GET", "/dataset/info/1")
    (call,) = mocked.requests[("GET", URL(BASE + "/dataset/info/1"))]
    assert call.kwargs["timeout"].total == 7.5
