"""One API key's shared ring in Redis and the one Lua script that decides on it.

The ring holds the last ``max(N)`` stamps of the key (the times its calls left,
see ``Reservation``) as fixed 8-byte slots in one Redis string (864,000 slots =
6.9 MB for BasicAI's daily window; a sorted set of the same times takes ~90 MB,
a list of float strings ~17 MB). A hash beside it holds the stamp count,
per-window pointers, the shared 429 pause, the limits the ring was made with,
and per process the reservations it holds (admitted, not sent yet: counted as
taking their places now), under a lease that a dead process's stop counting at. Both keys carry one hash tag
made from a hash of the API key (never the key itself), so they live in one
Redis Cluster slot and a script may touch both.

Processes waiting on a full window stand in line through claims in the same
hash: a process whose queued call is refused is told the slot after those the
other processes' live claims will take (the (k+1)-th to free, k the live claims),
and that time is its claim; after an admission with more waiters behind, the
reply carries the process's next claim. So k waiting processes wake one per freed
slot, not all at the first (one winning, the others refused and sleeping again).
Claims only decide which waits are told; what is admitted never depends on them.

Every decision happens inside ``_ring.lua`` on Redis ``TIME``, in whole
microseconds: processes whose clocks disagree still agree on the ring. The
script is called by its SHA; redis-py's script object loads it again when
Redis answers NOSCRIPT (after a restart, a failover or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from .._errors import ConfigurationError, LimiterUnavailableError
from ._base import Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RingReply", "SharedRing", "key_tag"]

_SOURCE = resources.files("basicai_async.ratelimit").joinpath("_ring.lua").read_text(encoding="utf-8")
_US = 1_000_000
LEASE = 60.0
"""Seconds a process's unsent reservations keep counting after its latest call (a dead one's stop)."""
CLAIM_GRACE = 0.05
"""Seconds (plus the limits' margin) a claim keeps counting past the time its holder was told to come."""


def key_tag(api_key: str) -> str:
    """The hash tag of an API key's Redis keys: 16 hex digits of a SHA-256, never the key."""
    digest = hashlib.sha256(b"basicai-async ratelimit\0" + api_key.encode("utf-8")).hexdigest()
    return digest[:16]


@dataclass(frozen=True, slots=True)
class RingReply:
    """What the script decided, in Redis time (microseconds).

    ``value`` is, when ``admitted``, the stamp's sequence number for a stamped
    admission (0 for a reservation), else the exact wait until the next admission
    could happen. ``next_wait`` is the wait for the next admission after this call
    (a lower bound while reservations are pending). ``counts`` are the calls in
    each window (this one and the pending ones included) as of ``now``.
    """

    admitted: bool
    now: int
    value: int
    pause_left: int
    next_wait: int
    counts: tuple[int, ...]
    pending: bool = False
    """Admitted as a reservation: this process must stamp it (``stamp``) or take it back (``unreserve``)."""


class SharedRing:
    """The ring of one API key under ``prefix``, and the calls the limiter makes on it."""

    __slots__ = ("_args", "_calls", "_client", "_errors", "_holder", "_limits", "_script", "_windows", "keys")

    def __init__(self, client: Redis, tag: str, limits: Limits, *, prefix: str = "basicai") -> None:
        self._client = client
        self._limits = limits
        self.keys = (f"{prefix}:{{{tag}}}:ring", f"{prefix}:{{{tag}}}:meta")
        """The ring string and the meta hash, in one hash slot."""
        windows = [(w.count, round((w.seconds + limits.margin) * _US)) for w in limits.windows]
        # The config is stored readable, so a mismatch can say what the other side runs.
        config = ",".join(f"{count}/{length}us" for count, length in windows)
        longest = max(length for _, length in windows)
        ttl_ms = math.ceil(longest / 1000) + 1000  # a window past its end is empty: nothing lost
        size = max(count for count, _ in windows)
        self._args: tuple[str | int, ...] = (config, size, ttl_ms)
        self._windows: tuple[int, ...] = (len(windows), *(x for pair in windows for x in pair))
        # This process's name for its reservations and its claim in the meta hash.
        self._holder = (os.urandom(8).hex(), round(LEASE * _US), round((CLAIM_GRACE + limits.margin) * _US))
        self._script = client.register_script(_SOURCE)
        self._calls = 0
        # Imported here, not at module level: the SDK works without the redis extra.
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)

    @property
    def calls(self) -> int:
        """How many times the script ran (reloads after NOSCRIPT not counted)."""
        return self._calls

    async def acquire(
        self, *, stamped: bool = True, sent: int = 0, queued: int = 0, hold: float = 0.0
    ) -> RingReply:
        """Admit one call now if every window and the pause allow it, else say how long to wait.

        ``stamped``: counted from now; else a reservation of this process, pending
        until ``stamp``. ``sent``: this process's reservations sent since its last
        call, stamped now first. ``queued``: the waiters queued in this process, this
        call's included; 0 (``try_acquire``) never claims. From 1, a refusal is a claim:
        the wait told is until the slot after those the other processes' live claims
        will take, and counts as a claim for them in turn. From 2, an admission claims
        this process's next slot too (``next_wait``), no sooner than ``hold`` seconds
        from now (the pace it will keep), so its next call need not come before it.
        """
        arg = min(queued, 1) if queued < 2 else 2 + math.ceil(hold * _US)
        reply = await self._run("A" if stamped else "a", arg, sent=sent)
        if reply.admitted and not stamped:
            return RingReply(True, reply.now, 0, reply.pause_left, reply.next_wait, reply.counts, True)
        return reply

    async def peek(self, *, sent: int = 0) -> RingReply:
        """The counts and the wait, admitting nothing (after stamping ``sent`` reservations)."""
        return await self._run("p", sent=sent)

    async def stamp(self, sent: int) -> RingReply:
        """``sent`` of this process's reservations left: count them from Redis's now."""
        return await self._run("t", sent=sent)

    async def backfill(self, ages: Sequence[int], *, sent: int = 0) -> RingReply:
        """Stamp calls made ``ages`` microseconds before this call (oldest first): the fallback's."""
        return await self._run("b", sent=sent, ages=ages)

    async def refund(self, seq: int) -> bool:
        """Take back stamped admission ``seq`` if it is still the latest (a waiter left without using it).

        This process's claim ends with it (nobody here is waiting for it), as with ``unreserve``.
        """
        return (await self._run("r", seq)).admitted

    async def unreserve(self, count: int = 1) -> RingReply:
        """Take back ``count`` of this process's reservations that nobody used."""
        return await self._run("u", count)

    async def pause(self, seconds: float) -> RingReply:
        """Admit nobody for ``seconds`` from Redis's now; never shortens a pause in force."""
        return await self._run("s", math.ceil(seconds * _US))

    async def _run(
        self, op: str, arg: int = 0, now_us: int | None = None, *, sent: int = 0, ages: Sequence[int] = ()
    ) -> RingReply:
        keys = self.keys
        now = "" if now_us is None else now_us
        args = (op, *self._args, arg, now, *self._holder, sent, *self._windows, *ages)
        self._calls += 1
        try:
            reply = await self._script(keys=keys, args=args)
        except self._errors as exc:
            raise LimiterUnavailableError(
                f"the shared rate limiter's Redis failed: {type(exc).__name__}: {exc}"
            ) from exc
        status = int(reply[0])
        if status < 0:
            theirs = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
            raise ConfigurationError(
                f"the shared rate limit in Redis ({keys[0]}) is in use with other limits"
                f" ({theirs}) than this limiter's ({self._args[0]}): every process sharing"
                " an API key must use the same limits (or a different prefix)"
            )
        return RingReply(
            admitted=status == 1,
            now=int(reply[1]),
            value=int(reply[2]),
            pause_left=int(reply[3]),
            next_wait=int(reply[4]),
            counts=tuple(int(c) for c in reply[5:]),
        )
