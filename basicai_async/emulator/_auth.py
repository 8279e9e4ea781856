"""API keys, per-key rate limits and the per-key request log.

A key belongs to one team and may expire or be revoked at any time; every API
call must carry ``Authorization: ApiKey <key>``. Each key gets its own exact
sliding-window limiter (the SDK's ``ExactLimiter`` with no margin, so the
server is exactly as strict as BasicAI's published limits and no stricter).
Every request that presents a key is logged with the loop's clock, so
:meth:`RequestLog.max_window_count` can prove a client never sent more than a
limit allows in any window.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..ratelimit import Limiter, Limits
from ._wire import ApiError

__all__ = ["ApiKey", "KeyRing", "RequestLog", "RequestRecord", "retry_after_header"]


@dataclass(slots=True)
class ApiKey:
    """One API key: its team, optional expiry (aware UTC datetime) and whether it was revoked."""

    key: str
    team: str = "default"
    expires_at: datetime | None = None
    revoked: bool = False


def _unauthorized(message: str) -> ApiError:
    return ApiError("UNAUTHORIZED", message, status=401)


class KeyRing:
    """The emulator's API keys and one rate limiter per key (``limits=None``: no limits)."""

    def __init__(self, limits: Limits | None, limiter_factory: Callable[[Limits], Limiter]) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.limits = limits
        self._factory = limiter_factory
        self._limiters: dict[str, Limiter] = {}

    def add(self, key: str, team: str = "default", expires_at: datetime | None = None) -> ApiKey:
        """Add (or replace) a key."""
        if not key or any(ch.isspace() for ch in key):
            raise ValueError("an API key must be non-empty and contain no whitespace")
        if expires_at is not None and expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        api_key = ApiKey(key, team, expires_at)
        self.keys[key] = api_key
        return api_key

    def revoke(self, key: str) -> None:
        """Revoke a key: its next call gets 401. KeyError if unknown."""
        self.keys[key].revoked = True

    @staticmethod
    def presented(header: str | None) -> str | None:
        """The key in an ``Authorization: ApiKey <key>`` header, if well formed."""
        if not header:
            return None
        scheme, _, key = header.strip().partition(" ")
        key = key.strip()
        return key if scheme.lower() == "apikey" and key else None

    def check(self, key: str | None) -> ApiKey:
        """The valid key, or an HTTP 401 ApiError."""
        if key is None:
            raise _unauthorized("missing Authorization: ApiKey header")
        api_key = self.keys.get(key)
        if api_key is None:
            raise _unauthorized("unknown API key")
        if api_key.revoked:
            raise _unauthorized("the API key was revoked")
        if api_key.expires_at is not None and datetime.now(timezone.utc) >= api_key.expires_at:
            raise _unauthorized("the API key has expired")
        return api_key

    def limiter(self, key: str) -> Limiter | None:
        """The key's limiter, created on first use; None when limits are off."""
        if self.limits is None:
            return None
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = self._factory(self.limits)
        return limiter


def retry_after_header(limiter: Limiter) -> dict[str, str]:
    """``Retry-After`` in whole seconds rounded up (at least 1), plus the exact value."""
    wait = limiter.stats().next_slot_in
    return {"Retry-After": str(max(1, math.ceil(wait))), "X-RateLimit-Reset-After": f"{wait:.3f}"}


@dataclass(slots=True)
class RequestRecord:
    """One API request: loop-clock ``time``, wall-clock ``at``, and the status (None: dropped)."""

    time: float
    at: datetime
    method: str
    path: str
    status: int | None = None


class RequestLog:
    """Every API request that presented a key, per key, in arrival order."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[RequestRecord]] = {}

    def record(self, key: str, now: float, method: str, path: str) -> RequestRecord:
        """Log an arriving request; its status is filled in when answered."""
        entry = RequestRecord(now, datetime.now(timezone.utc), method, path)
        self.by_key.setdefault(key, []).append(entry)
        return entry

    def requests(self, key: str) -> list[RequestRecord]:
        """The key's requests, oldest first."""
        return list(self.by_key.get(key, []))

    def clear(self) -> None:
        """Forget every request."""
        self.by_key.clear()

    def max_window_count(self, key: str, seconds: float, statuses: set[int] | None = None) -> int:
        """The most requests of ``key`` in any half-open window ``[t, t + seconds)``.

        All arrivals count (429s and faults included) unless ``statuses`` picks some.
        """
        times = [
            entry.time for entry in self.by_key.get(key, []) if statuses is None or entry.status in statuses
        ]
        best = 0
        # A busiest window can always start at an arrival: slide its start over them.
        for start_index, start in enumerate(times):
            end_index = bisect.bisect_left(times, start + seconds, lo=start_index)
            best = max(best, end_index - start_index)
        return best
