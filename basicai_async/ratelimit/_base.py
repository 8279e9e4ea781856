"""What every limiter is: the ``Limits`` it enforces and the ``Limiter`` protocol.

The request pipeline takes one slot before every HTTP attempt to the API
(retries and pre-sign calls included; object-storage PUTs are not API calls and
never pass through here): ``await limiter.reserve()`` when the limiter has it
(``ReservingLimiter``; the SDK's limiters do), stamping the ``Reservation`` as the
request leaves, else ``await limiter.acquire()``. It calls
``await limiter.pause(s)`` when the server answers 429 with a ``Retry-After`` of
``s`` seconds.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .._constants import RATE_WINDOWS

__all__ = [
    "BASICAI_LIMITS",
    "Limiter",
    "LimiterStats",
    "Limits",
    "Pace",
    "Reservation",
    "ReservingLimiter",
    "Window",
    "WindowStats",
]


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` admissions in any half-open interval of ``seconds`` seconds."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise ValueError(f"Window count must be a positive int, got {self.count!r}")
        if not self.seconds > 0:
            raise ValueError(f"Window seconds must be > 0, got {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class Limits:
    """The set of windows one API key is held to.

    ``margin`` seconds are added to every window's length when admitting, so that
    the way from this process to the server (network delay, a request that left
    early but arrived late) cannot push a burst into the server's previous
    window. The BasicAI default is 0.05 s: a call that took a 50 ms detour after
    it left still lands in a window the limiter already counted. (The time a
    call spends in this process between its admission and its send is not the
    margin's business: the SDK's pipeline counts a call from when it leaves,
    see ``Reservation``.)

    Example::

        Limits((Window(100, 1), Window(3000, 60)), margin=0.05)
    """

    windows: tuple[Window, ...]
    margin: float = 0.0

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("Limits need at least one Window")
        if self.margin < 0:
            raise ValueError(f"Limits margin must be >= 0 seconds, got {self.margin!r}")

    @classmethod
    def basicai(cls, margin: float = 0.05) -> Limits:
        """BasicAI's published per-key limits: 100/s, 3000/min, 72000/h, 864000/day."""
        return cls(tuple(Window(limit, seconds) for limit, seconds in RATE_WINDOWS), margin=margin)


BASICAI_LIMITS = Limits.basicai()
"""The default limits of every ``AsyncBasicAI`` client."""


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One window's state: its limit and how many admissions it can still take now."""

    count: int
    seconds: float
    remaining: int


@dataclass(frozen=True, slots=True)
class LimiterStats:
    """A snapshot of a limiter.

    ``next_slot_in`` is how many seconds until the next admission could happen
    (0 when one could happen now); ``paused_for`` how long a server-requested
    pause (429) still lasts; ``total_wait`` is the sum of all waits so far.
    """

    windows: tuple[WindowStats, ...]
    admitted: int
    waiting: int
    total_wait: float
    next_slot_in: float
    paused_for: float


@runtime_checkable
class Limiter(Protocol):
    """What the request pipeline needs from a rate limiter."""

    async def acquire(self) -> float:
        """Wait for a slot and take it; return the seconds waited.

        Raises ``QuotaExhaustedError`` at once if the next slot is further away
        than the limiter's ``max_wait``. A task cancelled while waiting takes no slot.
        """
        ...

    async def try_acquire(self) -> bool:
        """Take a slot if one is free right now (and nobody is queued); never wait."""
        ...

    async def pause(self, seconds: float) -> None:
        """Admit nobody for ``seconds`` (the server said 429 with Retry-After)."""
        ...

    def stats(self) -> LimiterStats:
        """A snapshot of the limiter's state."""
        ...


class Reservation:
    """A slot a limiter admitted, counted in every window from when its request leaves.

    From admission until ``sent()`` the slot counts as taking a place *now* in
    every window (so nothing admitted later can overtake it); ``sent()`` stamps
    it with the limiter's clock at that moment, and the windows count it from
    there. A window therefore holds the later of admission and departure, which
    is what a server counting arrivals sees (give or take the network, which the
    margin covers).

    Call ``sent()`` exactly when the request's headers have been written (the
    pipeline does, from aiohttp's ``on_request_headers_sent``), and in any case
    once the attempt is over, sent or not: an unsent reservation holds its slot
    until it is stamped. Later calls do nothing.
    """

    __slots__ = ("_on_sent", "waited")

    def __init__(self, waited: float, on_sent: Callable[[], None] | None = None) -> None:
        self.waited = waited
        """Seconds the caller waited for the slot."""
        self._on_sent = on_sent

    @property
    def pending(self) -> bool:
        """Whether the request has not been stamped as sent yet."""
        return self._on_sent is not None

    def sent(self) -> None:
        """The request has left now: count it from now on (only the first call counts)."""
        on_sent = self._on_sent
        if on_sent is not None:
            self._on_sent = None
            on_sent()

    def __repr__(self) -> str:
        return f"<Reservation waited={self.waited:.6f} pending={self.pending}>"


@runtime_checkable
class ReservingLimiter(Limiter, Protocol):
    """A ``Limiter`` that can count a call from when it leaves (``reserve``), not when admitted."""

    async def reserve(self) -> Reservation:
        """Wait for a slot and reserve it; the returned ``Reservation`` is stamped by ``sent()``."""
        ...


PACE_GROUP = 0.05
"""Seconds: queued callers are paced in groups that fit in this (see ``Pace``)."""


class Pace:
    """The pace of a limiter's queued callers: at most ``g`` admissions per slot of ``g * s`` seconds.

    ``s = min((T + margin) / N)`` is the fastest window's rate (10.5 ms at BasicAI's
    limits) and ``g`` the most admissions that fit in ``PACE_GROUP`` (4 per 42 ms at
    BasicAI's limits; 1 for windows slower than 20/s). A window's rate is at most
    N / (T + margin) anyway, so the pace costs no throughput; it spreads a freed
    window's calls instead of sending a hundred in one instant. The slots are a
    fixed grid (from the first admission), not counted from each admission: an
    event loop that wakes a waiter late (a busy or loaded machine) uses the slot it
    lands in, and the lateness does not add up. ``enabled=False`` never holds anyone.
    """

    __slots__ = ("_end", "_group", "_length", "_origin", "_slot", "_used")

    def __init__(self, limits: Limits, *, enabled: bool = True) -> None:
        spacing = min((w.seconds + limits.margin) / w.count for w in limits.windows)
        self._group = max(1, int(PACE_GROUP / spacing)) if enabled else math.inf
        self._length = self._group * spacing if enabled else 1.0
        self._origin = -math.inf  # the grid starts at the first admission
        self._slot = 0  # the current slot's number on the grid
        self._end = -math.inf  # ... and its end
        self._used = 0  # admissions in it

    def admitted(self, now: float) -> None:
        """Record an admission (queued or not) at ``now`` (never earlier than the last)."""
        if now < self._end:
            self._used += 1  # the common case: still in the current slot
            return
        if self._origin == -math.inf:
            self._origin = now
        # A nanosecond's nudge: a time a float hair short of a slot's start is in that slot.
        slot = math.floor((now - self._origin) / self._length + 1e-9)
        if slot != self._slot:
            self._slot, self._used = slot, 0
        self._end = self._origin + (slot + 1) * self._length - 1e-9
        self._used += 1

    def next_at(self) -> float:
        """The earliest time a queued caller may be admitted (-inf: now)."""
        if self._used < self._group:
            return -math.inf
        return self._origin + (self._slot + 1) * self._length

    def held_after(self, now: float) -> float:
        """Seconds a queued caller would be held if one more admission came at ``now`` (0: none)."""
        trial = copy.copy(self)
        trial.admitted(now)
        return max(0.0, trial.next_at() - now)
