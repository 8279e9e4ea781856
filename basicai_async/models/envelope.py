"""The ``{code, message, data}`` envelope and the two list shapes inside it."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ._base import Model, NullList

__all__ = ["Envelope", "IdPage", "Page"]

T = TypeVar("T")


def _settled(items: list[T] | None) -> list[T]:
    """A page's records: ``[]`` for ``null``, their variants settled in one pass (``Model.settle_many``)."""
    if not items:
        return []
    first = items[0]
    if isinstance(first, Model):
        type(first).settle_many(items)
    return items


class Envelope(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """Every HTTP 200 answer: ``code`` is ``OK`` (any case) on success."""

    code: str
    message: str | None = None
    data: T | None = None


class Page(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """One page of a ``pageNo``/``pageSize`` listing; ``total`` may come on page 1 only.

    ``items`` is the wire field ``list`` (``null`` on an empty page reads as ``[]``);
    its records' variants are settled once decoded (``Model.settle_many``).
    """

    items: NullList[T] = msgspec.field(default_factory=list, name="list")
    total: int | None = None

    def __post_init__(self) -> None:
        self.items = _settled(self.items)


class IdPage(msgspec.Struct, Generic[T], kw_only=True, gc=False):
    """One step of an ID-order traversal (``lastId``/``limit``)."""

    items: NullList[T] = msgspec.field(default_factory=list, name="list")

    def __post_init__(self) -> None:
        self.items = _settled(self.items)
