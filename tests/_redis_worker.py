"""One worker process of the Redis limiter tests: ``python _redis_worker.py MODE URL KEY ...``.

``hammer URL KEY SECONDS TASKS``: TASKS tasks call ``acquire`` until SECONDS
pass; prints the number of admissions. ``pause URL KEY SECONDS``: prints
``ready`` once started, waits for a line on stdin, then pauses the shared limiter as
a 429 would, and prints ``paused`` (so the test times the pause, not the start-up). Limits: ``LIMITS`` below,
as the tests expect.
"""

from __future__ import annotations

import asyncio
import sys

from basicai_async.ratelimit import Limits, RedisLimiter, Window

LIMITS = Limits((Window(10, 0.25), Window(25, 1.0), Window(1000, 100.0)), margin=0.0)


async def hammer(url: str, key: str, seconds: float, tasks: int) -> int:
    limiter = RedisLimiter(url, api_key=key, limits=LIMITS, max_wait=None)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    admitted = 0

    async def worker() -> None:
        nonlocal admitted
        while loop.time() < end:
            await limiter.acquire()
            admitted += 1

    await asyncio.gather(*(worker() for _ in range(tasks)))
    await limiter.aclose()
    return admitted


async def pause(url: str, key: str, seconds: float) -> None:
    limiter = RedisLimiter(url, api_key=key, limits=LIMITS, jitter=0.0)
    await limiter.refresh()  # connected
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await limiter.pause(seconds)
    await limiter.aclose()


if __name__ == "__main__":
    mode, url, key, *rest = sys.argv[1:]
    if mode == "hammer":
        print(asyncio.run(hammer(url, key, float(rest[0]), int(rest[1]))), flush=True)
    else:
        asyncio.run(pause(url, key, float(rest[0])))
        print("paused", flush=True)
