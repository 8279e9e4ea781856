"""Rate limiters: the ``Limiter`` protocol, the exact in-process limiter, the shared Redis one, pacing."""

from ._base import (
    BASICAI_LIMITS,
    Limiter,
    LimiterStats,
    Limits,
    Reservation,
    ReservingLimiter,
    Window,
    WindowStats,
)
from ._exact import ExactLimiter
from ._paced import PacedLimiter
from ._redis import RedisLimiter

__all__ = [
    "BASICAI_LIMITS",
    "ExactLimiter",
    "Limiter",
    "LimiterStats",
    "Limits",
    "PacedLimiter",
    "RedisLimiter",
    "Reservation",
    "ReservingLimiter",
    "Window",
    "WindowStats",
]
