"""The pipeline's one retry loop: which failures are retried, how long it waits, and the limiter."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from _fakes import BASE_URL, connector_error, envelope, make_pipeline
from aioresponses import aioresponses
from yarl import URL

from basicai_async import _errors as errors
from basicai_async._http import Pipeline
from basicai_async._redact import RedactedException
from basicai_async.models import Dataset
from basicai_async.resources.datasets import Datasets

INFO = BASE_URL + "/dataset/info/1"
CREATE = BASE_URL + "/dataset/create"
DATASET = {"id": 1, "name": "cars", "type": "IMAGE"}


def calls(mocked: aioresponses, method: str, url: str) -> int:
    """How many requests aioresponses saw for ``method url``."""
    return len(mocked.requests.get((method, URL(url)), []))


def failure(status: int | None, raised: Exception | None) -> dict[str, object]:
    """aioresponses keyword arguments for one failed attempt."""
    return {"exception": raised} if raised is not None else {"status": status}


RETRIED_ON_GET = [
    pytest.param(500, None, id="500"),
    pytest.param(502, None, id="502"),
    pytest.param(503, None, id="503"),
    pytest.param(504, None, id="504"),
    pytest.param(429, None, id="429"),
    pytest.param(None, connector_error(), id="refused"),
    pytest.param(None, aiohttp.ServerDisconnectedError(), id="disconnected"),
    pytest.param(None, TimeoutError(), id="timeout"),
]


@pytest.mark.parametrize(("status", "raised"), RETRIED_ON_GET)
async def test_get_retried_then_succeeds(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int | None, raised: Exception | None
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session)
    mocked.get(INFO, **failure(status, raised))
    mocked.get(INFO, **failure(status, raised))
    mocked.get(INFO, payload=envelope(DATASET))
    ds = await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    assert ds.name == "cars"
    assert calls(mocked, "GET", INFO) == 3
    assert limiter.acquired == 3
    # A 429 holds the whole limiter instead of sleeping this task alone.
    if status == 429:
        assert (limiter.pauses, sleeper.delays) == ([0.5, 1.0], [])
    else:
        assert (limiter.pauses, sleeper.delays) == ([], [0.5, 1.0])


@pytest.mark.parametrize(("status", "raised"), RETRIED_ON_GET)
async def test_get_gives_up_after_max_retries(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int | None, raised: Exception | None
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session, max_retries=2)
    mocked.get(INFO, repeat=True, **failure(status, raised))
    with pytest.raises(errors.APIError) as info:
        await pipeline.request("GET", "/dataset/info/1")
    if raised is not None:
        # aiohttp's exception is chained as a scrubbed stand-in (its own carries the request's headers).
        cause = info.value.__cause__
        assert cause is raised or (
            isinstance(cause, RedactedException) and cause.original_type.endswith(type(raised).__qualname__)
        )
    else:
        assert isinstance(info.value, errors.APIStatusError)
        assert info.value.status == status
    assert calls(mocked, "GET", INFO) == 3
    assert limiter.acquired == 3
    assert len(sleeper.delays) + len(limiter.pauses) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 418])
async def test_client_errors_are_not_retried(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session)
    mocked.get(INFO, status=status, repeat=True)
    with pytest.raises(errors.APIStatusError):
        await pipeline.request("GET", "/dataset/info/1")
    assert (calls(mocked, "GET", INFO), limiter.acquired, sleeper.delays) == (1, 1, [])


async def test_envelope_errors_and_decode_errors_are_not_retried(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    mocked.get(INFO, payload=envelope(code="ERROR"))
    mocked.get(INFO, body="<html>")
    with pytest.raises(errors.GenericAPIError):
        await pipeline.request("GET", "/dataset/info/1")
    with pytest.raises(errors.APIDecodeError):
        await pipeline.request("GET", "/dataset/info/1")
    assert limiter.acquired == 2


async def test_zero_max_retries_means_one_attempt(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, _ = make_pipeline(session, max_retries=0)
    mocked.get(INFO, exception=connector_error(), repeat=True)
    with pytest.raises(errors.APIConnectionError):
        await pipeline.request("GET", "/dataset/info/1")
    assert limiter.acquired == 1


async def test_retry_after_seconds_replaces_backoff(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session)
    mocked.get(INFO, status=503, headers={"Retry-After": "7"})
    mocked.get(INFO, status=503, headers={"Retry-After": "0"})
    mocked.get(INFO, payload=envelope(DATASET))
    await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    assert sleeper.delays == [7.0, 0.0]
    assert limiter.pauses == []


async def test_retry_after_http_date(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    pipeline, _, sleeper = make_pipeline(session)
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    mocked.get(INFO, status=503, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    mocked.get(INFO, payload=envelope(DATASET))
    await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    # The header has whole seconds: the wait is 29-30 s, never the 0.5 s backoff.
    assert len(sleeper.delays) == 1
    assert 28.5 < sleeper.delays[0] <= 30.0


async def test_429_retry_after_pauses_the_limiter(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session)
    mocked.get(INFO, status=429, headers={"Retry-After": "5"})
    mocked.get(INFO, payload=envelope(DATASET))
    await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    assert limiter.pauses == [5.0]
    assert sleeper.delays == []
    assert limiter.acquired == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_beyond_the_cap_is_raised_at_once(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session, max_retry_after=60.0)
    mocked.get(INFO, status=status, headers={"Retry-After": "61"}, repeat=True)
    with pytest.raises(errors.APIStatusError) as info:
        await pipeline.request("GET", "/dataset/info/1")
    assert info.value.status == status
    assert calls(mocked, "GET", INFO) == 1
    assert (limiter.pauses, sleeper.delays) == ([], [])
    if isinstance(info.value, errors.RateLimitError):
        assert info.value.retry_after == 61.0


async def test_unparsable_retry_after_falls_back_to_backoff(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, _, sleeper = make_pipeline(session)
    mocked.get(INFO, status=502, headers={"Retry-After": "soon"})
    mocked.get(INFO, payload=envelope(DATASET))
    await pipeline.request("GET", "/dataset/info/1", response_type=Dataset)
    assert sleeper.delays == [0.5]


async def test_backoff_sequence_is_exponential_and_capped(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session, max_retries=6)
    mocked.get(INFO, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(errors.APIConnectionError):
        await pipeline.request("GET", "/dataset/info/1")
    assert sleeper.delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert limiter.acquired == 7


async def test_backoff_is_jittered_down_by_at_most_a_quarter(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    pipeline, _, sleeper = make_pipeline(session, max_retries=5, rand=0.999999)
    mocked.get(INFO, status=500, repeat=True)
    with pytest.raises(errors.InternalServerError):
        await pipeline.request("GET", "/dataset/info/1")
    for delay, full in zip(sleeper.delays, [0.5, 1.0, 2.0, 4.0, 8.0], strict=True):
        assert full * 0.75 < delay < full * 0.7501


# Creating POSTs: retried only where the server cannot have acted.

NOT_RETRIED_ON_CREATE = [
    pytest.param(500, None, errors.InternalServerError, id="500"),
    pytest.param(502, None, errors.BadGatewayError, id="502"),
    pytest.param(504, None, errors.GatewayTimeoutError, id="504"),
    pytest.param(None, aiohttp.ServerDisconnectedError(), errors.APIConnectionError, id="disconnected"),
    pytest.param(None, TimeoutError(), errors.APITimeoutError, id="timeout"),
    pytest.param(None, aiohttp.ServerTimeoutError(), errors.APITimeoutError, id="read-timeout"),
]


@pytest.mark.parametrize(("status", "raised", "cls"), NOT_RETRIED_ON_CREATE)
async def test_create_not_retried_after_ambiguous_failure(
    session: aiohttp.ClientSession,
    mocked: aioresponses,
    status: int | None,
    raised: Exception | None,
    cls: type[errors.APIError],
) -> None:
    pipeline, limiter, sleeper = make_pipeline(session)
    mocked.post(CREATE, repeat=True, **failure(status, raised))
    with pytest.raises(errors.APIError) as info:
        # The pipeline alone: datasets.create reconciles by a look-up (tested in test_resources_datasets).
        await pipeline.request("POST", "/dataset/create", json={"name": "cars", "type": "IMAGE"})
    assert type(info.value) is cls
    assert calls(mocked, "POST", CREATE) == 1
    assert (limiter.acquired, sleeper.delays, limiter.pauses) == (1, [], [])


RETRIED_ON_CREATE = [
    pytest.param(429, None, id="429"),
    pytest.param(503, None, id="503"),
    pytest.param(None, connector_error(), id="refused"),
    pytest.param(None, aiohttp.ConnectionTimeoutError(), id="connect-timeout"),
]


@pytest.mark.parametrize(("status", "raised"), RETRIED_ON_CREATE)
async def test_create_retried_where_the_server_cannot_have_acted(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int | None, raised: Exception | None
) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    mocked.post(CREATE, **failure(status, raised))
    mocked.post(CREATE, payload=envelope(DATASET))
    ds = await Datasets(pipeline).create(name="cars", type="IMAGE")
    assert ds.id == 1
    assert calls(mocked, "POST", CREATE) == 2
    assert limiter.acquired == 2


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        pytest.param(500, None, id="500"),
        pytest.param(504, None, id="504"),
        pytest.param(None, aiohttp.ServerDisconnectedError(), id="disconnected"),
        pytest.param(None, TimeoutError(), id="timeout"),
    ],
)
async def test_idempotent_posts_are_retried(
    session: aiohttp.ClientSession, mocked: aioresponses, status: int | None, raised: Exception | None
) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    datasets = Datasets(pipeline)
    update = BASE_URL + "/dataset/update/1"
    delete = BASE_URL + "/dataset/delete/1"
    mocked.post(update, **failure(status, raised))
    mocked.post(update, payload=envelope(DATASET))
    mocked.post(delete, **failure(status, raised))
    mocked.post(delete, payload=envelope(None))
    assert (await datasets.update(1, name="cars")).name == "cars"
    assert await datasets.delete(1) is None
    assert (calls(mocked, "POST", update), calls(mocked, "POST", delete)) == (2, 2)
    assert limiter.acquired == 4


async def test_explicit_idempotent_flag_wins(session: aiohttp.ClientSession, mocked: aioresponses) -> None:
    pipeline, _, _ = make_pipeline(session)
    mocked.get(INFO, status=500)
    mocked.post(CREATE, status=500)
    mocked.post(CREATE, payload=envelope(None))
    with pytest.raises(errors.InternalServerError):
        await pipeline.request("GET", "/dataset/info/1", idempotent=False)
    assert await pipeline.request("POST", "/dataset/create", idempotent=True) is None


async def test_limiter_wait_propagates_quota_errors(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    """A limiter that refuses (QuotaExhaustedError) stops the call before anything is sent."""

    class Exhausted:
        async def acquire(self) -> float:
            raise errors.QuotaExhaustedError("spent", retry_after=10.0)

    pipeline, _, _ = make_pipeline(session, limiter=Exhausted())  # type: ignore[arg-type]
    with pytest.raises(errors.QuotaExhaustedError):
        await pipeline.request("GET", "/dataset/info/1")
    assert mocked.requests == {}


async def test_pipeline_exposes_its_limiter(session: aiohttp.ClientSession) -> None:
    pipeline, limiter, _ = make_pipeline(session)
    assert pipeline.limiter is limiter
    assert isinstance(pipeline, Pipeline)
