"""RedisLimiter and its ring script, against a real redis-server (small windows, real time)."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _redis_server import RedisServer, redis_server
from _redis_worker import LIMITS as WORKER_LIMITS
from redis.asyncio import Redis

from basicai_async import AsyncBasicAI, ConfigurationError, LimiterUnavailableError, QuotaExhaustedError
from basicai_async.ratelimit import BASICAI_LIMITS, Limiter, Limits, RedisLimiter, Window
from basicai_async.ratelimit._base import Pace
from basicai_async.ratelimit._ring import CLAIM_GRACE, LEASE, SharedRing, key_tag

__all__ = ["redis_server"]  # the fixture, imported for pytest

pytestmark = pytest.mark.redis

KEY = "test-key-secret"
WORKER = Path(__file__).resolve().parent / "_redis_worker.py"
US = 1_000_000
T0 = 1_700_000_000 * US  # a fixed Redis time for the script tests (the test-only clock)


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_server.url)
    yield r
    await r.aclose()


def one(count: int, seconds: float) -> Limits:
    return Limits((Window(count, seconds),))


async def ring_times(client: Redis, limiter: RedisLimiter) -> list[int]:
    """Every admission time in the ring, oldest first (the ring must not have wrapped)."""
    ring_key, meta_key = limiter.keys
    seq = int(await client.hget(meta_key, "seq") or 0)
    raw = await client.getrange(ring_key, 0, seq * 8 - 1)
    return [int(t) for (t,) in struct.iter_unpack(">d", raw)]


def over_limit(times: list[int], limits: Limits) -> int:
    """Runs of N+1 admissions within T (+margin): windows over their limit."""
    over = 0
    for w in limits.windows:
        length = round((w.seconds + limits.margin) * US)
        over += sum(1 for k in range(len(times) - w.count) if times[k + w.count] - times[k] < length)
    return over


# -- the script, on a test-only clock ------------------------------------------


async def test_the_boundary_is_exact_and_the_wait_is_exact(client: Redis) -> None:
    ring = SharedRing(client, key_tag(KEY), Limits((Window(3, 1.0), Window(5, 10.0))))
    for i in range(3):
        assert (await ring._run("A", now_us=T0 + i)).admitted
    refused = await ring._run("A", now_us=T0 + US - 1)  # just before t + T
    assert (refused.admitted, refused.value, refused.counts) == (False, 1, (3, 3))
    admitted = await ring._run("A", now_us=T0 + US)  # at t + T exactly
    assert (admitted.admitted, admitted.now, admitted.counts) == (True, T0 + US, (3, 4))
    await ring._run("A", now_us=T0 + US + 1)
    # Now the 10 s window is full: its wait is exact too.
    refused = await ring._run("A", now_us=T0 + 3 * US)
    assert (refused.admitted, refused.value) == (False, 10 * US - 3 * US)
    assert (await ring._run("A", now_us=T0 + 10 * US)).admitted


async def test_a_clock_that_steps_back_never_over_admits(client: Redis) -> None:
    ring = SharedRing(client, key_tag(KEY), one(2, 1.0))
    assert (await ring._run("A", now_us=T0)).admitted
    # Redis's clock jumps back 5 s: time stands still at the latest time used instead.
    back = await ring._run("A", now_us=T0 - 5 * US)
    assert (back.admitted, back.now) == (True, T0)
    refused = await ring._run("A", now_us=T0 - 4 * US)
    assert (refused.admitted, refused.now, refused.value) == (False, T0, US)
    assert not (await ring._run("A", now_us=T0 + US - 1)).admitted
    assert (await ring._run("A", now_us=T0 + US)).admitted


async def test_a_full_day_ring_holds_and_stays_under_8_mb(client: Redis) -> None:
    ring = SharedRing(client, key_tag(KEY), BASICAI_LIMITS)
    ring_key, meta_key = ring.keys
    first = await ring._run("A", now_us=T0)
    assert first.admitted
    # The first admission allocates the whole ring at once; fill it with a day at 10/s.
    size = 864_000
    times = [T0 + i * 100_000 for i in range(size)]
    await client.setrange(ring_key, 0, struct.pack(f">{size}d", *times))
    await client.hset(meta_key, mapping={"seq": size, "last": times[-1]})
    assert await client.memory_usage(ring_key) < 8_000_000
    day = round((86_400 + BASICAI_LIMITS.margin) * US)
    now = T0 + 86_400 * US
    refused = await ring._run("A", now_us=now)
    assert (refused.admitted, refused.value) == (False, T0 + day - now)
    assert refused.counts[3] == size
    admitted = await ring._run("A", now_us=T0 + day)
    assert admitted.admitted
    assert admitted.value == size + 1
    assert admitted.counts[3] == size  # the oldest left as the newest came in
    assert await client.memory_usage(ring_key) < 8_000_000
    # Taken back, the slot holds the oldest admission again (and only once).
    assert await ring.refund(size + 1)
    assert not await ring.refund(size + 1)
    assert await client.getrange(ring_key, 0, 7) == struct.pack(">d", T0)
    assert int(await client.hget(meta_key, "seq")) == size
    assert await client.pttl(ring_key) > 86_400_000


async def test_reservations_count_as_now_until_stamped(client: Redis) -> None:
    ring = SharedRing(client, key_tag(KEY), one(2, 1.0))
    first = await ring._run("a", now_us=T0)
    assert (first.admitted, first.next_wait, first.counts) == (True, 0, (1,))
    second = await ring._run("a", now_us=T0)
    # Full of reservations: the next wait is at least a window (they are stamped now or later).
    assert (second.admitted, second.next_wait, second.counts) == (True, US, (2,))
    refused = await ring._run("a", now_us=T0 + 5 * US)  # unsent for 5 s: still taking their places
    assert (refused.admitted, refused.value, refused.counts) == (False, US, (2,))
    one_sent = await ring._run("t", now_us=T0 + 5 * US, sent=1)  # the first left at 5
    assert one_sent.counts == (2,)
    refused = await ring._run("p", now_us=T0 + 5 * US + US // 2, sent=1)  # the second at 5.5
    assert (refused.admitted, refused.value) == (False, US // 2)  # the stamp at 5 leaves at 6
    assert (await ring._run("A", now_us=T0 + 6 * US)).admitted
    # A ring of two slots: the third stamp took the first's.
    times = [int(t) for (t,) in struct.iter_unpack(">d", await client.getrange(ring.keys[0], 0, 15))]
    assert times == [T0 + 6 * US, T0 + 5 * US + US // 2]


async def test_a_dead_processes_reservations_stop_counting_when_its_lease_ends(client: Redis) -> None:
    alive = SharedRing(client, key_tag(KEY), one(2, 1.0))
    dead = SharedRing(client, key_tag(KEY), one(2, 1.0))  # another process, gone after this
    assert (await dead._run("a", now_us=T0)).admitted
    assert (await dead._run("a", now_us=T0)).admitted
    assert not (await alive._run("a", now_us=T0 + round(LEASE * US) - 1)).admitted
    later = await alive._run("a", now_us=T0 + round(LEASE * US))
    assert (later.admitted, later.counts) == (True, (1,))
    # The lease is per process: the live one's reservation still counts, and is renewed by its calls.
    assert not any(k.startswith(b"h:") and k != alive_field(alive) for k in await client.hkeys(alive.keys[1]))


def alive_field(ring: SharedRing) -> bytes:
    return f"h:{ring._holder[0]}".encode()


async def claims_of(client: Redis, keys: tuple[str, str]) -> dict[str, int]:
    """The live claims in the meta hash: holder -> the time it was told to come back."""
    fields = await client.hgetall(keys[1])
    return {k.decode()[2:]: int(v) for k, v in fields.items() if k.startswith(b"c:")}


def holder(ring: SharedRing) -> str:
    return ring._holder[0]


async def four_stamps(client: Redis) -> SharedRing:
    """A ring of 4 per second with stamps at T0 + 0, 0.2, 0.4 and 0.6 s, by a ring that never queues."""
    first = SharedRing(client, key_tag(KEY), one(4, 1.0))
    for i in range(4):
        assert (await first._run("A", now_us=T0 + i * 200_000)).admitted
    return first


async def test_queued_processes_are_told_one_freed_slot_each_not_all_the_first(client: Redis) -> None:
    await four_stamps(client)
    waiting = [SharedRing(client, key_tag(KEY), one(4, 1.0)) for _ in range(5)]
    now = T0 + 700_000
    told = []
    for ring in waiting:
        reply = await ring._run("a", 1, now_us=now)  # one waiter queued in that process
        assert not reply.admitted
        assert reply.next_wait == reply.value
        told.append(now + reply.value)
    # The k-th in line is told when the k-th stamp leaves; past the stamps, a whole window at least.
    assert told == [T0 + US, T0 + 1_200_000, T0 + 1_400_000, T0 + 1_600_000, now + US]
    assert await claims_of(client, waiting[0].keys) == {
        holder(r): t for r, t in zip(waiting, told, strict=True)
    }
    # Asked again, a process keeps no place of its own: it goes behind the others' live claims.
    again = await waiting[0]._run("a", 1, now_us=now + 1)
    assert again.value == US  # four others' claims ahead: past the stamps


async def test_a_claim_nobody_uses_stops_counting_after_its_grace(client: Redis) -> None:
    first = await four_stamps(client)
    gone, late = (SharedRing(client, key_tag(KEY), one(4, 1.0)) for _ in range(2))
    assert (await gone._run("a", 1, now_us=T0 + 700_000)).value == 300_000  # told T0 + 1 s; never comes
    assert (await first._run("A", now_us=T0 + US)).admitted  # a call that does not queue takes that slot
    grace = round(CLAIM_GRACE * US)
    # While the claim lives, a newcomer is told the slot after it: the stamp at 0.4 s leaving.
    alive = await late._run("a", 1, now_us=T0 + US + grace - 1)
    assert alive.now + alive.value == T0 + 1_400_000
    # Past its time plus the grace, it no longer counts, and it is gone from Redis.
    dead = await late._run("a", 1, now_us=T0 + US + grace)
    assert dead.now + dead.value == T0 + 1_200_000
    assert await claims_of(client, late.keys) == {holder(late): T0 + 1_200_000}


async def test_an_admission_ends_the_claim_and_carries_the_next_when_more_wait(client: Redis) -> None:
    await four_stamps(client)
    busy, single = (SharedRing(client, key_tag(KEY), one(4, 1.0)) for _ in range(2))
    assert (await busy._run("a", 2, now_us=T0 + 700_000)).value == 300_000  # told T0 + 1 s
    assert (await single._run("a", 1, now_us=T0 + 700_000)).value == 500_000  # T0 + 1.2 s
    # busy's admission, with more waiters behind it: its next slot is after single's claim.
    admitted = await busy._run("a", 2, now_us=T0 + US)
    assert (admitted.admitted, admitted.next_wait) == (True, 400_000)
    assert await claims_of(client, busy.keys) == {
        holder(busy): T0 + 1_400_000,
        holder(single): T0 + 1_200_000,
    }
    # single's admission, nobody behind it: its claim ends, none is made; the wait as it stands.
    admitted = await single._run("a", 1, now_us=T0 + 1_200_000)
    assert (admitted.admitted, admitted.next_wait) == (True, 200_000)
    assert await claims_of(client, single.keys) == {holder(busy): T0 + 1_400_000}
    # A reservation taken back ends the claim too (nobody is waiting for it there).
    await busy._run("u", 1, now_us=T0 + 1_300_000)
    assert await claims_of(client, busy.keys) == {}


async def test_room_free_now_is_claimed_too_no_sooner_than_the_pace(client: Redis) -> None:
    paced, prompt, third = (SharedRing(client, key_tag(KEY), one(4, 1.0)) for _ in range(3))
    # More waiters behind each; paced's pace holds its driver 30 ms after this admission.
    first = await paced.acquire(stamped=False, queued=5, hold=0.03)  # on Redis's own clock
    assert (first.admitted, first.next_wait) == (True, 30_000)
    second = await prompt.acquire(stamped=False, queued=5)
    assert (second.admitted, second.next_wait) == (True, 0)  # the room left: claimed, at once
    claims = await claims_of(client, paced.keys)
    assert claims == {holder(paced): first.now + 30_000, holder(prompt): second.now}
    # Three reservations and two claims for four places: the third's next is a window away
    # at the soonest, not a race for the place the others claimed.
    last = await third.acquire(stamped=False, queued=5)
    assert (last.admitted, last.next_wait, last.counts) == (True, US, (3,))


def test_the_pace_says_how_long_one_more_admission_would_hold_the_queue() -> None:
    pace = Pace(BASICAI_LIMITS)  # 4 per 42 ms
    assert pace.held_after(10.0) == 0.0
    for _ in range(3):
        pace.admitted(10.0)
    assert pace.held_after(10.01) == pytest.approx(0.032)  # the 4th fills the slot: held to its end
    assert pace.next_at() == -math.inf  # asking recorded nothing
    pace.admitted(10.01)
    assert pace.next_at() == pytest.approx(10.042)


async def test_try_acquire_and_peeks_never_claim(client: Redis) -> None:
    first = await four_stamps(client)
    refused = await first._run("a", 0, now_us=T0 + 700_000)  # try_acquire: no waiter queued
    assert (refused.admitted, refused.value) == (False, 300_000)
    await first._run("p", now_us=T0 + 700_000)
    assert await claims_of(client, first.keys) == {}
    limiter = RedisLimiter(client, api_key=f"{KEY}-2", limits=one(1, 10.0), max_wait=None)
    assert await limiter.try_acquire()
    assert not await limiter.try_acquire()
    await limiter.refresh()
    assert await claims_of(client, limiter.keys) == {}
    # A queued waiter's refused call is one.
    waiter = asyncio.create_task(limiter.acquire())
    while limiter.script_calls < 4:
        await asyncio.sleep(0.001)
    assert list(await claims_of(client, limiter.keys)) == [holder(limiter._ring)]
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await limiter.aclose()


async def test_backfilled_calls_land_at_their_own_times_in_order(client: Redis) -> None:
    ring = SharedRing(client, key_tag(KEY), one(5, 10.0))
    assert (await ring._run("A", now_us=T0)).admitted
    # Three calls made 3 s, 2 s and 0.5 s before this call (on a fallback); the one at
    # T0 + 1 s would land before the stamp at T0 + 2 s... no: 3 s before T0 + 4 s is T0 + 1 s.
    reply = await ring._run("b", now_us=T0 + 4 * US, ages=(3 * US, 2 * US, US // 2))
    assert reply.counts == (4,)
    raw = await client.getrange(ring.keys[0], 0, 31)
    times = [int(t) for (t,) in struct.iter_unpack(">d", raw)]
    assert times == [T0, T0 + US, T0 + 2 * US, T0 + 4 * US - US // 2]
    # One older than the latest stamp is counted at the latest stamp: later, never earlier.
    await ring._run("b", now_us=T0 + 5 * US, ages=(4 * US,))
    times = [int(t) for (t,) in struct.iter_unpack(">d", await client.getrange(ring.keys[0], 32, 39))]
    assert times == [T0 + 4 * US - US // 2]


async def test_next_slot_in_shows_the_wait_right_after_an_admission_that_filled_a_window(
    client: Redis,
) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(2, 1.0))
    started = time.monotonic()
    await limiter.acquire()
    assert limiter.stats().next_slot_in == 0.0
    await limiter.acquire()
    # Full: the wait (what is left of the first admission's second), not 0.
    assert 1.0 - (time.monotonic() - started) - 0.01 <= limiter.stats().next_slot_in <= 1.0
    slot = await asyncio.wait_for(limiter.reserve(), 5)
    assert slot.waited > 0.5
    other = await asyncio.wait_for(limiter.reserve(), 5)
    # Full again (two unsent, or one and the second stamp): a window away at the soonest.
    assert 0.5 < limiter.stats().next_slot_in <= 1.0
    slot.sent()
    other.sent()
    await limiter.aclose()  # lets the stamps land


async def test_reservations_are_stamped_in_batches_when_they_leave(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(20, 1.0))
    slots = [await limiter.reserve() for _ in range(10)]
    assert limiter.script_calls == 10
    assert int(await client.hget(limiter.keys[1], "seq") or 0) == 0  # none left yet
    for slot in slots:
        slot.sent()  # in one go: one call carries all ten stamps
    await limiter.aclose()
    assert limiter.script_calls == 11
    assert int(await client.hget(limiter.keys[1], "seq") or 0) == 10
    assert not [k for k in await client.hkeys(limiter.keys[1]) if k.startswith(b"h:")]


async def test_limiters_reserving_with_send_lags_never_put_n_plus_one_sends_in_a_window(
    client: Redis,
) -> None:
    limits = Limits((Window(8, 0.25), Window(1000, 100.0)), margin=0.0)
    limiters = [RedisLimiter(client, api_key=KEY, limits=limits, max_wait=None) for _ in range(2)]
    rng = random.Random(18)
    loop = asyncio.get_running_loop()
    end = loop.time() + 1.0

    async def worker(limiter: RedisLimiter) -> None:
        while loop.time() < end:
            slot = await limiter.reserve()
            await asyncio.sleep(rng.choice([0.0, 0.0, 0.02, 0.08]))  # a backlog before the send
            slot.sent()

    await asyncio.gather(*(worker(limiters[i % 2]) for i in range(12)))
    for limiter in limiters:
        await limiter.aclose()
    times = await ring_times(client, limiters[0])
    assert len(times) >= 24  # 8 per 0.25 s for ~1 s: the quota was used
    assert over_limit(times, limits) == 0


async def test_keys_share_a_hash_tag_of_the_key_never_the_key(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(2, 1.0))
    await limiter.acquire()
    keys = sorted(k.decode() for k in await client.keys("*"))
    assert keys == sorted(limiter.keys)
    tag = key_tag(KEY)
    assert keys == [f"basicai:{{{tag}}}:meta", f"basicai:{{{tag}}}:ring"]
    assert all(KEY not in k for k in keys)
    assert KEY not in repr(limiter)
    assert 0 < await client.pttl(limiter.keys[0]) <= 2000


async def test_workers_with_other_limits_get_a_clear_error(client: Redis) -> None:
    await RedisLimiter(client, api_key=KEY, limits=one(2, 1.0)).acquire()
    other = RedisLimiter(client, api_key=KEY, limits=one(3, 1.0))
    with pytest.raises(ConfigurationError, match=r"other limits \(2/1000000us\)"):
        await other.acquire()
    with pytest.raises(ConfigurationError):
        await other.try_acquire()


# -- the limiter in one process ------------------------------------------------


async def test_waiters_go_in_arrival_order_and_only_the_head_calls(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(4, 0.2), max_wait=None)
    assert isinstance(limiter, Limiter)
    order: list[int] = []

    async def caller(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    await asyncio.gather(*(caller(i) for i in range(12)))
    assert order == list(range(12))
    # One call per admission plus one per wait (three full windows): no polling.
    assert limiter.script_calls <= 12 + 3 * 2
    assert over_limit(await ring_times(client, limiter), limiter.limits) == 0
    stats = await limiter.refresh()
    assert stats.admitted == 12
    assert stats.waiting == 0
    assert stats.total_wait > 0.3
    assert stats.windows[0].remaining < 4


async def test_processes_contending_for_a_full_window_make_about_two_calls_per_admission(
    client: Redis,
) -> None:
    # Four limiters (four holders, as four processes would be) keep a 1 s window full for
    # 2 s, their calls reserved and then sent, as the client's are.
    limits = Limits((Window(10, 0.25), Window(30, 1.0), Window(1000, 100.0)), margin=0.0)
    limiters = [RedisLimiter(client, api_key=KEY, limits=limits, max_wait=None) for _ in range(4)]
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.0

    async def worker(limiter: RedisLimiter) -> None:
        while loop.time() < end:
            slot = await limiter.reserve()
            slot.sent()

    tasks = [asyncio.create_task(worker(limiters[i % 4])) for i in range(32)]
    await asyncio.sleep(2.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for limiter in limiters:
        await limiter.aclose()
    times = await ring_times(client, limiters[0])
    admitted = sum(limiter.stats().admitted for limiter in limiters)
    calls = sum(limiter.script_calls for limiter in limiters)
    assert len(times) == admitted >= 50  # 30 in the first second, most of 30 more in the next
    assert over_limit(times, limits) == 0
    # The admitting call and the stamp, and few refused: each process woke for its own slot.
    assert calls / admitted <= 2.25, (calls, admitted)  # 2.7 when they all woke for the same slot


async def test_cancellation_storms_lose_no_admission_and_never_deadlock(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(50, 0.2), max_wait=None)
    got = 0

    async def caller() -> None:
        nonlocal got
        await limiter.acquire()
        got += 1

    for round_ in range(6):
        tasks = [asyncio.create_task(caller()) for _ in range(40)]
        for skip in range(round_ % 3):
            await asyncio.sleep(0)  # cancel at different points: queued, in flight, granted
            del skip
        for task in tasks[::2]:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(5))), 10)
    await limiter.aclose()  # waits for refunds of granted-then-cancelled waiters to land
    seq = int(await client.hget(limiter.keys[1], "seq") or 0)
    assert seq == got  # every admission in the ring was used by a caller
    assert limiter.stats().waiting == 0


async def test_try_acquire_never_waits(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(2, 0.5))
    assert await limiter.try_acquire()
    assert await limiter.try_acquire()
    assert not await limiter.try_acquire()
    assert 0 < limiter.stats().next_slot_in <= 0.5
    await limiter.pause(1.0)
    assert 0.9 < limiter.stats().paused_for <= 1.1  # jitter: up to 10% longer


async def test_max_wait_refuses_every_queued_waiter_at_once(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(1, 30.0), max_wait=1.0)
    await limiter.acquire()
    results = await asyncio.gather(*(limiter.acquire() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, QuotaExhaustedError) and r.retry_after > 29 for r in results)
    assert limiter.script_calls == 2


async def test_script_flush_mid_run_recovers(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(100, 1.0))
    for _ in range(3):
        await limiter.acquire()
    await client.script_flush()
    for _ in range(3):
        await limiter.acquire()
    assert int(await client.hget(limiter.keys[1], "seq") or 0) == 6


async def test_redis_killed_mid_run_fails_closed(redis_server: RedisServer) -> None:
    limiter = RedisLimiter(redis_server.url, api_key=KEY, limits=one(100, 1.0), timeout=1.0)
    await limiter.acquire()
    redis_server.kill()
    results = await asyncio.gather(*(limiter.acquire() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, LimiterUnavailableError) for r in results), results
    with pytest.raises(LimiterUnavailableError):
        await limiter.pause(1.0)
    with pytest.raises(LimiterUnavailableError):
        await limiter.try_acquire()
    await limiter.aclose()


async def test_redis_killed_mid_run_falls_back_to_a_share_when_asked(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisLimiter(
        redis_server.url,
        api_key=KEY,
        limits=Limits((Window(10, 1.0), Window(20, 10.0))),
        fallback_share=0.2,
        fallback_retry=0.5,
    )
    await limiter.acquire()
    redis_server.kill()
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, "basicai_async"):
        start = loop.time()
        for _ in range(3):  # the fallback allows 2 per second
            await limiter.acquire()
        assert loop.time() - start >= 0.9
    assert "local limit of 2/1s, 4/10s for 0.5s" in caplog.text
    redis_server.start()  # back (empty): after fallback_retry the shared ring is used again
    await asyncio.sleep(0.5)
    calls = limiter.script_calls
    await limiter.acquire()
    # One call stamps the fallback's three calls into the ring, at their own times, then the admission.
    assert limiter.script_calls == calls + 2
    await limiter.aclose()
    client = Redis.from_url(redis_server.url)
    times = await ring_times(client, limiter)
    await client.aclose()
    assert len(times) == 4
    assert 0.9 * US <= times[2] - times[0] <= 1.2 * US  # the fallback's 3rd call came a second after its 1st
    assert times[3] - times[2] >= 0.4 * US  # and the admission half a second after that


async def test_a_waiter_queued_behind_a_long_wait_leaves_and_the_driver_stops(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(1, 30.0), max_wait=None)
    await limiter.acquire()
    task = asyncio.create_task(limiter.acquire())
    while limiter.script_calls < 2 or not limiter.stats().next_slot_in:
        await asyncio.sleep(0.001)  # until the driver has heard the wait and sleeps on it
    assert limiter.stats().waiting == 1
    assert limiter.stats().next_slot_in > 29
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert limiter.stats().waiting == 0
    await limiter.aclose()


# -- across processes ----------------------------------------------------------


def run_worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


async def test_processes_hammering_one_key_never_exceed_a_window(
    redis_server: RedisServer, client: Redis
) -> None:
    procs = [run_worker("hammer", redis_server.url, KEY, "1.5", "20") for _ in range(3)]
    counts = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    probe = RedisLimiter(client, api_key=KEY, limits=WORKER_LIMITS)
    times = await ring_times(client, probe)
    assert len(times) == sum(counts)  # each admission used by one worker
    assert over_limit(times, WORKER_LIMITS) == 0
    # And the quota was used: 25/s for ~1.5 s, in three processes.
    assert sum(counts) >= 25


async def test_a_429_in_one_process_pauses_the_others(redis_server: RedisServer, client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=WORKER_LIMITS, jitter=0.0)
    await limiter.acquire()
    proc = run_worker("pause", redis_server.url, KEY, "1.0")
    assert proc.stdout is not None
    assert await asyncio.to_thread(proc.stdout.readline) == "ready\n"
    started = time.monotonic()  # the worker pauses after this, whenever it got started
    assert proc.communicate("go\n", timeout=30)[0].strip() == "paused"
    stats = await limiter.refresh()
    # At least what is left of the pause since `started` (measured, not guessed).
    elapsed = time.monotonic() - started
    assert elapsed < 0.9, f"the pause took {elapsed:.2f} s to be seen: too slow to test it"
    assert 1.0 - elapsed - 0.01 <= stats.paused_for <= 1.0
    waited = await limiter.acquire()
    assert waited >= stats.paused_for - 0.01


# -- configuration -------------------------------------------------------------


async def test_the_client_takes_a_redis_url_or_the_environment(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = AsyncBasicAI(KEY, base_url="http://127.0.0.1:9", redis_url=redis_server.url)
    assert isinstance(client.limiter, RedisLimiter)
    await client.limiter.acquire()
    await client.close()
    monkeypatch.setenv("BASICAI_REDIS_URL", redis_server.url)
    client = AsyncBasicAI(KEY, base_url="http://127.0.0.1:9")
    assert isinstance(client.limiter, RedisLimiter)
    await client.close()
    given = RedisLimiter(redis_server.url, api_key=KEY)
    assert AsyncBasicAI(KEY, base_url="http://127.0.0.1:9", limiter=given).limiter is given
    await given.aclose()


async def test_the_clients_calls_through_redis_are_stamped_as_they_leave(redis_server: RedisServer) -> None:
    from basicai_async.emulator import Emulator

    async with (
        Emulator({KEY: "team-a"}) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, redis_url=redis_server.url) as client,
    ):
        limiter = client.limiter
        assert isinstance(limiter, RedisLimiter)
        await asyncio.gather(*(client.request("GET", "/dataset/list") for _ in range(5)))
        keys = limiter.keys
    # Closing the client carried the last stamps: five sends in the ring, no reservation left.
    probe = Redis.from_url(redis_server.url)
    try:
        assert int(await probe.hget(keys[1], "seq") or 0) == 5
        assert not [k for k in await probe.hkeys(keys[1]) if k.startswith(b"h:")]
    finally:
        await probe.aclose()
    assert len(emu.requests(KEY)) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_wait": -1}, "max_wait"),
        ({"jitter": -1}, "jitter"),
        ({"timeout": 0}, "timeout"),
        ({"fallback_share": 1.5}, "fallback_share"),
        ({"fallback_retry": 0}, "fallback_retry"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RedisLimiter("redis://127.0.0.1:9", api_key=KEY, **kwargs)  # type: ignore[arg-type]


def test_a_key_and_a_redis_url_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASICAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="API key"):
        RedisLimiter("redis://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=r"redis://") as info:
        RedisLimiter("http://user:hunter2@host", api_key=KEY)
    assert "hunter2" not in str(info.value)


def test_the_cli_takes_redis_url(redis_server: RedisServer, emulator_process: Any) -> None:
    import redis

    from basicai_async import cli

    with emulator_process(KEY) as url:
        args = ["--api-key", KEY, "--base-url", url, "--redis-url", redis_server.url, "datasets", "list"]
        assert cli.main(args) == 0
    probe = RedisLimiter(redis_server.url, api_key=KEY)
    with redis.Redis.from_url(redis_server.url) as sync:
        assert int(sync.hget(probe.keys[1], "seq") or 0) == 1  # the one list call, shared


# -- cancellation, one path at a time ------------------------------------------


async def seq_of(client: Redis, limiter: RedisLimiter) -> int:
    return int(await client.hget(limiter.keys[1], "seq") or 0)


async def test_a_waiter_cancelled_while_its_call_is_in_flight_costs_nothing(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(5, 10.0))
    task = asyncio.create_task(limiter.acquire())
    while not limiter.script_calls:
        await asyncio.sleep(0)  # until the driver has sent the script call
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await limiter.aclose()  # lets the call land and the refund run
    assert limiter.script_calls == 2  # the acquire, then the refund
    assert await seq_of(client, limiter) == 0


async def test_a_waiter_cancelled_after_its_grant_hands_it_to_the_next(
    client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(5, 10.0))
    first = asyncio.create_task(limiter.acquire())
    second = asyncio.create_task(limiter.acquire())
    real = SharedRing.acquire

    async def cancel_first_once_granted(ring: SharedRing, **kwargs: Any) -> Any:
        reply = await real(ring, **kwargs)
        if not first.done():
            # Runs after the driver grants ``first`` and before ``first`` resumes.
            asyncio.get_running_loop().call_soon(first.cancel)
        return reply

    monkeypatch.setattr(SharedRing, "acquire", cancel_first_once_granted)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == pytest.approx(0, abs=1)
    await limiter.aclose()
    # first's admission went to second; the call made for second came back for nobody.
    assert await seq_of(client, limiter) == 1
    assert limiter.stats().admitted == 1


async def test_a_try_acquire_cancelled_in_flight_costs_nothing(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(5, 10.0))
    task = asyncio.create_task(limiter.try_acquire())
    while not limiter.script_calls:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    while limiter.script_calls < 2:
        await asyncio.sleep(0.001)  # the call lands, then its admission is taken back
    await limiter.aclose()
    assert await seq_of(client, limiter) == 0


async def test_try_acquire_never_jumps_the_local_queue(client: Redis) -> None:
    limiter = RedisLimiter(client, api_key=KEY, limits=one(1, 10.0), max_wait=None)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.stats().waiting == 1
    assert not await limiter.try_acquire()
    await limiter.aclose()  # the queued waiter is told, not left hanging
    with pytest.raises(LimiterUnavailableError, match="closed"):
        await waiter
    with pytest.raises(ValueError, match="pause"):
        await limiter.pause(-1)
    assert limiter.max_wait is None


async def test_the_fallback_serves_try_acquire_pause_and_stats(redis_server: RedisServer) -> None:
    limiter = RedisLimiter(redis_server.url, api_key=KEY, limits=one(10, 5.0), fallback_share=0.2)
    redis_server.kill()
    assert await limiter.try_acquire()  # Redis fails: the fallback (2 per 5 s) answers
    assert await limiter.try_acquire()
    assert not await limiter.try_acquire()
    await limiter.pause(0.5)
    stats = limiter.stats()
    assert stats.windows[0].count == 2
    assert stats.windows[0].remaining == 0
    assert stats.paused_for > 0.4
    await limiter.aclose()


def test_stats_work_outside_the_loop(redis_server: RedisServer) -> None:
    stats = RedisLimiter(redis_server.url, api_key=KEY, limits=one(3, 1.0)).stats()
    assert (stats.windows[0].remaining, stats.admitted, stats.next_slot_in) == (3, 0, 0.0)


async def test_a_redis_password_never_reaches_a_repr_or_an_error() -> None:
    """The Redis URL may hold a password: neither the limiter's repr nor its errors quote it."""
    password = "hunter2-redis-PASSWORD"
    with pytest.raises(ConfigurationError) as wrong_scheme:
        RedisLimiter(f"http://:{password}@127.0.0.1:9/0", api_key=KEY)
    assert password not in str(wrong_scheme.value)
    # Port 9 (discard) refuses at once: the limiter fails closed, saying why without the URL's password.
    limiter = RedisLimiter(f"redis://:{password}@127.0.0.1:9/0", api_key=KEY, timeout=5.0)
    try:
        assert password not in repr(limiter)
        assert KEY not in repr(limiter)
        with pytest.raises(LimiterUnavailableError) as caught:
            await limiter.try_acquire()
    finally:
        await limiter.aclose()
    exc: BaseException | None = caught.value
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for text in (str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))):
            assert password not in text
        exc = exc.__cause__ or exc.__context__
