"""Several worker processes share one API key's quota through Redis.

Each worker is its own process with its own ``AsyncBasicAI``. Because they all
point at the same Redis, BasicAI's per-key limits (100/s, 3,000/min, 72,000/h,
864,000/day) hold for all of them together, exactly, instead of each worker
spending the whole quota and the key drowning in 429s::

    export BASICAI_API_KEY=...            # the key the workers share
    export BASICAI_REDIS_URL=redis://localhost:6379/0
    python examples/shared_quota_workers.py --workers 4 --calls 50

(Run Redis with ``maxmemory-policy noeviction``: the limiter's state must not be evicted.)
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys

from basicai_async import AsyncBasicAI, RedisLimiter


async def work(worker: int, calls: int) -> tuple[int, float]:
    """One worker: ``calls`` API calls; returns (calls made, seconds waited for the quota)."""
    async with AsyncBasicAI() as client:  # BASICAI_REDIS_URL makes its limiter a RedisLimiter
        limiter = client.limiter
        assert isinstance(limiter, RedisLimiter), "set BASICAI_REDIS_URL or pass --redis-url"

        async def one_call() -> None:
            await client.request("GET", "/dataset/list", params={"pageNo": 1, "pageSize": 1})

        await asyncio.gather(*(one_call() for _ in range(calls)))
        stats = await limiter.refresh()  # the shared ring, as every worker sees it
        second = stats.windows[0]
        print(
            f"worker {worker}: {calls} calls, waited {stats.total_wait:.2f}s;"
            f" {second.remaining} of {second.count} left this second for the whole key",
            flush=True,
        )
        return calls, stats.total_wait


def run_worker(args: tuple[int, int]) -> tuple[int, float]:
    return asyncio.run(work(*args))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--calls", type=int, default=50, help="API calls per worker (default 50)")
    parser.add_argument("--redis-url", help="the shared Redis (default: $BASICAI_REDIS_URL)")
    args = parser.parse_args()
    if args.redis_url:
        os.environ["BASICAI_REDIS_URL"] = args.redis_url  # inherited by the workers
    if not os.environ.get("BASICAI_REDIS_URL"):
        print("set BASICAI_REDIS_URL or pass --redis-url", file=sys.stderr)
        return 2
    # spawn: each worker starts a fresh interpreter, as separate services would.
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(run_worker, [(i, args.calls) for i in range(args.workers)])
    total = sum(calls for calls, _ in results)
    print(f"{args.workers} workers made {total} calls through one shared quota")
    return 0


if __name__ == "__main__":
    sys.exit(main())
