"""Rate limiters: the ``Limiter`` protocol and the exact in-process limiter."""

from ._base import BASICAI_LIMITS, Limiter, LimiterStats, Limits, Window, WindowStats

__all__ = ["BASICAI_LIMITS", "Limiter", "LimiterStats", "Limits", "Window", "WindowStats"]
