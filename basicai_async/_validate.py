"""Argument checks run before any request, so bad input never costs a call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from ._constants import MAX_IDS, MAX_PAGE_SIZE, MAX_PRESIGNED_SIZE
from ._errors import FileTooLargeError

__all__ = ["check_file_size", "check_id", "check_ids", "check_name", "check_page_size", "chunked"]

T = TypeVar("T")


def check_id(name: str, value: object) -> int:
    """``value`` as a positive int id, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int id, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive id, got {value}")
    return value


def check_ids(name: str, values: Iterable[object]) -> list[int]:
    """Every id checked; a non-empty list, or an error that says which one was wrong."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of int ids, got a string {values!r}")
    ids = [check_id(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if not ids:
        raise ValueError(f"{name} must hold at least one id")
    return ids


def check_name(name: str, value: object) -> str:
    """A non-blank string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def check_page_size(name: str, value: object) -> int:
    """An int from 1 to ``MAX_PAGE_SIZE``, the API's range for ``pageSize`` and ``limit``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int from 1 to {MAX_PAGE_SIZE}, got {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be from 1 to {MAX_PAGE_SIZE}, got {value}")
    return value


def check_file_size(filename: str, size: int) -> None:
    """Raise ``FileTooLargeError`` for a file over the pre-signed upload limit (1 GB)."""
    if size > MAX_PRESIGNED_SIZE:
        raise FileTooLargeError(
            f"{filename} is {size} bytes, over the {MAX_PRESIGNED_SIZE}-byte (1 GB) limit of pre-signed "
            "uploads (BasicAI's STS method for larger files is not released yet)",
            filename=filename,
            stage="validate",
        )


def chunked(values: Sequence[T], size: int = MAX_IDS) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` values, in order."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
