"""The one retry policy: capped, jittered exponential backoff that honours ``Retry-After``.

The API pipeline and the uploader's storage PUT both ask it how long to wait
before the next attempt, and whether to try again at all; a look-up after an
ambiguous create waits its ``settle`` step. Its ``sleep`` and
``random`` are injectable, so tests assert exact delays without waiting.

Example::

    policy = RetryPolicy(max_retries=2)
    if not await policy.wait(retry=1, retry_after=parse_retry_after(header)):
        raise error
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed attempts are retried. The defaults are the documented policy.

    Args:
        max_retries: retries after the first attempt.
        backoff_start: the first retry's delay in seconds; each next one doubles.
        backoff_cap: the longest backoff delay.
        max_retry_after: the longest server ``Retry-After`` waited out; a longer one
            ends the retries (the caller raises the server's answer).
        sleep: waits the delay (``asyncio.sleep``; tests pass a recorder).
        random: a float in [0, 1) for the jitter (``random.random``).
    """

    max_retries: int = 3
    backoff_start: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def backoff(self, retry: int, rand: float) -> float:
        """Delay before retry number ``retry`` (1-based), jittered down by up to 25%.

        Jittered down, not up, so the cap stays a cap; the spread keeps clients that
        failed together from retrying together.
        """
        delay: float = min(self.backoff_cap, self.backoff_start * 2.0 ** (retry - 1))
        return delay * (1 - 0.25 * rand)

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``retry``, or None when it is not due.

        None when the retries are used up or the server asks for longer than
        ``max_retry_after``. A server's ``Retry-After`` replaces the backoff.
        """
        if retry > self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.backoff(retry, self.random())

    async def wait(
        self,
        retry: int,
        retry_after: float | None = None,
        *,
        pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> bool:
        """Wait before retry number ``retry``; False (at once) when it is not due.

        ``pause`` waits instead of ``sleep`` (the pipeline pauses its rate limiter
        on a 429, so every task sharing the key waits, not just this one).
        """
        delay = self.delay(retry, retry_after)
        if delay is None:
            return False
        await (pause or self.sleep)(delay)
        return True

    async def settle(self, attempt: int = 1) -> None:
        """Wait one backoff step before looking up what an ambiguous call did.

        A server still finishing the call (a timeout) gets a moment before its
        result is looked for. This is not a retry: it waits even when
        ``max_retries`` is 0 (where ``wait`` returns at once). ``attempt`` is the
        call's number (1-based), so later look-ups wait longer.
        """
        await self.sleep(self.backoff(attempt, self.random()))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
