"""Splitting a refused batch in halves until the item it was refused for is alone.

Batch calls of the API are all or none: one bad item (an unsupported file, a
data item removed meanwhile) refuses its neighbours too. Splitting the refused
batch in halves, and each refused half again, isolates the bad items in a few
calls each (about ``2 log2(n)`` per bad item), instead of one call per item.
Used by the uploader's registration and by the export's result chunks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["in_halves"]

T = TypeVar("T")


async def in_halves(
    items: Sequence[T],
    attempt: Callable[[Sequence[T]], Awaitable[None]],
    *,
    refused: type[BaseException] | tuple[type[BaseException], ...],
    alone: Callable[[T, BaseException], None],
) -> None:
    """``await attempt(items)``; when it raises ``refused``, attempt each half in turn, recursively.

    An item refused on its own is handed to ``alone`` with the refusal. Any other
    exception of ``attempt`` propagates.
    """
    try:
        await attempt(items)
    except refused as exc:
        if len(items) == 1:
            alone(items[0], exc)
            return
        half = len(items) // 2
        await in_halves(items[:half], attempt, refused=refused, alone=alone)
        await in_halves(items[half:], attempt, refused=refused, alone=alone)
