"""Exactly once over an ambiguous create: look the result up before sending the call again.

A create that fails ambiguously (a timeout, a connection lost after sending,
500/502/504, a truncated answer: :func:`~basicai_async._http.is_ambiguous`) may
or may not have acted. Retrying blindly may create twice; giving up may lose
what was made. The rule, used by ``datasets.create`` and the uploader's
registration alike:

1. wait one backoff step (:meth:`RetryPolicy.settle`), for a server still
   finishing the call;
2. look the result up; found: that is the result;
3. not found: the call did nothing, so it is sent again, up to ``rounds`` calls;
   after the last one's ambiguous failure (and a look-up that found nothing)
   that failure is raised;
4. a look-up that fails too raises :class:`Unsettled`: nobody can tell, and the
   caller says so ("may exist", "maybe registered") rather than guessing.

Look-ups match by :func:`name_key`: the server stores names stripped of leading
and trailing whitespace (nothing else is changed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ._errors import BasicAIError
from ._http import is_ambiguous
from ._retry import RetryPolicy

__all__ = ["ROUNDS", "Unsettled", "create_once", "name_key"]

ROUNDS = 3
"""Calls of one create after ambiguous failures whose look-up found nothing."""

T = TypeVar("T")


def name_key(name: str) -> str:
    """A name as the server stores it: without leading and trailing whitespace."""
    return name.strip()


class Unsettled(Exception):
    """A create failed ambiguously and the look-up that should settle it failed too.

    ``error`` is the create's ambiguous failure (what the caller reports); the
    look-up's failure is chained as ``__cause__``. Internal: callers turn it into
    their own outcome and never let it reach a user.
    """

    def __init__(self, error: BasicAIError) -> None:
        super().__init__(str(error))
        self.error = error


async def create_once(
    create: Callable[[], Awaitable[T]],
    look_up: Callable[[], Awaitable[T | None]],
    *,
    retry: RetryPolicy,
    rounds: int = ROUNDS,
    ambiguous: Callable[[BaseException], bool] = is_ambiguous,
) -> T:
    """``await create()``, exactly once: after an ambiguous failure, ``look_up()`` before calling again.

    ``look_up`` returns the result when it finds it, None when the call certainly
    did nothing. Any other error of ``create`` is raised as it is; see the module
    docs for the rounds and :class:`Unsettled`.
    """
    for attempt in range(1, rounds + 1):
        try:
            return await create()
        except BasicAIError as exc:
            if not ambiguous(exc):
                raise
            error = exc
        await retry.settle(attempt)
        try:
            found = await look_up()
        except BasicAIError as lookup_error:
            unsettled = Unsettled(error)
            unsettled.__cause__ = lookup_error
        else:
            if found is not None:
                return found
            continue
        # Raised outside the except block: the look-up's error is the cause, not a context.
        raise unsettled
    raise error
