"""A saturated simulated day: BasicAI's limits admit exactly their counts, no more, no fewer.

A day of admissions is 864,000 tasks' worth; the limiter's synchronous core
(``_next_slot`` / ``_admit``, what ``acquire`` runs) is driven by a virtual clock
instead, always calling at the earliest moment it allows: saturating demand.
"""

from __future__ import annotations

from bisect import bisect_left

import pytest

from basicai_async.ratelimit import BASICAI_LIMITS, ExactLimiter, Limits, Window


def saturate(limiter: ExactLimiter, until: float) -> list[float]:
    """Admit at every earliest slot before ``until``; return the admission times."""
    times: list[float] = []
    now = 0.0
    while (now := max(now, limiter._next_slot())) < until:
        limiter._admit(now)
        times.append(now)
    return times


@pytest.fixture(scope="module")
def day() -> list[float]:
    return saturate(ExactLimiter(BASICAI_LIMITS), 86400.0 + 1.0)


@pytest.mark.parametrize(("seconds", "count"), [(1.0, 100), (60.0, 3000), (3600.0, 72000), (86400.0, 864000)])
def test_a_saturated_day_fills_each_first_window(day: list[float], seconds: float, count: int) -> None:
    assert bisect_left(day, seconds) == count


def test_a_saturated_day_never_overfills_any_window(day: list[float]) -> None:
    for window in BASICAI_LIMITS.windows:
        n, length = window.count, window.seconds + BASICAI_LIMITS.margin
        # Every run of n+1 consecutive admissions spans at least T + margin, so no
        # interval [t, t+T) holds n+1. Checked at a stride for speed; the property
        # tests check every admission on smaller limits.
        assert all(day[k + n] >= day[k] + length for k in range(0, len(day) - n, 97))


def test_the_day_after_opens_as_the_first_admissions_age_out(day: list[float]) -> None:
    assert day[864000] == pytest.approx(86400.05)
    assert len(day) > 864000


def test_the_stats_of_a_spent_day() -> None:
    # Inside an event loop stats() reads the loop's clock; here the clock is ours.
    limiter = ExactLimiter(Limits((Window(2, 1.0), Window(5, 100.0))), clock=lambda: 50.0)
    times = saturate(limiter, 50.0)
    assert times == [0.0, 0.0, 1.0, 1.0, 2.0]
    stats = limiter.stats()
    assert [w.remaining for w in stats.windows] == [2, 0]
    assert stats.next_slot_in == 50.0
    assert stats.admitted == 5
