"""Rate limiters: the ``Limiter`` protocol, the exact in-process limiter and optional pacing."""

from ._base import BASICAI_LIMITS, Limiter, LimiterStats, Limits, Window, WindowStats
from ._exact import ExactLimiter
from ._paced import PacedLimiter

__all__ = [
    "BASICAI_LIMITS",
    "ExactLimiter",
    "Limiter",
    "LimiterStats",
    "Limits",
    "PacedLimiter",
    "Window",
    "WindowStats",
]
