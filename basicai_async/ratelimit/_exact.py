"""The exact in-process limiter: a ring of recent send times, one timer, a FIFO queue.

Why not stacked token buckets (``aiolimiter.AsyncLimiter`` per window)? A token
bucket of capacity N refilled at N/T per second starts full and refills while
it drains, so one half-open window ``[t, t+T)`` can see the N stored tokens plus
the ~N that dripped in: up to 2N admissions (measured: ``AsyncLimiter(100, 1)``
admits 199 in one second). Stacking one bucket per window keeps that flaw in
every window, and a task cancelled while waiting on an inner bucket has already
spent the outer buckets' tokens. A bucket describes an average rate; the BasicAI
contract is a count per sliding window, which only a record of the admissions
themselves can honour.

So the record is kept: the last ``max(N)`` stamps in a ring (``array('d')``;
864,000 doubles = 6.9 MB for BasicAI's daily window). A stamp is the time a call
*left*: the server counts arrivals, and a call admitted in a burst may leave
tens of milliseconds later, behind the event loop's other work. ``reserve``
admits a call as *pending*: until its ``Reservation.sent()`` stamps it, it counts
as taking a place now, in every window. (``acquire`` stamps at admission, as a
caller that does not say when it sent must be counted.) A call may go at time
``now`` when, for every window ``(N, T)`` with P calls pending, the (N-P)-th most
recent stamp is at least ``T + margin`` old. Why that is exact for the sends: if
N+1 stamps fell in some interval of length ``T + margin``, take the one admitted
last; at its admission each of the other N was either pending or stamped inside
that interval, so less than ``T + margin`` old: counted, and it was refused.
Stamps are written in time order, so the ring stays sorted whatever order the
calls leave in. One ring serves all windows because they count the same calls.
The earliest such ``now`` (``_next_at``) is recomputed in O(len(windows)) after
each admission and each stamp, so the uncontended path is a comparison and an
array write.

Queued waiters are paced (``Pace``: at most 4 admissions per 42 ms at BasicAI's
limits, the fastest window's rate in small groups). So once the limiter is
saturated a freed window's calls are sent evenly, as they are admitted, instead
of a hundred at once that the event loop, and then the server, can only work
through one after another (the server counts them when it gets to them: a burst
that queues at the server arrives, as it counts, later than it left). Pacing
costs no throughput; callers arriving at an idle limiter still go at once, up to
each window's limit. One timer per group, not per call.

Waiters queue in arrival order. Only the head is ever woken (by one
``loop.call_at`` timer, re-armed rather than stacked); it admits *itself* when it
resumes, so nothing is charged while it waits and a waiter cancelled after being
woken never took a slot: it hands the wake-up to the next in line, as
``asyncio.Lock`` does.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from array import array
from collections import deque
from collections.abc import Callable

from .._errors import QuotaExhaustedError
from ._base import BASICAI_LIMITS, LimiterStats, Limits, Pace, Reservation, WindowStats

__all__ = ["ExactLimiter"]

_NEVER = -math.inf
_UNTIL_STAMPED = math.inf  # _next_at while a window is full of pending reservations
_MIN_DELAY = 1e-6  # the shortest timer armed; see _wake_head


class ExactLimiter:
    """Admit calls as fast as ``limits`` allow and never faster, first come first served.

    For every window ``(N, T)`` no interval ``[t, t+T)`` of the limiter's clock
    holds more than N calls (``T + limits.margin`` is enforced), each counted
    from the later of its admission and its send (``reserve``; ``acquire``
    counts from admission). A waiter is
    admitted as soon as every window has room and its pace allows (one window
    rate after the admission before it, see the module docstring), in arrival
    order; cancelling it costs no quota. One limiter belongs to one event loop.

    Args:
        limits: the windows to enforce (BasicAI's published limits by default).
        max_wait: ``acquire`` raises ``QuotaExhaustedError`` at once, instead of
            queueing, when its earliest possible admission (given the waiters
            ahead of it) is more than this many seconds away. ``None``: always wait.
        clock: seconds, monotonic; defaults to the running loop's ``time()`` so
            that a test loop's virtual clock drives the limiter.
        jitter: a server pause of ``s`` seconds lasts a random ``s`` to
            ``s * (1 + jitter)``, so that clients sharing a key do not all come
            back at the same instant.
        pace: space queued waiters one window rate apart (the default). False:
            a freed window's waiters all go in the same instant, as the windows
            allow (the limiter before it paced; benchmarks compare with it).

    Example::

        limiter = ExactLimiter(Limits((Window(10, 1.0),)), max_wait=60)
        waited = await limiter.acquire()
    """

    __slots__ = (
        "_admitted",
        "_clock",
        "_jitter",
        "_limits",
        "_max_wait",
        "_next_at",
        "_pace",
        "_pause_until",
        "_pending",
        "_pos",
        "_queued",
        "_ring",
        "_size",
        "_stamps",
        "_timer",
        "_total_wait",
        "_waiters",
        "_windows",
    )

    def __init__(
        self,
        limits: Limits = BASICAI_LIMITS,
        *,
        max_wait: float | None = 300.0,
        clock: Callable[[], float] | None = None,
        jitter: float = 0.1,
        pace: bool = True,
    ) -> None:
        if max_wait is not None and not max_wait >= 0:
            raise ValueError(f"max_wait must be >= 0 seconds or None, got {max_wait!r}")
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {jitter!r}")
        self._limits = limits
        self._max_wait = max_wait
        self._clock = clock
        self._jitter = jitter
        # (N, T + margin), computed once: the admission check adds nothing else.
        self._windows = tuple((w.count, w.seconds + limits.margin) for w in limits.windows)
        self._size = max(w.count for w in limits.windows)
        self._pace = Pace(limits, enabled=pace)
        # The ring grows as stamps come (amortised O(1) appends) and wraps once it
        # holds max(N): a limiter sized for a huge window costs memory only for
        # the calls it actually made. A ring slot k back is consulted only once
        # ``_stamps >= k``, i.e. once it has been written.
        self._ring = array("d")
        self._pos = 0  # where the next stamp is written; pos-1 is the most recent
        self._stamps = 0
        self._pending = 0  # reservations admitted and not stamped yet
        self._admitted = 0
        self._next_at = _NEVER  # earliest clock time the next admission may happen
        self._pause_until = _NEVER
        # Futures of queued waiters, head first. Cancelled ones stay until they
        # reach the head (dropping them from the middle would be O(n)); ``_queued``
        # counts the live ones.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._queued = 0
        self._timer: asyncio.TimerHandle | None = None
        self._total_wait = 0.0

    @property
    def limits(self) -> Limits:
        """The windows this limiter enforces."""
        return self._limits

    @property
    def max_wait(self) -> float | None:
        """The longest wait ``acquire`` accepts before raising ``QuotaExhaustedError``."""
        return self._max_wait

    # -- the Limiter protocol -------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a slot in every window and take it; return the seconds waited.

        Raises ``QuotaExhaustedError`` (with ``retry_after``) at once if the
        earliest admission is more than ``max_wait`` seconds away.
        """
        clock = self._clock
        now = asyncio.get_running_loop().time() if clock is None else clock()
        # The fast path: nobody queued and every window has room. No future, no timer.
        if not self._queued and now >= self._next_at:
            self._admit(now)
            return 0.0
        return await self._wait(now, stamped=True)

    def reserve_nowait(self) -> Reservation | None:
        """``reserve()`` when a slot is free now and nobody is queued (no coroutine); else None.

        The pipeline's fast path: a call that would not wait takes its slot without the
        cost of creating and awaiting a coroutine.
        """
        clock = self._clock
        now = asyncio.get_running_loop().time() if clock is None else clock()
        if not self._queued and now >= self._next_at:
            self._hold(now)
            return Reservation(0.0, self._stamp)
        return None

    async def reserve(self) -> Reservation:
        """Wait for a slot as ``acquire`` does, and hold it until ``Reservation.sent()`` stamps it.

        Until stamped, the slot counts as taken *now* in every window; from the
        stamp on, from the stamp's time. Every reservation must be stamped once
        its attempt is over (sent or not), else it holds its slot for good.
        """
        slot = self.reserve_nowait()
        if slot is not None:
            return slot
        return Reservation(await self._wait(self._now(), stamped=False), self._stamp)

    async def try_acquire(self) -> bool:
        """Take a slot if one is free now and nobody is queued; never wait."""
        if self._queued:
            return False  # a newcomer never jumps the queue
        now = self._now()
        if now < self._next_at:
            return False
        self._admit(now)
        return True

    async def pause(self, seconds: float) -> None:
        """Admit nobody for ``seconds`` plus jitter (the server answered 429 with Retry-After).

        A pause never shortens one already in force.
        """
        if not seconds >= 0:
            raise ValueError(f"pause seconds must be >= 0, got {seconds!r}")
        until = self._now() + seconds * (1.0 + self._jitter * random.random())
        if until > self._pause_until:
            self._pause_until = until
            if until > self._next_at:
                self._next_at = until
            if self._queued:
                self._wake_head()  # re-arm the timer for the later time

    def stats(self) -> LimiterStats:
        """A snapshot: remaining per window, next slot, admissions, waiters, waits, pause.

        While a window is full of pending reservations the next slot cannot be
        known before they are sent; ``next_slot_in`` is then its lower bound
        (the pending ones leaving now).
        """
        now = self._now()
        next_at = self._next_at if self._next_at != _UNTIL_STAMPED else self._earliest(1, now)
        return LimiterStats(
            windows=tuple(
                WindowStats(w.count, w.seconds, w.count - self._in_window(count, length, now))
                for w, (count, length) in zip(self._limits.windows, self._windows, strict=True)
            ),
            admitted=self._admitted,
            waiting=self._queued,
            total_wait=self._total_wait,
            next_slot_in=max(0.0, next_at - now),
            paused_for=max(0.0, self._pause_until - now),
        )

    # -- the synchronous core: no event loop needed ---------------------------

    def _next_slot(self) -> float:
        """The earliest clock time at which the next admission may happen."""
        return self._next_at

    def _admit(self, now: float) -> None:
        """Record an admission stamped at ``now`` (which must be >= ``_next_slot()``)."""
        self._admitted += 1
        self._pace.admitted(now)
        self._record(now)
        self._update()

    def _hold(self, now: float) -> None:
        """Record an admission at ``now`` whose stamp comes later (``_stamp``): pending until then."""
        self._admitted += 1
        self._pace.admitted(now)
        self._pending += 1
        self._update()

    def _queued_at(self) -> float:
        """The earliest time the head of the queue may go: room in every window, and its pace."""
        paced = self._pace.next_at()
        return paced if paced > self._next_at else self._next_at

    def _stamp(self) -> None:
        """A pending reservation's request left now: count it from now."""
        self._pending -= 1
        self._record(self._now())
        # Each window's edge stays where it was: with one pending fewer and one stamp more,
        # the k-th most recent stamp that `_update` reads is the same stamp. Only a window
        # that was full of pending ones (no edge to read) must be looked at again.
        if self._next_at == _UNTIL_STAMPED:
            self._update()
        if self._queued:
            self._wake_head()  # a window full of pending ones may have room now

    def _record(self, now: float) -> None:
        """Write the stamp ``now`` (never earlier than the stamps before it) into the ring.

        ``_next_at`` is the caller's to recompute (``_update``) where the stamp moved it.
        """
        ring = self._ring
        pos = self._pos
        if self._stamps < self._size:
            ring.append(now)  # still filling: pos == len(ring) until it wraps
        else:
            ring[pos] = now
        pos += 1
        if pos == self._size:
            pos = 0
        self._pos = pos
        self._stamps += 1

    def _update(self) -> None:
        """Recompute ``_next_at`` from the stamps, the pending reservations and the pause."""
        ring = self._ring
        pos = self._pos
        stamps = self._stamps
        pending = self._pending
        next_at = self._pause_until
        for count, length in self._windows:
            # With P pending (counted as now), the window has room once its
            # (count-P)-th most recent stamp is `length` old. ring[pos - k] is the
            # k-th most recent stamp; a negative index wraps around the ring,
            # which is exactly what a ring wants.
            k = count - pending
            if k <= 0:
                next_at = _UNTIL_STAMPED  # full of pending ones: a stamp recomputes
                break
            if stamps >= k and ring[pos - k] + length > next_at:
                next_at = ring[pos - k] + length
        self._next_at = next_at

    def _earliest(self, nth: int, now: float) -> float:
        """A lower bound of the clock time of the ``nth`` admission from now on.

        Window (N, T) spaces admission k at least T after admission k-N; following
        that chain back from the nth to an admission already made gives the bound.
        It is exact with one window and never later than the truth with several,
        so ``max_wait`` never refuses a call that could have gone in time.
        Pending reservations count as the most recent calls, stamped now (they
        can only be stamped later: a lower bound still).
        """
        start = max(now, self._pause_until)
        earliest = start
        ring = self._ring
        pos = self._pos
        pending = self._pending
        for count, length in self._windows:
            periods, offset = divmod(nth - 1, count)
            first = start  # the bound of the (offset+1)-th admission from now
            back = count - offset  # ... which follows the back-th most recent call
            if back <= pending:
                first = max(first, now + length)
            elif self._stamps >= back - pending and ring[pos - back + pending] + length > first:
                first = ring[pos - back + pending] + length
            earliest = max(earliest, first + periods * length)
        return earliest

    def _in_window(self, count: int, length: float, now: float) -> int:
        """The pending reservations plus the stamps (of the last ``count``) less than ``length`` old."""
        ring = self._ring
        pos = self._pos
        pending = min(self._pending, count)
        lo, hi = 0, min(count - pending, self._stamps)
        while lo < hi:  # stamps only grow, so bisect on the k-th most recent
            mid = (lo + hi + 1) // 2
            if ring[pos - mid] + length > now:
                lo = mid
            else:
                hi = mid - 1
        return pending + lo

    # -- waiting -------------------------------------------------------------

    def _now(self) -> float:
        clock = self._clock
        if clock is not None:
            return clock()
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            # stats() from outside the loop: the loop's clock is time.monotonic() (on
            # a virtual-clock test loop, call stats() on the loop instead).
            return time.monotonic()

    async def _wait(self, start: float, *, stamped: bool) -> float:
        if self._max_wait is not None:
            earliest = self._earliest(self._queued + 1, start)
            if earliest - start > self._max_wait:
                raise QuotaExhaustedError(
                    f"rate limit: the next slot is {earliest - start:.3f}s away,"
                    f" more than max_wait={self._max_wait}s",
                    retry_after=earliest - start,
                )
        loop = asyncio.get_running_loop()
        waiters = self._waiters
        fut: asyncio.Future[None] = loop.create_future()
        waiters.append(fut)
        self._queued += 1
        if self._queued == 1:
            self._wake_head()  # we are the head: arm the timer
        try:
            while True:
                await fut
                now = self._now()
                if now >= self._queued_at():
                    break
                # A pause arrived between our wake-up and now: wait again, still first.
                fut = loop.create_future()
                waiters[0] = fut
                self._wake_head()
        except BaseException:
            fut.cancel()  # a no-op if we were woken; then the wake-up passes on below
            self._queued -= 1
            if waiters and waiters[0] is fut:
                waiters.popleft()
                self._wake_head()
            elif not self._queued:
                waiters.clear()  # only cancelled futures are left
                self._cancel_timer()
            raise
        waiters.popleft()  # only the head is ever woken, so it is us
        self._queued -= 1
        if stamped:
            self._admit(now)
        else:
            self._hold(now)
        waited = now - start
        self._total_wait += waited
        if self._queued:
            # Wake the next one now if there is room; it runs after us (call_soon
            # order), so admissions stay in arrival order.
            self._wake_head()
        return waited

    def _wake_head(self) -> None:
        """Wake the first live waiter if a slot is free, else arm the one timer for it."""
        waiters = self._waiters
        while waiters:
            head = waiters[0]
            if not head.done():
                break
            if not head.cancelled():
                return  # woken already, on its way to admit itself
            waiters.popleft()
        else:
            self._cancel_timer()
            return
        now = self._now()
        at = self._queued_at()
        if now >= at:
            self._cancel_timer()
            head.set_result(None)
            return
        if at == _UNTIL_STAMPED:
            self._cancel_timer()  # the next stamp wakes the head
            return
        loop = asyncio.get_running_loop()
        # The timer runs on the loop's clock; translate when the limiter has its own.
        # asyncio runs a handle up to the clock's resolution early, so a slot a hair
        # away is armed a microsecond out instead: a handle due "now" would fire,
        # find the slot still a femtosecond off and re-arm, forever, on a loop whose
        # time only moves when it sleeps (a virtual clock).
        delay = at - now
        exact = self._clock is None and delay >= _MIN_DELAY
        when = at if exact else loop.time() + max(delay, _MIN_DELAY)
        timer = self._timer
        if timer is not None:
            if timer.when() == when:
                return
            timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._wake_head()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def __repr__(self) -> str:
        return (
            f"<ExactLimiter windows={self._windows!r} margin={self._limits.margin}"
            f" admitted={self._admitted} waiting={self._queued}>"
        )
