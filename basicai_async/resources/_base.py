"""What every resource shares: the client's pipeline, and the check of a list of request models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .._http import Pipeline

__all__ = ["Resource", "check_models"]

M = TypeVar("M")


class Resource:
    """One API noun's methods, calling the client's single request pipeline."""

    __slots__ = ("_pipeline",)

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline


def check_models(name: str, values: object, cls: type[M], check: Callable[[str, M], object]) -> list[M]:
    """A non-empty list of ``cls`` instances, each passed through ``check``; else TypeError/ValueError.

    ``values`` is typed ``object`` because callers pass user input that may be
    anything (a lone string is refused, not iterated character by character).
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of {cls.__name__}, got {type(values).__name__}")
    checked: list[M] = []
    for i, value in enumerate(values):
        if not isinstance(value, cls):
            raise TypeError(f"{name}[{i}] must be a {cls.__name__}, got {type(value).__name__}")
        check(f"{name}[{i}]", value)
        checked.append(value)
    if not checked:
        raise ValueError(f"{name} must hold at least one {cls.__name__}")
    return checked
