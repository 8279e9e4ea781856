"""Hypothesis-generated schedules against ExactLimiter's four promises.

Each example runs a schedule of arrivals (bursts of callers), cancellations,
non-blocking tries and server pauses on a fresh looptime loop, whose clock only
moves when every task is idle, then checks the recorded admissions:

- safety: for every window (N, T), admission k+N is at least T + margin after admission k,
  and nobody is admitted inside a pause;
- no waste: every waiter is admitted (within a clock tick) at the earliest time its
  arrival, the admissions before it, the windows, the pauses and (once it had to
  wait) the pace of queued waiters (at most g in g window rates) allow;
- fairness: waiters are admitted in arrival order, and a try never succeeds over a queue;
- cancellation: cancelled callers are never admitted and cost nobody anything
  (they appear in no one's earliest time, so any hold-up would break "no waste").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import looptime
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from basicai_async.ratelimit import BASICAI_LIMITS, ExactLimiter, LimiterStats, Limits, Window

# looptime moves its clock in whole microseconds and a timer due a hair after a
# tick fires one or two ticks later: the slack allowed on "earliest".
TICK_SLACK = 3e-6

Event = tuple[float, str, float]  # (sleep before, action, argument)


@dataclass
class Trace:
    """What happened: admissions in order, and what the checks need to judge them."""

    admissions: list[tuple[float, int]] = field(default_factory=list)  # (time, caller or -1 for a try)
    arrivals: dict[int, float] = field(default_factory=dict)  # caller -> time it called acquire
    arrival_order: list[int] = field(default_factory=list)
    cancelled: set[int] = field(default_factory=set)
    pauses: list[tuple[float, float]] = field(default_factory=list)  # (from, until)
    callers: int = 0
    stats: LimiterStats | None = None  # at the end, taken on the loop


def gaps(longest: float) -> st.SearchStrategy[float]:
    """Sleeps between events: often none (same instant), else short or long."""
    return st.one_of(
        st.just(0.0),
        st.sampled_from([0.001, 0.05, 0.25, 0.5, 1.0]),
        st.floats(0.0, longest, allow_nan=False),
    )


def events(longest_gap: float, biggest_burst: int, longest_pause: float) -> st.SearchStrategy[list[Event]]:
    event = st.one_of(
        st.tuples(gaps(longest_gap), st.just("arrive"), st.integers(1, biggest_burst).map(float)),
        st.tuples(gaps(longest_gap), st.just("cancel"), st.integers(0, 10_000).map(float)),
        st.tuples(gaps(longest_gap), st.just("try"), st.just(0.0)),
        st.tuples(gaps(longest_gap), st.just("pause"), st.floats(0.0, longest_pause, allow_nan=False)),
    )
    return st.lists(event, min_size=1, max_size=25)


@st.composite
def small_limits(draw: st.DrawFn) -> Limits:
    windows = draw(
        st.lists(
            st.builds(Window, st.integers(1, 6), st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 10.0])),
            min_size=1,
            max_size=3,
        )
    )
    return Limits(tuple(windows), margin=draw(st.sampled_from([0.0, 0.01, 0.05])))


async def drive(limiter: ExactLimiter, schedule: list[Event]) -> Trace:
    loop = asyncio.get_running_loop()
    trace = Trace()
    tasks: list[asyncio.Task[None]] = []

    async def caller(me: int) -> None:
        trace.arrivals[me] = loop.time()
        trace.arrival_order.append(me)
        try:
            await limiter.acquire()
        except asyncio.CancelledError:
            trace.cancelled.add(me)
            raise
        trace.admissions.append((loop.time(), me))

    for sleep, action, arg in schedule:
        if sleep:
            await asyncio.sleep(sleep)
        if action == "arrive":
            for _ in range(int(arg)):
                tasks.append(asyncio.create_task(caller(trace.callers)))
                trace.callers += 1
        elif action == "cancel" and tasks:
            tasks[int(arg) % len(tasks)].cancel()
        elif action == "try":
            queued = limiter.stats().waiting
            if await limiter.try_acquire():
                assert not queued, "try_acquire jumped the queue"
                trace.admissions.append((loop.time(), -1))
        elif action == "pause":
            await limiter.pause(arg)
            trace.pauses.append((loop.time(), loop.time() + arg))
    await asyncio.gather(*tasks, return_exceptions=True)
    # A caller cancelled before it ever ran never called acquire: it counts as cancelled too.
    trace.cancelled.update(me for me, task in enumerate(tasks) if task.cancelled())
    trace.stats = limiter.stats()
    return trace


def run(limits: Limits, schedule: list[Event]) -> tuple[ExactLimiter, Trace]:
    limiter = ExactLimiter(limits, max_wait=None, jitter=0.0)
    # A waiter nobody will ever wake leaves the loop with nothing scheduled: fail in 1 s
    # (real time) with IdleTimeoutError instead of hanging.
    loop = looptime.new_event_loop(start=0.0, idle_timeout=1.0)
    try:
        trace = loop.run_until_complete(drive(limiter, schedule))
    finally:
        loop.close()
    return limiter, trace


def check(limits: Limits, limiter: ExactLimiter, trace: Trace) -> None:
    times = [t for t, _ in trace.admissions]
    spans = [(w.count, w.seconds + limits.margin) for w in limits.windows]
    spacing = min(length / count for count, length in spans)
    group = max(1, int(0.05 / spacing))  # queued waiters: at most `group` in group * spacing

    # Safety.
    assert times == sorted(times)
    for count, length in spans:
        for k in range(len(times) - count):
            assert times[k + count] >= times[k] + length, f"{count + 1} admissions within {length}s"
    for start, until in trace.pauses:
        assert not any(start < t < until for t in times), "admitted during a pause"

    # Cancellation: every caller is either admitted or cancelled, never both; the books agree.
    admitted = [who for _, who in trace.admissions if who >= 0]
    assert set(admitted).isdisjoint(trace.cancelled)
    assert len(admitted) + len(trace.cancelled) == trace.callers
    stats = trace.stats
    assert stats is not None
    assert stats.admitted == len(times)
    assert stats.waiting == 0
    assert limiter._timer is None

    # Fairness: admitted in the order they called acquire.
    rank = {who: i for i, who in enumerate(trace.arrival_order)}
    assert [rank[who] for who in admitted] == sorted(rank[who] for who in admitted)

    # No waste.
    for k, (t, who) in enumerate(trace.admissions):
        if who < 0:
            continue  # a try is never delayed: it either went at once or not at all
        earliest = trace.arrivals[who]
        if k:
            earliest = max(earliest, times[k - 1])
            if t > trace.arrivals[who] + TICK_SLACK and k >= group:
                earliest = max(earliest, times[k - group] + group * spacing)  # it queued: paced
        for count, length in spans:
            if k >= count:
                earliest = max(earliest, times[k - count] + length)
        moved = True
        while moved:  # out of every pause in force at that time
            moved = False
            for start, until in trace.pauses:
                # A pause taken at the very instant a waiter's slot comes due may run
                # first (same loop tick; `earliest` is a float sum a hair below it).
                if start - TICK_SLACK <= earliest < until:
                    earliest, moved = until, True
        assert t <= earliest + TICK_SLACK, f"caller {who} admitted at {t}, could have gone at {earliest}"


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=small_limits(), schedule=events(longest_gap=4.0, biggest_burst=12, longest_pause=3.0))
def test_small_limits_keep_all_four_promises(limits: Limits, schedule: list[Event]) -> None:
    limiter, trace = run(limits, schedule)
    check(limits, limiter, trace)


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=events(longest_gap=30.0, biggest_burst=1600, longest_pause=5.0))
@example(  # the minute window: 3000 go within 29.4 s, the rest wait for 60.05
    schedule=[(0.0, "arrive", 3500.0), (0.5, "cancel", 3.0), (20.0, "pause", 2.0), (0.0, "try", 0.0)]
)
def test_basicai_limits_keep_all_four_promises(schedule: list[Event]) -> None:
    limiter, trace = run(BASICAI_LIMITS, schedule)
    check(BASICAI_LIMITS, limiter, trace)


def test_the_checks_catch_a_limiter_that_breaks_its_promises() -> None:
    """The checker is not vacuous: a limiter that ignores the windows fails it."""

    class Leaky(ExactLimiter):
        __slots__ = ()

        def _admit(self, now: float) -> None:
            super()._admit(now)
            self._next_at = self._pause_until  # forget the windows

    limits = Limits((Window(2, 1.0),))
    schedule: list[Event] = [(0.0, "arrive", 5.0)]
    limiter = Leaky(limits, max_wait=None)
    loop = looptime.new_event_loop(start=0.0)
    try:
        trace = loop.run_until_complete(drive(limiter, schedule))
    finally:
        loop.close()
    with pytest.raises(AssertionError, match="admissions within"):
        check(limits, limiter, trace)
