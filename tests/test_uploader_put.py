"""The storage PUT's retries against a mocked store: S3's ``Retry-After`` on ``503 SlowDown``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from _fakes import FakeLimiter, SleepRecorder
from aioresponses import aioresponses

from basicai_async import AsyncBasicAI, RetryPolicy, UploadSource
from basicai_async.models import DataItem, NewData, PresignedUpload, PresignRequest
from basicai_async.resources import Data, Storage

STORE_URL = "https://store.example.test/bucket/data/a.png"
SIGNED = STORE_URL + "?X-Amz-Signature=SECRETSIG"
SLOW_DOWN = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"


@pytest.fixture(autouse=True)
def no_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-sign to the mocked store and register without a call: only the PUT is under test."""

    async def presign(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        return [PresignedUpload(pre_signed_url=SIGNED, path="data/a.png", filename=f.filename) for f in files]

    async def add_many(self: Data, dataset_id: int, items: Sequence[NewData]) -> list[DataItem]:
        return [DataItem(id=7, name=item.name) for item in items]

    monkeypatch.setattr(Storage, "presign_uploads", presign)
    monkeypatch.setattr(Data, "add_many", add_many)


async def _upload(sleeper: SleepRecorder, max_retry_after: float = 60.0) -> tuple[bool, str | None]:
    retry = RetryPolicy(sleep=sleeper, max_retry_after=max_retry_after)
    async with AsyncBasicAI("k", base_url="http://api.test/api/v1", limiter=FakeLimiter(), retry=retry) as c:
        report = await c.uploader().upload(1, [UploadSource.from_bytes("a.png", b"png")])
    (result,) = report.results
    return result.ok, result.error


async def test_slow_down_is_retried_after_the_stores_retry_after(mocked: aioresponses) -> None:
    mocked.put(SIGNED, status=503, body=SLOW_DOWN, headers={"Retry-After": "7"})
    mocked.put(SIGNED, status=200)
    sleeper = SleepRecorder()
    assert await _upload(sleeper) == (True, None)
    assert sleeper.delays == [7.0]


async def test_a_retry_after_beyond_the_cap_fails_the_put_at_once(mocked: aioresponses) -> None:
    mocked.put(SIGNED, status=503, body=SLOW_DOWN, headers={"Retry-After": "600"})
    sleeper = SleepRecorder()
    ok, error = await _upload(sleeper, max_retry_after=60.0)
    assert not ok
    assert (error or "").startswith("storage answered HTTP 503: <Error><Code>SlowDown")
    assert "SECRETSIG" not in (error or "")
    assert sleeper.delays == []


async def test_a_5xx_without_retry_after_backs_off(mocked: aioresponses) -> None:
    mocked.put(SIGNED, status=500, body="oops")
    mocked.put(SIGNED, status=500, body="oops")
    mocked.put(SIGNED, status=200)
    sleeper = SleepRecorder()
    assert (await _upload(sleeper))[0]
    assert len(sleeper.delays) == 2
    assert 0.375 <= sleeper.delays[0] <= 0.5
    assert 0.75 <= sleeper.delays[1] <= 1.0
