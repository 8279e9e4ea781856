"""The one knob for how many API calls a bulk operation keeps in flight.

Round trips, not the quota, bound a bulk operation that waits for one call
before it sends the next. Keeping ``api_concurrency`` calls in flight hides a
round trip of up to ``api_concurrency / 100`` seconds behind BasicAI's 100
calls per second. The rate limiter still decides when each call may go: this
only caps how many are outstanding, it never paces.
"""

from __future__ import annotations

from ._constants import RATE_WINDOWS

__all__ = ["DEFAULT_API_CONCURRENCY", "check_api_concurrency"]

_PER_SECOND = RATE_WINDOWS[0][0]
_SLOWEST_ROUND_TRIP = 0.2  # seconds: internet round trips to BasicAI run 50-200 ms

DEFAULT_API_CONCURRENCY = int(_PER_SECOND * _SLOWEST_ROUND_TRIP)
"""20 calls in flight: enough to reach 100 calls/s at 200 ms round trips."""


def check_api_concurrency(value: object) -> int:
    """``value`` as an int >= 1, or a TypeError/ValueError that says so."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"api_concurrency must be an int >= 1, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"api_concurrency must be >= 1, got {value}")
    return value
