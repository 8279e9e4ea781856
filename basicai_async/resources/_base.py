"""What every resource shares: the client's pipeline."""

from __future__ import annotations

from .._http import Pipeline

__all__ = ["Resource"]


class Resource:
    """One API noun's methods, calling the client's single request pipeline."""

    __slots__ = ("_pipeline",)

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
