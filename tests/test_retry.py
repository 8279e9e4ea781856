"""RetryPolicy: the delays and decisions both retry loops (API calls, storage PUTs) take from it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from _fakes import SleepRecorder
from hypothesis import given
from hypothesis import strategies as st

from basicai_async import RetryPolicy
from basicai_async._retry import parse_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("2.5", 2.5),
        ("-4", 0.0),
        ("next tuesday", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_naive_future_date_is_utc() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=100)
    parsed = parse_retry_after(when.strftime("%a, %d %b %Y %H:%M:%S"))
    assert parsed is not None
    assert 98.5 < parsed <= 100.0


@given(retry=st.integers(min_value=1, max_value=40), rand=st.floats(min_value=0.0, max_value=1.0))
def test_backoff_bounds(retry: int, rand: float) -> None:
    full = min(8.0, 0.5 * 2 ** (retry - 1))
    delay = RetryPolicy().backoff(retry, rand)
    assert full * 0.75 <= delay <= full <= 8.0


def test_retry_policy_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="max_retries must be >= 0"):
        RetryPolicy(max_retries=-1)


async def test_wait_sleeps_the_backoff_until_the_retries_are_used_up() -> None:
    sleeper = SleepRecorder()
    policy = RetryPolicy(max_retries=2, sleep=sleeper, random=lambda: 0.0)
    assert [await policy.wait(retry) for retry in (1, 2, 3)] == [True, True, False]
    assert sleeper.delays == [0.5, 1.0]


async def test_retry_after_replaces_the_backoff_up_to_the_cap() -> None:
    sleeper = SleepRecorder()
    policy = RetryPolicy(max_retry_after=10.0, sleep=sleeper)
    assert await policy.wait(1, retry_after=10.0)
    assert not await policy.wait(2, retry_after=10.5)
    assert sleeper.delays == [10.0]
    assert policy.delay(4, retry_after=1.0) is None  # beyond max_retries, whatever the server says


async def test_wait_can_pause_something_else_than_sleep() -> None:
    sleeper, paused = SleepRecorder(), SleepRecorder()
    policy = RetryPolicy(sleep=sleeper)
    assert await policy.wait(1, retry_after=2.0, pause=paused)
    assert (sleeper.delays, paused.delays) == ([], [2.0])
