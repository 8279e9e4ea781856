"""Benchmark the shared limiter: 4 processes, one key, one Redis, against the emulator.

Run ``python benchmarks/shared_quota.py [--seconds 60]`` (needs ``redis-server`` on
PATH). It starts a redis-server and the emulator, each in its own process, the
emulator enforcing scaled limits (20/s and 300/20 s) exactly. Then 4 worker
processes, each with many tasks, call the API through ``AsyncBasicAI(redis_url=...)``
with those limits for about 60 s. Measured, in one run:

- ``violations``: windows over their limit in the emulator's request log (every
  arrival counted, on the emulator's clock). Target 0.
- ``server_429``: requests the emulator refused. Target 0.
- ``utilization``: requests served / the most the windows allow from the run's
  first request to its last (a greedy schedule on the server's windows: the
  binding window is whichever stops it). Target >= 0.95.
- ``acquire_ms_p50``: the median real time of one uncontended ``acquire`` (one
  script round trip through the driver), next to a bare Redis ``PING`` round trip
  from the same process, the baseline printed before the last line.
- ``script_calls_per_admission``: script calls of all processes / admissions.
  Target <= 3 (waiters sleep the exact wait; nobody polls).

The last line printed is one JSON object with these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from basicai_async import AsyncBasicAI, RedisLimiter
from basicai_async.emulator import Emulator
from basicai_async.ratelimit import BASICAI_LIMITS, Limits, Window

__all__ = ["main"]

PROCESSES = 4
TASKS = 50
KEY = "shared-quota-bench"
WINDOWS = (Window(20, 1.0), Window(300, 20.0))
SERVER_LIMITS = Limits(WINDOWS, margin=0.0)
# BasicAI's default margin. A request admitted on Redis's clock may leave tens of
# milliseconds later on a loaded machine; it is counted from when it left (its
# stamp), so the margin only covers the way from the socket to the emulator.
CLIENT_LIMITS = Limits(WINDOWS, margin=BASICAI_LIMITS.margin)


def most_allowed(span: float, windows: tuple[Window, ...] = WINDOWS) -> int:
    """The most requests any schedule could make in ``[0, span]`` within ``windows`` (the server's).

    Greedy admission (each as early as every window allows) is the schedule that
    fits the most; the binding window is whichever stops it.
    """
    times: list[float] = []
    t = 0.0
    while True:
        for w in windows:
            if len(times) >= w.count:
                t = max(t, times[-w.count] + w.seconds)
        if t > span:
            return len(times)
        times.append(t)


async def emulator_main() -> None:
    """The emulator process: print the URL, serve until stdin closes, print the log's verdict."""
    async with Emulator({KEY: "bench"}, limits=SERVER_LIMITS) as emu:
        print(emu.base_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        records = emu.requests(KEY)
        times = [r.time for r in records]
        over = sum(1 for w in WINDOWS if emu.max_window_count(KEY, w.seconds) > w.count)
        span = times[-1] - times[0] if times else 0.0
        served = sum(1 for r in records if r.status == 200)
        allowed = most_allowed(span)
        verdict = {
            "violations": over,
            "server_429": sum(1 for r in records if r.status == 429),
            "served": served,
            "allowed": allowed,
            "span": span,
            "busiest": [emu.max_window_count(KEY, w.seconds) for w in WINDOWS],
        }
        print(json.dumps(verdict), flush=True)


async def worker_main(base_url: str, redis_url: str, seconds: float) -> None:
    """One worker process: time uncontended acquires, then hammer the API for ``seconds``."""
    # Uncontended acquires on a key of their own (roomy limits), and the PING baseline.
    roomy = Limits((Window(10_000, 1),))
    probe = RedisLimiter(redis_url, api_key=f"{KEY}-probe-{time.time_ns()}", limits=roomy)
    acquire_ms = []
    for _ in range(300):
        start = time.perf_counter()
        await probe.acquire()
        acquire_ms.append((time.perf_counter() - start) * 1000)
    from redis.asyncio import Redis

    bare = Redis.from_url(redis_url)
    ping_ms = []
    for _ in range(300):
        start = time.perf_counter()
        await bare.ping()
        ping_ms.append((time.perf_counter() - start) * 1000)
    await bare.aclose()
    await probe.aclose()

    async with AsyncBasicAI(
        KEY, base_url=base_url, redis_url=redis_url, limits=CLIENT_LIMITS, max_wait=None
    ) as client:
        page = {"pageNo": 1, "pageSize": 1}
        done = await keep_calling(lambda: client.request("GET", "/dataset/list", params=page), TASKS, seconds)
        limiter = client.limiter
        assert isinstance(limiter, RedisLimiter)
        result = {
            "admitted": limiter.stats().admitted,
            "script_calls": limiter.script_calls,
            "done": done,
            "acquire_ms_p50": statistics.median(acquire_ms),
            "ping_ms_p50": statistics.median(ping_ms),
        }
    print(json.dumps(result), flush=True)


async def keep_calling(call: Callable[[], Awaitable[object]], tasks: int, seconds: float) -> int:
    """``tasks`` tasks awaiting ``call`` over and over for ``seconds``; the calls completed.

    At the deadline every task is cancelled, queued ones included: a cancelled
    waiter costs no quota, and the run ends when it says it does.
    """
    done = 0

    async def task() -> None:
        nonlocal done
        while True:
            await call()
            done += 1

    running = [asyncio.create_task(task()) for _ in range(tasks)]
    await asyncio.sleep(seconds)
    for t in running:
        t.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    return done


def run_workers(
    me: str, base_url: str, redis_url: str, seconds: float, processes: int = PROCESSES
) -> list[dict[str, Any]]:
    """``processes`` copies of script ``me`` run with ``--worker``; the JSON each printed last."""
    workers = [
        subprocess.Popen(
            [sys.executable, me, "--worker", base_url, redis_url, "--seconds", str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for proc in workers:
        out, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode:
            raise SystemExit(f"a worker failed with exit code {proc.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(directory: str) -> tuple[subprocess.Popen[str], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (make redis installs it)")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", ""]
    args += ["--appendonly", "no", "--maxmemory-policy", "noeviction", "--logfile", ""]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            return proc, f"redis://127.0.0.1:{port}/0"
    raise SystemExit("redis-server did not start")


@contextlib.contextmanager
def redis_and_emulator(me: str) -> Iterator[tuple[str, subprocess.Popen[str], str]]:
    """A redis-server, and script ``me`` run with ``--emulator``, each in its own process.

    Yields the Redis URL, the emulator's process (its stdin and stdout are the
    script's control channel) and the base URL it printed first; both are
    stopped on the way out.
    """
    with tempfile.TemporaryDirectory() as tmp:
        redis_proc, redis_url = start_redis(tmp)
        emulator = subprocess.Popen(
            [sys.executable, me, "--emulator"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert emulator.stdout is not None
            yield redis_url, emulator, emulator.stdout.readline().strip()
        finally:
            for proc in (emulator, redis_proc):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
            if emulator.stdin is not None:
                emulator.stdin.close()


def main(seconds: float) -> dict[str, object]:
    me = str(Path(__file__).resolve())
    with redis_and_emulator(me) as (redis_url, emulator, base_url):
        assert emulator.stdout is not None
        assert emulator.stdin is not None
        results = run_workers(me, base_url, redis_url, seconds)
        emulator.stdin.write("done\n")
        emulator.stdin.flush()
        verdict = json.loads(emulator.stdout.readline())
        emulator.wait(timeout=30)

    admitted = sum(r["admitted"] for r in results)
    calls = sum(r["script_calls"] for r in results)
    acquire_p50 = statistics.median(r["acquire_ms_p50"] for r in results)
    ping_p50 = statistics.median(r["ping_ms_p50"] for r in results)
    print(
        f"{PROCESSES} processes x {TASKS} tasks, {verdict['span']:.1f} s: {verdict['served']} served of"
        f" {verdict['allowed']} allowed, {admitted} admissions, {calls} script calls;"
        f" busiest windows {verdict['busiest']} of {[w.count for w in WINDOWS]}"
    )
    print(
        f"uncontended acquire p50 {acquire_p50:.3f} ms vs Redis PING p50 {ping_p50:.3f} ms"
        f" (ratio {acquire_p50 / ping_p50:.2f})"
    )
    return {
        "benchmark": "shared_quota",
        "processes": PROCESSES,
        "violations": verdict["violations"],
        "server_429": verdict["server_429"],
        "utilization": round(verdict["served"] / verdict["allowed"], 4),
        "acquire_ms_p50": round(acquire_p50, 3),
        "script_calls_per_admission": round(calls / max(1, admitted), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the workers run (default 60)")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("BASE_URL", "REDIS_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emulator:
        asyncio.run(emulator_main())
    elif args.worker:
        asyncio.run(worker_main(args.worker[0], args.worker[1], args.seconds))
    else:
        print(json.dumps(main(args.seconds)))
