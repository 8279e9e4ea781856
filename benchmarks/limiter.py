"""Benchmark the exact limiter: correctness over 25 virtual hours, and what it costs.

Run ``python benchmarks/limiter.py``. Measures, in one run:

- ``violations``: over 25 hours of saturating demand (200 tasks calling
  ``acquire`` in a loop, on a looptime event loop whose clock jumps to the next
  timer), how many runs of N+1 consecutive admissions fit in T seconds for some
  BasicAI window (N, T): each one is a window over its limit. Must be 0.
- ``utilization_min``: for each window, the admissions in its first full period
  over its count; the smallest ratio (target >= 0.999).
- ``acquire_vs_aiolimiter``: uncontended ``ExactLimiter.acquire`` (four windows,
  never full) over ``aiolimiter.AsyncLimiter.acquire`` (a rate so high it never
  waits), both on the same real event loop (target <= 2.0).
- ``waiters_scaling``: real time per admission with 10,000 queued waiters over
  that with 10 (target <= 2.0): O(1) per admission, one timer.
- ``state_bytes``: the memory of a limiter over BasicAI's limits (target <= 8 MiB).

The last line printed is one JSON object with these numbers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import looptime
from aiolimiter import AsyncLimiter

from basicai_async.ratelimit import BASICAI_LIMITS, ExactLimiter, Limits, Window

__all__ = ["main"]

HOURS = 25
WORKERS = 200
T = TypeVar("T")


def run_virtual(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh looptime loop starting at 0 (virtual time)."""
    loop = looptime.new_event_loop(start=0.0)
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()


async def saturate(end: float) -> list[float]:
    """Admission times under saturating demand from 0 until ``end`` (virtual seconds)."""
    loop = asyncio.get_running_loop()
    limiter = ExactLimiter(BASICAI_LIMITS, max_wait=None)
    times: list[float] = []

    async def worker() -> None:
        while True:
            await limiter.acquire()
            now = loop.time()
            if now >= end:
                return
            times.append(now)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return times


def violations(times: list[float], limits: Limits) -> int:
    """Runs of N+1 admissions inside T seconds (the server's strictest reading, no margin)."""
    over = 0
    for window in limits.windows:
        n, seconds = window.count, window.seconds
        over += sum(1 for k in range(len(times) - n) if times[k + n] < times[k] + seconds)
    return over


def utilization(times: list[float], limits: Limits) -> float:
    """The smallest admitted/allowed ratio over each window's first full period."""
    return min(bisect_left(times, w.seconds) / w.count for w in limits.windows)


async def per_call(acquire: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await acquire()
    return (time.perf_counter() - start) / calls


async def acquire_ratio() -> float:
    """Uncontended acquire: ExactLimiter over aiolimiter, best of interleaved rounds."""
    calls, rounds = 50_000, 7
    roomy = Limits(tuple(Window(calls * rounds + 1, w.seconds) for w in BASICAI_LIMITS.windows))
    ours = ExactLimiter(roomy, max_wait=None)
    theirs = AsyncLimiter(1e12, 1)
    best_ours = best_theirs = float("inf")
    for _ in range(rounds):
        best_theirs = min(best_theirs, await per_call(theirs.acquire, calls))
        best_ours = min(best_ours, await per_call(ours.acquire, calls))
    if ours.stats().total_wait:
        raise RuntimeError("the ExactLimiter was contended: the comparison is void")
    print(f"uncontended acquire: ExactLimiter {best_ours * 1e6:.2f} us,", end=" ")
    print(f"aiolimiter {best_theirs * 1e6:.2f} us")
    return best_ours / best_theirs


async def many_waiters(total: int) -> float:
    """Real seconds per admission with ``total`` tasks queued at once, one acquire each."""
    limiter = ExactLimiter(BASICAI_LIMITS, max_wait=None)
    tasks = [asyncio.create_task(limiter.acquire()) for _ in range(total)]
    await asyncio.sleep(0)  # every task has called acquire: the queue is full
    if limiter.stats().waiting != total - 100:
        raise RuntimeError("the waiters did not all queue")
    start = time.perf_counter()
    await asyncio.gather(*tasks)
    return (time.perf_counter() - start) / (total - 100)


async def few_waiters(workers: int, total: int) -> float:
    """Real seconds per admission with ``workers`` tasks acquiring in a loop, ``total`` in all."""
    limiter = ExactLimiter(BASICAI_LIMITS, max_wait=None)

    async def worker() -> None:
        for _ in range(total // workers):
            await limiter.acquire()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return (time.perf_counter() - start) / total


def state_bytes(limiter: ExactLimiter) -> int:
    """The limiter's own memory: its slots, the ring's buffer included."""
    return sys.getsizeof(limiter) + sum(
        sys.getsizeof(getattr(limiter, name)) for name in ExactLimiter.__slots__ if hasattr(limiter, name)
    )


def main() -> dict[str, object]:
    began = time.perf_counter()

    end = HOURS * 3600.0
    times = run_virtual(lambda: saturate(end))
    over = violations(times, BASICAI_LIMITS)
    used = utilization(times, BASICAI_LIMITS)
    print(f"{HOURS} virtual hours: {len(times)} admissions, {over} violations, utilization_min {used:.6f}")

    ratio = asyncio.run(acquire_ratio())

    crowd = min(run_virtual(lambda: many_waiters(10_000)) for _ in range(3))
    few = min(run_virtual(lambda: few_waiters(10, 10_000)) for _ in range(3))
    scaling = crowd / few
    print(f"per admission: 10,000 waiters {crowd * 1e6:.2f} us, 10 waiters {few * 1e6:.2f} us")

    full = ExactLimiter(BASICAI_LIMITS)
    for i in range(864_000):  # 10/s for a day fills the ring to its wrap point
        full._admit(i * 0.1)
    size = state_bytes(full)
    print(f"state for BasicAI's limits: {size} bytes; took {time.perf_counter() - began:.1f} s")
    return {
        "benchmark": "limiter",
        "violations": over,
        "utilization_min": round(used, 6),
        "acquire_vs_aiolimiter": round(ratio, 3),
        "waiters_scaling": round(scaling, 3),
        "state_bytes": size,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
