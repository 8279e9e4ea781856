"""ExactLimiter and PacedLimiter, one behaviour at a time, on looptime's virtual loop clock."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basicai_async._errors import QuotaExhaustedError
from basicai_async.ratelimit import (
    BASICAI_LIMITS,
    ExactLimiter,
    Limiter,
    LimiterStats,
    Limits,
    PacedLimiter,
    Reservation,
    Window,
    WindowStats,
)

pytestmark = pytest.mark.looptime


def one(count: int, seconds: float, margin: float = 0.0) -> Limits:
    return Limits((Window(count, seconds),), margin=margin)


async def admit_all(limiter: Limiter, n: int) -> list[float]:
    """Start ``n`` callers at once; return their admission times in admission order."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def caller() -> None:
        await limiter.acquire()
        times.append(loop.time())

    await asyncio.gather(*(caller() for _ in range(n)))
    return times


# -- Limits and Window -------------------------------------------------------


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "3"])
def test_window_rejects_a_count_that_is_not_a_positive_int(count: Any) -> None:
    with pytest.raises(ValueError, match="count"):
        Window(count, 1.0)


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_window_rejects_a_length_that_is_not_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        Window(1, seconds)


def test_limits_need_a_window_and_a_non_negative_margin() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Limits(())
    with pytest.raises(ValueError, match="margin"):
        Limits((Window(1, 1.0),), margin=-0.01)


def test_basicai_limits_are_the_published_ones() -> None:
    assert [(w.count, w.seconds) for w in BASICAI_LIMITS.windows] == [
        (100, 1.0),
        (3000, 60.0),
        (72000, 3600.0),
        (864000, 86400.0),
    ]
    assert BASICAI_LIMITS.margin == 0.05


def test_limiter_options_are_validated() -> None:
    with pytest.raises(ValueError, match="max_wait"):
        ExactLimiter(max_wait=-1)
    with pytest.raises(ValueError, match="jitter"):
        ExactLimiter(jitter=-0.1)
    with pytest.raises(ValueError, match="rate"):
        PacedLimiter(ExactLimiter(), rate=0)
    with pytest.raises(ValueError, match="burst"):
        PacedLimiter(ExactLimiter(), rate=1, burst=0)


def test_both_limiters_satisfy_the_protocol() -> None:
    assert isinstance(ExactLimiter(), Limiter)
    assert isinstance(PacedLimiter(ExactLimiter(), rate=1.0), Limiter)


def test_default_state_fits_in_8_mib() -> None:
    limiter = ExactLimiter()
    for i in range(864_000):  # 10/s for a day: every window full at its end, none over
        limiter._admit(i * 0.1)
    ring = limiter._ring
    assert len(ring) == 864000
    assert sys.getsizeof(ring) <= 8 * 1024 * 1024
    limiter._admit(86_400.0)  # the next one wraps: the ring stops growing
    assert len(ring) == 864000


def test_a_huge_window_costs_memory_only_for_admissions_made() -> None:
    limiter = ExactLimiter(one(10**9, 1.0), max_wait=None)
    for i in range(3):
        limiter._admit(float(i))
    assert len(limiter._ring) == 3


# -- acquire -----------------------------------------------------------------


async def test_a_burst_goes_at_once_and_the_rest_paced_as_the_window_turns() -> None:
    limiter = ExactLimiter(one(3, 1.0), max_wait=None)
    times = await admit_all(limiter, 7)
    # Queued, they go one window rate apart (1/3 s): as fast as the window allows anyway.
    assert times == pytest.approx([0.0, 0.0, 0.0, 1.0, 4 / 3, 5 / 3, 2.0], abs=1e-5)
    unpaced = ExactLimiter(one(3, 1.0), max_wait=None, pace=False)
    times = await admit_all(unpaced, 7)  # from 2.0: all of them as the window turns
    assert times == pytest.approx([2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0], abs=1e-5)


async def test_pacing_costs_no_throughput_at_basicai_limits() -> None:
    limiter = ExactLimiter(max_wait=None)  # BasicAI's: queued waiters 4 per 42 ms
    times = await admit_all(limiter, 300)
    assert times[:100] == [0.0] * 100
    assert times[100:104] == pytest.approx([1.05] * 4)
    assert times[104] - times[100] == pytest.approx(0.042, abs=1e-5)
    # 300 within 3 turns of the 1 s window (+margin), as without pacing.
    assert times[-1] == pytest.approx(1.05 + 49 * 0.042, abs=1e-3)
    assert times[-1] < 3 * 1.05


async def test_margin_is_added_to_every_window() -> None:
    limiter = ExactLimiter(Limits((Window(2, 1.0), Window(3, 10.0)), margin=0.25), max_wait=None)
    times = await admit_all(limiter, 6)
    # 2 at 0; the 1 s window (+0.25) lets the 3rd go at 1.25; the 10 s window (+0.25)
    # then holds the 4th until 10.25, the 5th until the next slot of the pace (one per
    # 1.25 / 2 s, on a grid from 0: 10.625), and the 6th until 11.5 (= 1.25 + 10.25).
    assert times == [0.0, 0.0, 1.25, 10.25, 10.625, 11.5]


async def test_acquire_returns_the_seconds_waited() -> None:
    limiter = ExactLimiter(one(1, 2.0), max_wait=None)
    assert await limiter.acquire() == 0.0
    await asyncio.sleep(0.5)
    assert await limiter.acquire() == pytest.approx(1.5, abs=3e-6)


async def test_waiters_are_admitted_in_arrival_order() -> None:
    limiter = ExactLimiter(one(2, 1.0), max_wait=None)
    order: list[int] = []

    async def caller(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    tasks = []
    for i in range(9):
        tasks.append(asyncio.create_task(caller(i)))
        await asyncio.sleep(0.1)  # arrivals spread over the waits
    await asyncio.gather(*tasks)
    assert order == list(range(9))


async def test_a_cancelled_waiter_takes_no_slot_and_holds_nobody_up() -> None:
    limiter = ExactLimiter(one(1, 1.0), max_wait=None)
    loop = asyncio.get_running_loop()
    await limiter.acquire()  # the window is full until 1.0
    admitted: dict[str, float] = {}

    async def caller(name: str) -> None:
        await limiter.acquire()
        admitted[name] = loop.time()

    first = asyncio.create_task(caller("first"))
    second = asyncio.create_task(caller("second"))
    await asyncio.sleep(0.5)
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled()
    assert admitted == {"second": 1.0}
    assert limiter.stats().admitted == 2


class WakeHook(ExactLimiter):
    """An ExactLimiter that runs ``on_wake`` once, right after its timer woke a waiter.

    That is the one instant a waiter is woken but has not run yet: what happens to
    it there (a cancel, a 429) cannot be staged with sleeps.
    """

    __slots__ = ("on_wake",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_wake: Callable[[], object] = lambda: None

    def _on_timer(self) -> None:
        super()._on_timer()
        if self._waiters and self._waiters[0].done():
            on_wake, self.on_wake = self.on_wake, lambda: None  # once
            on_wake()


async def test_a_waiter_cancelled_after_its_wake_up_passes_the_slot_on() -> None:
    limiter = WakeHook(one(1, 1.0), max_wait=None)
    loop = asyncio.get_running_loop()
    await limiter.acquire()
    admitted: list[tuple[str, float]] = []

    async def caller(name: str) -> None:
        await limiter.acquire()
        admitted.append((name, loop.time()))

    first = asyncio.create_task(caller("first"))
    second = asyncio.create_task(caller("second"))
    limiter.on_wake = first.cancel  # cancelled in the instant it is woken, before it runs
    async with asyncio.timeout(10):  # virtual seconds: a lost wake-up fails, not hangs
        await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled()
    assert admitted == [("second", 1.0)]
    assert limiter.stats().admitted == 2


async def test_a_newcomer_never_takes_the_slot_of_a_woken_waiter() -> None:
    limiter = WakeHook(one(1, 1.0), max_wait=None)
    await limiter.acquire()
    jumped: list[str] = []

    def newcomer_arrives() -> None:  # in the instant the head is woken, before it runs
        try:
            limiter.try_acquire().send(None)  # try_acquire() never suspends
        except StopIteration as done:
            if done.value:
                jumped.append("try_acquire")
        coro = limiter.acquire()
        try:
            coro.send(None)  # runs acquire() up to its first suspension
        except StopIteration:
            jumped.append("acquire")  # returned at once: it took the head's slot
            return
        with pytest.raises(asyncio.CancelledError):  # it queued; now let it go
            coro.throw(asyncio.CancelledError())

    limiter.on_wake = newcomer_arrives
    assert await limiter.acquire() == 1.0
    assert jumped == []
    assert limiter.stats().admitted == 2


async def test_one_timer_however_many_waiters(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    armed: list[float] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Callable[..., object], *args: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__self__", None) is limiter:
            armed.append(when)
        return call_at(when, callback, *args)

    monkeypatch.setattr(loop, "call_at", counting_call_at)
    limiter = ExactLimiter(one(100, 1.0), max_wait=None)
    tasks = [asyncio.create_task(limiter.acquire()) for _ in range(1000)]
    await asyncio.sleep(0)
    live = [h for h in loop._scheduled if not h.cancelled() and h._callback == limiter._on_timer]  # type: ignore[attr-defined]
    assert len(live) == 1
    await asyncio.gather(*tasks)
    # One timer per paced group (900 queued, 4 a group), give or take a re-arm on a
    # tick boundary: no polling.
    assert 200 <= len(armed) <= 260
    assert limiter._timer is None


# -- reservations: counted from when the call left ----------------------------


async def send_after(limiter: ExactLimiter, lags: list[float]) -> list[float]:
    """Reserve one slot per lag at once; stamp each ``lag`` seconds after its admission.

    Returns the admission times, in admission order.
    """
    loop = asyncio.get_running_loop()
    admitted: list[float] = []

    async def caller(lag: float) -> None:
        slot = await limiter.reserve()
        admitted.append(loop.time())
        await asyncio.sleep(lag)  # the event loop's backlog between admission and send
        slot.sent()

    await asyncio.gather(*(caller(lag) for lag in lags))
    return admitted


async def test_a_burst_sent_late_is_counted_from_its_sends() -> None:
    limiter = ExactLimiter(one(3, 1.0, margin=0.05), max_wait=None)
    # Three admitted at 0 leave at 0.0, 0.5 and 0.9; the next three are admitted one
    # window (+margin) after each of those sends (later than their pace, 0.35 s apart).
    admitted = await send_after(limiter, [0.0, 0.5, 0.9, 0.0, 0.0, 0.0])
    assert admitted[:3] == [0.0, 0.0, 0.0]
    assert admitted[3:] == pytest.approx([1.05, 1.55, 1.95], abs=1e-5)


async def test_random_send_lags_never_put_more_than_n_sends_in_a_window() -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(18)
    limiter = ExactLimiter(Limits((Window(10, 1.0), Window(25, 5.0)), margin=0.05), max_wait=None)
    sends: list[float] = []

    async def caller() -> None:
        for _ in range(6):
            slot = await limiter.reserve()
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.001, 0.03, 0.2]))
            sends.append(loop.time())
            slot.sent()

    await asyncio.gather(*(caller() for _ in range(20)))
    sends.sort()
    for count, length in ((10, 1.05), (25, 5.05)):
        assert all(sends[k + count] - sends[k] >= length - 1e-9 for k in range(len(sends) - count))
    # And the quota stays usable: the 101st-120th go in the 5th turn of the 5 s window
    # (at 20.2), paced 0.105 s apart, plus what the lags add (no stall).
    assert sends[-1] < 4 * 5.05 + 25 * 0.105 + 1.0


async def test_acquire_counts_from_the_admission_as_before() -> None:
    limiter = ExactLimiter(one(3, 1.0, margin=0.05), max_wait=None)
    times = await admit_all(limiter, 6)
    assert times == pytest.approx([0.0, 0.0, 0.0, 1.05, 1.40, 1.75], abs=1e-5)


async def test_a_window_full_of_unsent_reservations_waits_for_their_stamps() -> None:
    loop = asyncio.get_running_loop()
    limiter = ExactLimiter(one(2, 1.0), max_wait=None)
    first, second = await limiter.reserve(), await limiter.reserve()
    assert (first.waited, first.pending) == (0.0, True)
    third = asyncio.create_task(limiter.reserve())
    await asyncio.sleep(5.0)  # unsent, they count as taking their places now, for as long
    assert not third.done()
    stats = limiter.stats()
    assert ([w.remaining for w in stats.windows], stats.waiting, stats.admitted) == ([0], 1, 2)
    assert stats.next_slot_in == 1.0  # the lower bound: were they sent right now
    first.sent()
    first.sent()  # once only
    assert not first.pending
    await asyncio.sleep(0.5)
    second.sent()  # at 5.5
    slot = await third
    assert loop.time() == pytest.approx(6.0)  # one window after the first stamp
    assert slot.waited == pytest.approx(6.0)
    slot.sent()
    assert limiter.stats().next_slot_in == pytest.approx(0.5)  # the stamp at 5.5 leaves at 6.5


async def test_reserve_nowait_takes_a_free_slot_as_reserve_does_or_says_none() -> None:
    limiter = ExactLimiter(one(2, 1.0), max_wait=None)
    first = limiter.reserve_nowait()
    assert first is not None
    assert (first.waited, first.pending) == (0.0, True)
    second = limiter.reserve_nowait()
    assert second is not None
    assert limiter.reserve_nowait() is None  # full of pending ones: the caller must await
    queued = asyncio.create_task(limiter.reserve())
    await asyncio.sleep(0)
    first.sent()
    second.sent()
    await asyncio.sleep(0.999)
    assert limiter.reserve_nowait() is None  # a window not yet free
    slot = await queued  # the queued caller goes first, as the window frees
    assert slot.waited == pytest.approx(1.0)
    after = limiter.reserve_nowait()  # then the window's second place, at once
    assert after is not None
    assert after.waited == 0.0
    assert limiter.reserve_nowait() is None
    stats = limiter.stats()
    assert (stats.admitted, stats.waiting) == (4, 0)


async def test_max_wait_counts_unsent_reservations_as_sent_now() -> None:
    limiter = ExactLimiter(one(1, 10.0), max_wait=5.0)
    await limiter.reserve()  # never sent in this test: the next slot is >= 10 s away
    with pytest.raises(QuotaExhaustedError) as refused:
        await limiter.reserve()
    assert refused.value.retry_after == 10.0


async def test_a_cancelled_reserve_takes_no_slot() -> None:
    limiter = ExactLimiter(one(1, 1.0), max_wait=None)
    held = await limiter.reserve()
    waiter = asyncio.create_task(limiter.reserve())
    await asyncio.sleep(0.5)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    held.sent()  # at 0.5
    assert limiter.stats().admitted == 1
    assert await limiter.acquire() == pytest.approx(1.0)  # from 0.5, one window after the stamp


async def test_paced_reserve_passes_the_inner_reservation_on() -> None:
    inner = ExactLimiter(one(2, 1.0), max_wait=None)
    paced = PacedLimiter(inner, rate=10.0)
    slots = [await paced.reserve() for _ in range(2)]
    assert [s.pending for s in slots] == [True, True]
    assert slots[1].waited == pytest.approx(0.1)
    assert [w.remaining for w in inner.stats().windows] == [0]
    for s in slots:
        s.sent()
    assert inner.stats().next_slot_in == pytest.approx(1.0)


# -- try_acquire -------------------------------------------------------------


async def test_try_acquire_takes_a_free_slot_and_never_waits() -> None:
    limiter = ExactLimiter(one(2, 1.0))
    assert await limiter.try_acquire()
    assert await limiter.try_acquire()
    assert not await limiter.try_acquire()
    assert limiter.stats().admitted == 2
    await asyncio.sleep(1.0)
    assert await limiter.try_acquire()


async def test_try_acquire_never_jumps_the_queue() -> None:
    limiter = ExactLimiter(one(1, 1.0), max_wait=None)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(1.5)  # the slot freed at 1.0, but ...
    assert waiter.done()
    await asyncio.sleep(1.0)
    # ... now a slot is free and a waiter queued behind the full window:
    await limiter.acquire()
    queued = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.stats().waiting == 1
    assert not await limiter.try_acquire()
    await queued


# -- max_wait ----------------------------------------------------------------


async def test_max_wait_refuses_at_once_with_retry_after() -> None:
    loop = asyncio.get_running_loop()
    limiter = ExactLimiter(one(2, 100.0), max_wait=30.0)
    await limiter.acquire()
    await limiter.acquire()
    await asyncio.sleep(10.0)
    with pytest.raises(QuotaExhaustedError) as caught:
        await limiter.acquire()
    assert loop.time() == 10.0  # at once, not after a sleep
    assert caught.value.retry_after == pytest.approx(90.0)
    assert limiter.stats().waiting == 0
    assert limiter.stats().admitted == 2


async def test_max_wait_counts_the_waiters_ahead() -> None:
    limiter = ExactLimiter(one(2, 10.0), max_wait=15.0)
    await admit_all(limiter, 2)
    ahead = [asyncio.create_task(limiter.acquire()) for _ in range(2)]  # go at 10 and 15 (paced)
    await asyncio.sleep(0)
    later = [asyncio.create_task(limiter.acquire()) for _ in range(2)]  # would go at 20 or later
    await asyncio.sleep(0)
    assert [t.done() for t in later] == [True, True]
    for task in later:
        assert isinstance(task.exception(), QuotaExhaustedError)
        retry_after = task.exception().retry_after  # type: ignore[union-attr]
        assert retry_after == pytest.approx(20.0)
    assert await asyncio.gather(*ahead) == [10.0, 15.0]


async def test_a_wait_within_max_wait_is_accepted() -> None:
    limiter = ExactLimiter(one(1, 5.0), max_wait=5.0)
    await limiter.acquire()
    assert await limiter.acquire() == 5.0


async def test_max_wait_none_waits_however_long() -> None:
    limiter = ExactLimiter(one(1, 86400.0), max_wait=None)
    await limiter.acquire()
    assert await limiter.acquire() == 86400.0


async def test_max_wait_sees_the_daily_quota_spent() -> None:
    limiter = ExactLimiter()  # BasicAI's limits, max_wait 300 s
    now = 0.0
    while limiter._next_slot() < 86400.0:  # drive the synchronous core through a day
        now = max(now, limiter._next_slot())
        limiter._admit(now)
    await asyncio.sleep(now + 1.0)
    with pytest.raises(QuotaExhaustedError) as caught:
        await limiter.acquire()
    assert 300.0 < caught.value.retry_after < 86400.0


# -- pause -------------------------------------------------------------------


async def test_pause_holds_every_waiter_and_shows_in_stats() -> None:
    limiter = ExactLimiter(one(10, 1.0), max_wait=None, jitter=0.0)
    await limiter.acquire()
    await limiter.pause(3.0)
    assert limiter.stats().paused_for == 3.0
    assert limiter.stats().next_slot_in == 3.0
    assert not await limiter.try_acquire()
    times = await admit_all(limiter, 3)
    assert times == pytest.approx([3.0, 3.1, 3.2], abs=1e-5)  # after a pause, paced: no stampede
    assert limiter.stats().paused_for == 0.0


async def test_pause_reaches_a_waiter_already_woken() -> None:
    limiter = WakeHook(one(1, 1.0), max_wait=None, jitter=0.0)
    await limiter.acquire()

    def pause_now() -> None:  # a 429 lands in the instant the waiter is woken
        with pytest.raises(StopIteration):
            limiter.pause(2.0).send(None)  # pause() never suspends: run it to completion here

    limiter.on_wake = pause_now
    assert await limiter.acquire() == 3.0
    assert limiter.stats().admitted == 2


async def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    limiter = ExactLimiter(one(1, 1.0), jitter=0.0)
    await limiter.pause(10.0)
    await limiter.pause(1.0)
    assert limiter.stats().paused_for == 10.0
    with pytest.raises(ValueError, match="pause"):
        await limiter.pause(-1.0)


async def test_pause_jitter_stays_within_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    monkeypatch.setattr(random, "random", rng.random)
    seen = []
    for _ in range(200):
        limiter = ExactLimiter(one(1, 1.0), jitter=0.2)
        await limiter.pause(5.0)
        seen.append(limiter.stats().paused_for)
    assert all(5.0 <= s <= 6.0 for s in seen)
    assert max(seen) - min(seen) > 0.5  # it does jitter


# -- stats -------------------------------------------------------------------


async def test_stats_show_remaining_next_slot_admitted_waiting_and_total_wait() -> None:
    limiter = ExactLimiter(Limits((Window(2, 1.0), Window(3, 10.0))), max_wait=None)
    fresh = limiter.stats()
    assert fresh == LimiterStats(
        windows=(WindowStats(2, 1.0, 2), WindowStats(3, 10.0, 3)),
        admitted=0,
        waiting=0,
        total_wait=0.0,
        next_slot_in=0.0,
        paused_for=0.0,
    )
    await admit_all(limiter, 2)
    stats = limiter.stats()
    assert [w.remaining for w in stats.windows] == [0, 1]
    assert stats.next_slot_in == 1.0
    waiters = [asyncio.create_task(limiter.acquire()) for _ in range(2)]
    await asyncio.sleep(0.25)
    assert limiter.stats().waiting == 2
    await asyncio.gather(*waiters)  # at 1.0 and at 10.0
    stats = limiter.stats()
    assert stats.admitted == 4
    assert stats.waiting == 0
    assert stats.total_wait == pytest.approx(1.0 + 10.0)
    # At 10.0: the 1 s window holds the admission at 10; the 10 s one those at 1 and 10
    # (the two at 0 are exactly 10 s old: out of [0.000001, 10.000001), so out).
    assert [w.remaining for w in stats.windows] == [1, 1]
    await asyncio.sleep(1.0)
    assert [w.remaining for w in limiter.stats().windows] == [2, 2]


async def test_a_custom_clock_drives_the_limiter() -> None:
    loop = asyncio.get_running_loop()
    offset = 1000.0
    limiter = ExactLimiter(one(1, 2.0), max_wait=None, clock=lambda: loop.time() + offset)
    await limiter.acquire()
    assert limiter._ring[0] == 1000.0
    assert await limiter.acquire() == pytest.approx(2.0, abs=3e-6)
    assert loop.time() == pytest.approx(2.0, abs=3e-6)


# -- pacing ------------------------------------------------------------------


async def test_pacing_spreads_a_burst_evenly_and_keeps_the_guarantee() -> None:
    inner = ExactLimiter(one(3, 1.0), max_wait=None, jitter=0.0)
    # A rate whose period is exact in binary: aiolimiter's bucket level must drain to
    # exactly 0, or its timer re-arms a femtosecond ahead forever on a virtual clock.
    paced = PacedLimiter(inner, rate=8.0)
    times = await admit_all(paced, 5)
    # The pacer alone would space them 0.125 s apart; the window still holds the 4th,
    # and the limiter's own pace (1/3 s for its queued waiters) the 5th.
    assert times == pytest.approx([0.0, 0.125, 0.25, 1.0, 4 / 3], abs=1e-5)
    assert paced.inner is inner
    assert paced.stats().admitted == 5
    await paced.pause(1.0)
    assert paced.stats().paused_for == pytest.approx(1.0)


async def test_paced_try_acquire_needs_both_pacer_and_limiter() -> None:
    paced = PacedLimiter(ExactLimiter(one(5, 1.0)), rate=2.0)
    assert await paced.try_acquire()
    assert not await paced.try_acquire()  # the pacer says wait 0.5 s
    await asyncio.sleep(0.5)
    assert await paced.try_acquire()
    assert paced.stats().admitted == 2


# One schedule step: advance the clock by ``dt`` quarter-seconds, then act: take a slot
# without waiting, or stamp the pending reservation at ``pick`` (modulo how many there are).
_STEP = st.tuples(st.integers(0, 6), st.sampled_from(["reserve", "send"]), st.integers(0, 50))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, max_size=80))
def test_reserve_nowait_and_sent_agree_with_counting_the_windows(steps: list[tuple[int, str, int]]) -> None:
    """Against a model that counts each window afresh: reserve_nowait admits exactly when every
    window holds fewer than N of its stamps and pending reservations, however sends interleave.

    Times are whole quarter-seconds, so the model's sums are exact floats.
    """
    windows = ((2, 1.0), (4, 3.0), (6, 6.0))
    limits = Limits(tuple(Window(n, t) for n, t in windows), margin=0.0)
    now = [0.0]
    limiter = ExactLimiter(limits, max_wait=None, clock=lambda: now[0], pace=False)
    stamps: list[float] = []
    pending: list[Reservation] = []
    for dt, action, pick in steps:
        now[0] += dt * 0.25
        if action == "send" and pending:
            pending.pop(pick % len(pending)).sent()
            stamps.append(now[0])
            continue
        room = all(
            sum(1 for s in stamps if s + length > now[0]) + len(pending) < count for count, length in windows
        )
        slot = limiter.reserve_nowait()
        assert (slot is not None) == room, (now[0], stamps, len(pending))
        if slot is not None:
            pending.append(slot)
