"""``RedisLimiter``: one API key's limits shared, exactly, by every process that uses the key.

The decisions are the ring script's (see ``_ring``), on Redis time; this module
only queues, sleeps and hands out what the script admitted.

Waiters queue locally in arrival order and only the head is served: one driver
task calls the script for it, sleeps exactly the wait the script returned, and
calls again, so a process never polls. A backlog is paced as ``ExactLimiter``
paces its queue (``Pace``: 4 admissions per 42 ms at BasicAI's limits, per process).
The driver is not the waiter: a waiter cancelled while a call is in
flight does not cancel the call, and an admission that comes back for it goes
to the next live waiter, or is taken back from the ring (``refund``) if nobody
is left. Cancelling costs no quota, as with ``ExactLimiter``.

Processes take turns on a full window: a refused call of the driver is a claim
in Redis, and is told the (k+1)-th slot to free, k the other processes' live
claims; an admission with more waiters queued claims this process's next slot in
the same reply (no sooner than its pace lets it come; room free now is claimed
too, so processes do not race for it), and the driver sleeps until it instead of
calling to be refused. About 2 script calls per admission under contention
(the admitting call and the stamp). Claims only delay what each process is told
to wait: admissions are decided as before, exactly. A claim nobody uses (its
process died, or its waiters all left) keeps counting until its time plus
``CLAIM_GRACE`` (0.05 s) plus the margin: while it counts, the other processes'
claims skip one freed slot, so one slot of the key's quota stays unused until
the next waiter comes for it; at most one per stale claim, for at most the
longest window (or a 429's pause, when longer) plus the grace after the claim
was made. Each limiter holds one claim at most.

Calls are counted from when they leave, as with ``ExactLimiter``: ``reserve``
admits a call as one of this process's pending reservations (counted as taking
its place now, in every window, by every process), and ``Reservation.sent()``
stamps it. Stamps are batched: one background call at a time carries every
stamp since the previous one (and the driver's calls carry them too), stamped
at Redis's time of that call, never before the call left. A process that dies
holding reservations stops counting them ``LEASE`` (60) seconds after its last call.

Redis unreachable or timing out fails closed: every waiter gets a
``LimiterUnavailableError``. ``fallback_share`` opts into an in-process
``ExactLimiter`` holding that share of each window instead, with a warning,
until Redis answers again; the calls made on the fallback are then stamped into
the shared ring at their own times (``SharedRing.backfill``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import time
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, LimiterUnavailableError, QuotaExhaustedError
from ._base import BASICAI_LIMITS, LimiterStats, Limits, Pace, Reservation, Window, WindowStats
from ._exact import ExactLimiter
from ._ring import RingReply, SharedRing, key_tag

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLimiter"]

logger = logging.getLogger("basicai_async")

_FALLBACK = object()  # a waiter's grant that says "ask the fallback limiter instead"
_US = 1e-6
_BACKFILL_CHUNK = 5000  # past stamps per script call


class RedisLimiter:
    """Admit calls as fast as ``limits`` allow across every process sharing ``redis``, never faster.

    The same promises as ``ExactLimiter``, for all processes and machines using
    one API key against one Redis: no interval ``[t, t+T)`` of Redis's clock holds
    more than N calls of any window (N, T) (``T + limits.margin`` is enforced),
    each counted from the later of its admission and its send (``reserve``;
    ``acquire`` counts from admission), waiters in one process go in arrival
    order, cancelling one costs no quota, and a 429 seen by any process pauses
    them all.

    Args:
        redis: a ``redis://`` URL or a ``redis.asyncio`` client (not closed by
            the limiter when given; a cluster client works: all keys share a hash tag).
        api_key: the key whose quota is shared (only a hash of it reaches Redis);
            defaults to ``BASICAI_API_KEY``.
        limits: the windows to enforce; every process of a key must use the same
            (else ``ConfigurationError`` on the first call).
        max_wait: ``acquire`` raises ``QuotaExhaustedError`` when the next slot is
            more than this many seconds away. ``None``: always wait.
        jitter: a 429's pause of ``s`` seconds becomes ``s`` to ``s * (1 + jitter)``.
        timeout: seconds allowed for one Redis round trip (and for connecting).
        fallback_share: ``None`` (default) fails closed with
            ``LimiterUnavailableError`` while Redis is unreachable. A share in
            (0, 1] falls back to an in-process ``ExactLimiter`` allowing that
            share of each window (give each of k processes at most 1/k). The
            calls made on it are stamped into the shared ring once Redis is back.
        fallback_retry: seconds on the fallback before Redis is tried again.
        prefix: the first part of the Redis keys, ``<prefix>:{<hash>}:ring``.
        pace: space this process's queued waiters one window rate apart (default).

    Example::

        limiter = RedisLimiter("redis://localhost:6379/0", api_key=key)
        async with AsyncBasicAI(key, limiter=limiter) as client:
            ...
        await limiter.aclose()
    """

    __slots__ = (
        "_admitted",
        "_backfiller",
        "_background",
        "_client",
        "_degraded_until",
        "_driver",
        "_fallback",
        "_fallback_retry",
        "_flusher",
        "_jitter",
        "_limits",
        "_max_wait",
        "_missed",
        "_owns_client",
        "_pace",
        "_queued",
        "_reservers",
        "_ring",
        "_snap",
        "_snap_at",
        "_total_wait",
        "_unsent",
        "_waiters",
        "_wake",
    )

    def __init__(
        self,
        redis: str | Redis,
        *,
        api_key: str | None = None,
        limits: Limits = BASICAI_LIMITS,
        max_wait: float | None = 300.0,
        jitter: float = 0.1,
        timeout: float = 5.0,
        fallback_share: float | None = None,
        fallback_retry: float = 30.0,
        prefix: str = "basicai",
        pace: bool = True,
    ) -> None:
        if max_wait is not None and not max_wait >= 0:
            raise ValueError(f"max_wait must be >= 0 seconds or None, got {max_wait!r}")
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {jitter!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if fallback_share is not None and not 0 < fallback_share <= 1:
            raise ValueError(f"fallback_share must be in (0, 1] or None, got {fallback_share!r}")
        if not fallback_retry > 0:
            raise ValueError(f"fallback_retry must be > 0 seconds, got {fallback_retry!r}")
        key = api_key if api_key is not None else os.environ.get("BASICAI_API_KEY")
        if not key or not key.strip():
            raise ConfigurationError(
                "RedisLimiter needs the API key it limits: api_key=... or BASICAI_API_KEY"
            )
        self._client, self._owns_client = _client(redis, timeout), isinstance(redis, str)
        self._limits = limits
        self._max_wait = max_wait
        self._jitter = jitter
        self._ring = SharedRing(self._client, key_tag(key.strip()), limits, prefix=prefix)
        self._fallback = None if fallback_share is None else _share(limits, fallback_share, max_wait, jitter)
        self._fallback_retry = fallback_retry
        self._degraded_until = -math.inf
        # Futures of queued waiters, head first; cancelled ones stay until they reach
        # the head. ``_queued`` counts the live ones.
        self._waiters: deque[asyncio.Future[object]] = deque()
        self._reservers: set[asyncio.Future[object]] = set()  # waiters that want a reservation
        self._queued = 0
        self._driver: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[object]] = set()
        self._admitted = 0
        self._total_wait = 0.0
        self._snap: RingReply | None = None
        self._snap_at = 0.0
        self._pace = Pace(limits, enabled=pace)
        self._unsent = 0  # reservations sent and not yet stamped in Redis
        self._flusher: asyncio.Task[None] | None = None
        # Local times of the calls made on the fallback, to stamp into the ring once it is back.
        self._missed: deque[float] = deque(maxlen=max(w.count for w in limits.windows))
        self._backfiller: asyncio.Task[Any] | None = None

    @property
    def limits(self) -> Limits:
        """The windows this limiter enforces."""
        return self._limits

    @property
    def max_wait(self) -> float | None:
        """The longest wait ``acquire`` accepts before raising ``QuotaExhaustedError``."""
        return self._max_wait

    @property
    def keys(self) -> tuple[str, str]:
        """The two Redis keys holding the shared state (the ring and its meta hash)."""
        return self._ring.keys

    @property
    def script_calls(self) -> int:
        """How many times this limiter ran the ring script."""
        return self._ring.calls

    # -- the Limiter protocol -------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a slot in every window of the shared quota and take it; return the seconds waited.

        Raises ``QuotaExhaustedError`` when the next slot is more than ``max_wait``
        away, ``LimiterUnavailableError`` when Redis fails (without a fallback).
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        grant = _FALLBACK
        if self._fallback is None or start >= self._degraded_until:
            grant = await self._queue(loop, reserve=False)
        if grant is _FALLBACK:
            assert self._fallback is not None
            waited = await self._fallback.acquire()
            self._missed.append(loop.time())
            return waited
        assert isinstance(grant, RingReply)
        if grant.pending:
            self._sent()  # a reservation came our way (its waiter left): counted from now
        self._admitted += 1
        waited = loop.time() - start
        self._total_wait += waited
        return waited

    async def reserve(self) -> Reservation:
        """Wait for a slot as ``acquire`` does, and hold it until ``Reservation.sent()`` stamps it.

        Until stamped, the slot counts as taken now in every window, in every
        process. The stamp reaches Redis with this process's next script call
        (one is started at once if none is in flight).
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        grant = _FALLBACK
        if self._fallback is None or start >= self._degraded_until:
            grant = await self._queue(loop, reserve=True)
        if grant is _FALLBACK:
            assert self._fallback is not None
            inner = await self._fallback.reserve()

            def sent() -> None:
                inner.sent()
                self._missed.append(loop.time())

            return Reservation(loop.time() - start, sent)
        assert isinstance(grant, RingReply)
        self._admitted += 1
        waited = loop.time() - start
        self._total_wait += waited
        # A stamped grant (its waiter left) is counted from its admission already.
        return Reservation(waited, self._sent if grant.pending else None)

    async def _queue(self, loop: asyncio.AbstractEventLoop, *, reserve: bool) -> object:
        """Queue for the driver's next admission; the grant: a RingReply, or _FALLBACK."""
        fut: asyncio.Future[object] = loop.create_future()
        self._waiters.append(fut)
        if reserve:
            self._reservers.add(fut)
        self._queued += 1
        if self._driver is None:
            self._driver = loop.create_task(self._drive())
        try:
            return await fut
        except BaseException:
            self._reservers.discard(fut)
            # Cancelling our task cancels the future it awaits: either way we left unserved.
            if fut.cancelled() or not fut.done():
                fut.cancel()
                self._leave()
            elif fut.exception() is None:
                # Granted, then cancelled before we ran: the admission is still good.
                self._pass_on(fut.result())
            raise

    async def try_acquire(self) -> bool:
        """Take a slot if the shared quota has one now and nobody here is queued; never wait."""
        if self._queued:
            return False  # a newcomer never jumps the queue
        loop = asyncio.get_running_loop()
        if self._fallback is not None and loop.time() < self._degraded_until:
            return await self._fallback.try_acquire()
        sent = self._take_unsent()
        call = loop.create_task(self._ring.acquire(sent=sent))
        try:
            reply = await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(self._refund_unused)
            raise
        except LimiterUnavailableError as exc:
            self._unsent += sent
            if not self._degrade(exc):
                raise
            assert self._fallback is not None
            return await self._fallback.try_acquire()
        self._take_snapshot(reply)
        self._back()
        if reply.admitted:
            self._admitted += 1
        return reply.admitted

    async def pause(self, seconds: float) -> None:
        """Admit nobody, in any process, for ``seconds`` plus jitter (the server answered 429).

        A pause never shortens one already in force.
        """
        if not seconds >= 0:
            raise ValueError(f"pause seconds must be >= 0, got {seconds!r}")
        try:
            reply = await self._ring.pause(seconds * (1.0 + self._jitter * random.random()))
        except LimiterUnavailableError as exc:
            if not self._degrade(exc):
                raise
            assert self._fallback is not None
            await self._fallback.pause(seconds)  # which adds its own jitter
            return
        if self._snap is not None:
            snap = self._snap
            wait = max(snap.next_wait, reply.pause_left)
            self._take_snapshot(RingReply(False, reply.now, wait, reply.pause_left, wait, snap.counts))

    def stats(self) -> LimiterStats:
        """A snapshot as of this process's latest call to Redis (``await refresh()`` for a fresh one).

        The windows' ``remaining`` can only have grown since (admissions leave
        windows) unless other processes admitted meanwhile. While on the fallback,
        the fallback limiter's stats.
        """
        now = _now()
        if self._fallback is not None and now < self._degraded_until:
            return self._fallback.stats()
        snap = self._snap
        elapsed = now - self._snap_at
        windows = tuple(
            WindowStats(w.count, w.seconds, w.count - (snap.counts[i] if snap else 0))
            for i, w in enumerate(self._limits.windows)
        )
        wait = 0.0 if snap is None else snap.next_wait * _US
        return LimiterStats(
            windows=windows,
            admitted=self._admitted,
            waiting=self._queued,
            total_wait=self._total_wait,
            next_slot_in=max(0.0, wait - elapsed),
            paused_for=max(0.0, (snap.pause_left * _US if snap else 0.0) - elapsed),
        )

    async def refresh(self) -> LimiterStats:
        """Read the shared ring now (admitting nothing) and return ``stats()``."""
        self._take_snapshot(await self._ring.peek())
        return self.stats()

    async def aclose(self) -> None:
        """Close: queued waiters get ``LimiterUnavailableError``; the Redis client is closed if ours.

        A call in flight for nobody is let finish, so its admission is taken back.
        """
        if self._driver is not None:
            if self._queued:
                self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
            # A driver cancelled before its first step never ran its finally.
            self._driver = None
            self._settle_all(LimiterUnavailableError("the RedisLimiter was closed"))
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._unsent:
            await self._flush()  # the stamps of the last calls sent
        if self._owns_client:
            # aclose() since redis-py 5.0.1; close() before (deprecated after).
            close = getattr(self._client, "aclose", None) or self._client.close
            await close()

    # -- the driver: the only caller of the script on behalf of waiters -------

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queued:
                if self._missed and self._backfiller is None:
                    # Back from the fallback: its calls go into the ring before anything newer.
                    self._backfiller = asyncio.current_task()
                    await self._backfill()
                sent = self._take_unsent()
                try:
                    # With more waiters behind, an admission claims the next slot, no
                    # sooner than the pace would let the driver come for it.
                    queued = self._queued
                    hold = self._pace.held_after(loop.time()) if queued > 1 else 0.0
                    reply = await self._ring.acquire(
                        stamped=not self._head_reserves(), sent=sent, queued=queued, hold=hold
                    )
                except (LimiterUnavailableError, ConfigurationError) as exc:
                    self._unsent += sent  # stamped by a later call: later is never unsafe
                    grant: object = exc
                    if isinstance(exc, LimiterUnavailableError) and self._degrade(exc):
                        grant = _FALLBACK
                    self._settle_all(grant)
                    continue
                self._take_snapshot(reply)
                self._back()
                if reply.admitted:
                    if not self._hand(reply):
                        await self._refund(reply)
                    else:
                        self._pace.admitted(loop.time())
                        # Paced as ExactLimiter paces its queue (a backlog goes out evenly),
                        # and no call before the next slot: the claim the reply made for
                        # the waiters behind, or the wait as it stands (unless it is past
                        # max_wait: the next call says so at once).
                        after = reply.next_wait * _US
                        if self._max_wait is not None and after > self._max_wait:
                            after = 0.0
                        delay = max(self._pace.next_at() - loop.time(), after)
                        if self._queued and delay > 0:
                            await self._sleep(delay)
                    continue
                wait = reply.value * _US
                if self._max_wait is not None and wait > self._max_wait:
                    self._settle_all(
                        QuotaExhaustedError(
                            f"rate limit: the next shared slot is {wait:.3f}s away,"
                            f" more than max_wait={self._max_wait}s",
                            retry_after=wait,
                        )
                    )
                    continue
                await self._sleep(wait)
        finally:
            self._driver = None
            # Only after a cancel (aclose, loop shutdown) is anyone left.
            self._settle_all(LimiterUnavailableError("the RedisLimiter was closed"))

    async def _sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if every waiter left (``_leave`` wakes us)."""
        loop = asyncio.get_running_loop()
        self._wake = wake = loop.create_future()
        timer = loop.call_later(seconds, _resolve, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    def _hand(self, grant: object) -> bool:
        """Give ``grant`` to the first live waiter; False if there is none."""
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            self._reservers.discard(fut)
            if not fut.done():
                self._queued -= 1
                fut.set_result(grant)
                return True
        return False

    def _head_reserves(self) -> bool:
        """Whether the first live waiter wants a reservation (the driver's next admission is for it)."""
        for fut in self._waiters:
            if not fut.done():
                return fut in self._reservers
        return False

    def _settle_all(self, outcome: object) -> None:
        """Resolve every live waiter with ``outcome``: an exception to raise, or a grant."""
        while self._waiters:
            fut = self._waiters.popleft()
            self._reservers.discard(fut)
            if fut.done():
                continue
            self._queued -= 1
            if isinstance(outcome, BaseException):
                # One exception object per waiter: a shared one would pile up tracebacks.
                own = _copy_error(outcome)
                fut.set_exception(own)
            else:
                fut.set_result(outcome)

    def _leave(self) -> None:
        """A live waiter was cancelled before being served."""
        self._queued -= 1
        if not self._queued and self._wake is not None and not self._wake.done():
            self._wake.set_result(None)  # nobody left to sleep for: let the driver stop

    def _pass_on(self, grant: object) -> None:
        """An admission whose waiter was cancelled: to the next waiter, or back to the ring."""
        if isinstance(grant, RingReply) and not self._hand(grant):
            self._spawn(self._refund(grant))

    def _refund_unused(self, call: asyncio.Task[RingReply]) -> None:
        if not call.cancelled() and call.exception() is None:
            self._pass_on(call.result())

    async def _refund(self, reply: RingReply) -> None:
        # On failure the slot stays spent (a reservation: until its lease ends):
        # quota lost, never a limit broken.
        with contextlib.suppress(LimiterUnavailableError):
            if reply.pending:
                await self._ring.unreserve(1)
            else:
                await self._ring.refund(reply.value)

    # -- stamps: reservations sent, and the fallback's calls -------------------

    def _sent(self) -> None:
        """A reservation's request left: stamp it with this process's next script call."""
        self._unsent += 1
        if self._flusher is None:
            self._flusher = self._spawn(self._flush())

    def _take_unsent(self) -> int:
        sent, self._unsent = self._unsent, 0
        return sent

    async def _flush(self) -> None:
        """Carry the stamps to Redis, one call at a time, each with all stamps since the last."""
        try:
            while self._unsent:
                sent = self._take_unsent()
                try:
                    reply = await self._ring.stamp(sent)
                except (LimiterUnavailableError, ConfigurationError):
                    # The next call that gets through carries them (later: never unsafe);
                    # meanwhile they count as pending, until their lease ends.
                    self._unsent += sent
                    return
                self._take_snapshot(reply)
                self._back()
        finally:
            self._flusher = None

    def _back(self) -> None:
        """Redis answered: stamp the calls made on the fallback, if any, into the ring."""
        if self._missed and self._backfiller is None:
            self._backfiller = self._spawn(self._backfill())

    async def _backfill(self) -> None:
        """Stamp the fallback's calls at their own times (by age, so clocks need not agree).

        Each lands at Redis's time of the call minus its age: never earlier than it
        left (the call's transit only makes it later), and no earlier than the latest
        stamp already in the ring (kept sorted: later, never unsafe). Calls older than
        the longest window are dropped: no window can hold them any more.
        """
        loop = asyncio.get_running_loop()
        horizon = max(w.seconds for w in self._limits.windows) + self._limits.margin
        try:
            while self._missed:
                times = [self._missed.popleft() for _ in range(min(_BACKFILL_CHUNK, len(self._missed)))]
                now = loop.time()
                ages = [int((now - t) * 1e6) for t in times if now - t < horizon]
                if not ages:
                    continue
                try:
                    reply = await self._ring.backfill(ages, sent=self._take_unsent())
                except (LimiterUnavailableError, ConfigurationError):
                    self._missed.extendleft(reversed(times))  # the next answer from Redis retries
                    return
                self._take_snapshot(reply)
        finally:
            self._backfiller = None

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- fallback and stats -------------------------------------------------

    def _degrade(self, exc: LimiterUnavailableError) -> bool:
        """Switch to the fallback limiter for ``fallback_retry`` seconds; False if there is none."""
        if self._fallback is None:
            return False
        now = asyncio.get_running_loop().time()
        if now >= self._degraded_until:
            logger.warning(
                "shared rate limiter unavailable (%s); using a local limit of %s for %gs",
                exc,
                ", ".join(f"{w.count}/{w.seconds:g}s" for w in self._fallback.limits.windows),
                self._fallback_retry,
            )
        self._degraded_until = now + self._fallback_retry
        return True

    def _take_snapshot(self, reply: RingReply) -> None:
        if len(reply.counts) == len(self._limits.windows):
            self._snap = reply
            self._snap_at = _now()

    def __repr__(self) -> str:
        windows = ", ".join(f"{w.count}/{w.seconds:g}s" for w in self._limits.windows)
        return f"<RedisLimiter key={self._ring.keys[0]!r} windows=[{windows}] waiting={self._queued}>"


def _client(redis: str | Redis, timeout: float) -> Redis:
    if not isinstance(redis, str):
        return redis
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:  # pragma: no cover - the redis extra is a dev dependency
        raise ConfigurationError("RedisLimiter needs redis-py: pip install 'basicai-async[redis]'") from exc
    if not redis.startswith(("redis://", "rediss://", "unix://")):
        # The URL may hold a password: say what is wrong without echoing it.
        raise ConfigurationError("the Redis URL must start with redis://, rediss:// or unix://")
    # One quick retry covers a pooled connection that died with a Redis restart;
    # more would only delay the typed error while the quota is unknown.
    return Redis.from_url(
        redis, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
    )


def _share(limits: Limits, share: float, max_wait: float | None, jitter: float) -> ExactLimiter:
    windows = tuple(Window(max(1, math.floor(w.count * share)), w.seconds) for w in limits.windows)
    return ExactLimiter(Limits(windows, margin=limits.margin), max_wait=max_wait, jitter=jitter)


def _copy_error(exc: BaseException) -> BaseException:
    if isinstance(exc, QuotaExhaustedError):
        return QuotaExhaustedError(str(exc), retry_after=exc.retry_after)
    own = type(exc)(str(exc))
    own.__cause__ = exc.__cause__
    return own


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()
