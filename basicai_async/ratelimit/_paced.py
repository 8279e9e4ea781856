"""Optional pacing: spread bursts evenly in front of a limiter that guarantees the windows.

``ExactLimiter`` admits a burst of N at once whenever a window has room, which is
exactly what the BasicAI contract allows. A server that counts with a token
bucket (or simply dislikes bursts) is better served by calls spaced evenly; that
is what ``aiolimiter.AsyncLimiter`` does well, so it is used here, for pacing
only. The guarantee stays with the inner limiter: pacing can only delay a call,
never admit one the inner limiter refuses, and a token the pacer spent on a call
that was then cancelled or refused costs time, never quota.
"""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from ._base import Limiter, LimiterStats, Reservation, ReservingLimiter

__all__ = ["PacedLimiter"]


class PacedLimiter:
    """A ``Limiter`` that paces calls to ``rate`` per second, then asks ``inner``.

    At most ``burst`` calls pass the pacer back to back; after that they are
    spaced ``1 / rate`` seconds apart. Pausing and stats are the inner limiter's.

    Example::

        limiter = PacedLimiter(ExactLimiter(), rate=100.0)  # one call every 10 ms
    """

    __slots__ = ("_bucket", "_inner")

    def __init__(self, inner: Limiter, *, rate: float, burst: int = 1) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 calls per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self._inner = inner
        self._bucket = AsyncLimiter(burst, burst / rate)

    @property
    def inner(self) -> Limiter:
        """The limiter that holds the guarantee."""
        return self._inner

    async def acquire(self) -> float:
        """Wait for the pacer, then for the inner limiter; return the seconds waited in all."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self._bucket.acquire()
        await self._inner.acquire()
        return loop.time() - start

    async def reserve(self) -> Reservation:
        """Wait for the pacer, then reserve from the inner limiter (or acquire, if it cannot reserve)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self._bucket.acquire()
        inner = self._inner
        if isinstance(inner, ReservingLimiter):
            reservation = await inner.reserve()
            reservation.waited = loop.time() - start
            return reservation
        await inner.acquire()
        return Reservation(loop.time() - start)

    async def try_acquire(self) -> bool:
        """Take a slot if both the pacer and the inner limiter have one now; never wait."""
        if not self._bucket.has_capacity():
            return False
        if not await self._inner.try_acquire():
            return False
        # has_capacity() held and nothing awaited since, so this returns at once.
        await self._bucket.acquire()
        return True

    async def pause(self, seconds: float) -> None:
        """Pause the inner limiter (the server answered 429)."""
        await self._inner.pause(seconds)

    def stats(self) -> LimiterStats:
        """The inner limiter's stats."""
        return self._inner.stats()
