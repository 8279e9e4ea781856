"""The ``{code, message, data}`` envelope and the two list shapes inside it."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

__all__ = ["Envelope", "IdPage", "Page"]

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """Every HTTP 200 answer: ``code`` is ``OK`` (any case) on success."""

    code: str
    message: str | None = None
    data: T | None = None


class Page(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """One page of a ``pageNo``/``pageSize`` listing; ``total`` comes on page 1 only.

    ``items`` is the wire field ``list``.
    """

    items: list[T] = msgspec.field(default_factory=list, name="list")
    total: int | None = None


class IdPage(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """One step of an ID-order traversal (``lastId``/``limit``)."""

    items: list[T] = msgspec.field(default_factory=list, name="list")
