"""Rate limits end to end: the emulator enforces scaled-down limits, the SDK's limiter keeps under them.

Windows are short so that saturating them takes about two seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from test_integration_support import KEY

from basicai_async import APIConnectionError, AsyncBasicAI, RateLimitError, send_trace
from basicai_async._http import StampingRequest
from basicai_async.emulator import Emulator
from basicai_async.ratelimit import ExactLimiter, Limits, Window

pytestmark = pytest.mark.integration


def _statuses(emulator: Emulator) -> list[int | None]:
    return [r.status for r in emulator.requests(KEY)]


async def test_a_looser_client_gets_429s_pauses_and_every_call_succeeds() -> None:
    server = Limits((Window(5, 1.0),))
    # Twice the server's allowance: the first burst must meet 429s.
    limiter = ExactLimiter(Limits((Window(10, 1.0),)))
    async with (
        Emulator({KEY: "team-a"}, limits=server) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limiter=limiter, max_retries=5) as client,
    ):
        created = await asyncio.gather(
            *(client.datasets.create(name=f"ds-{i}", type="IMAGE") for i in range(10))
        )

        statuses = _statuses(emu)
        assert sorted(d.name for d in created) == sorted(f"ds-{i}" for i in range(10))
        # 429 is answered before acting, so the creates were safely retried: no duplicates.
        assert sorted(d.name for d in emu.state.datasets.values()) == sorted(d.name for d in created)
        assert statuses.count(200) == 10
        assert statuses.count(429) >= 5
        assert set(statuses) == {200, 429}
        # Every attempt, retries included, went through the client's limiter...
        assert limiter.stats().admitted == len(statuses)
        # ... which the 429s paused (Retry-After: 1), so retries waited instead of hammering.
        assert limiter.stats().total_wait >= 0.9
        assert emu.max_window_count(KEY, 1.0) <= 10


@dataclass(slots=True)
class _Run:
    statuses: list[int | None]
    max_1s: int
    max_quarter: int
    total_wait: float
    stall: float  # the longest the loop went without running the watch below, in seconds


@contextlib.asynccontextmanager
async def _loop_watch() -> AsyncIterator[list[float]]:
    """The longest gap between two turns of a 2 ms heartbeat on this loop, while inside.

    The emulator shares this loop: a request is counted when the loop gets to its
    handler. A stall of the loop (or of the whole process: a collection, the OS
    scheduler on a busy CI machine) between a send and its count is a lag on the
    server's side that no client can see, and only the margin covers it.
    """
    loop = asyncio.get_running_loop()
    longest = [0.0]
    done = asyncio.Event()

    async def beat() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = loop.time()
            longest[0] = max(longest[0], now - last - 0.002)
            last = now

    task = asyncio.create_task(beat())
    try:
        yield longest
    finally:
        done.set()
        await task


async def _held_to_the_server_limits(windows: tuple[Window, ...], margin: float) -> _Run:
    limits = Limits(windows, margin=margin)
    async with (
        Emulator({KEY: "team-a"}, limits=Limits(windows)) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=limits, max_retries=0) as client,
    ):
        ds = await client.datasets.create(name="ds", type="IMAGE")
        calls = 50

        async def worker(n: int) -> None:
            for _ in range(n):
                assert (await client.datasets.get(ds.id)).id == ds.id

        # No collection pauses the shared loop mid-run (the heap of a long test session makes
        # a full one slow); what else stalls it, the watch measures.
        gc.collect()
        gc.disable()
        try:
            async with _loop_watch() as stall:
                # 16 tasks, far more than the limits admit: the limiter, not the tasks, sets the pace.
                # A 429 is raised (max_retries=0) and ends the run; the statuses below show it.
                with contextlib.suppress(RateLimitError):
                    await asyncio.gather(*(worker(calls // 16 + (i < calls % 16)) for i in range(16)))
        finally:
            gc.enable()
        return _Run(
            statuses=_statuses(emu),
            max_1s=emu.max_window_count(KEY, 1.0),
            max_quarter=emu.max_window_count(KEY, 0.25),
            total_wait=client.limiter.stats().total_wait,
            stall=stall[0],
        )


async def test_a_client_held_to_the_server_limits_never_sees_a_429() -> None:
    windows, margin = (Window(8, 0.25), Window(20, 1.0)), 0.1
    # Twice the default margin. A 429 is a failure unless the loop stalled for more than a
    # third of the margin during that run (a request waits at most a few loop turns to be
    # counted); then, and only then, the run is repeated, at most twice.
    runs = [await _held_to_the_server_limits(windows, margin)]
    while set(runs[-1].statuses) != {200} and runs[-1].stall > margin / 3 and len(runs) < 3:
        runs.append(await _held_to_the_server_limits(windows, margin))
    run = runs[-1]
    stalls = [round(r.stall * 1000, 1) for r in runs]
    assert set(run.statuses) == {200}, f"429s with loop stalls of {stalls} ms (margin {margin * 1000} ms)"
    assert len(run.statuses) == 50 + 1
    assert run.max_quarter <= 8
    assert run.max_1s <= 20
    # Saturated: the windows were nearly full, so the bounds above were really tested.
    assert run.max_1s >= 16
    assert run.max_quarter >= 6
    assert run.total_wait > 0


async def test_a_call_counts_from_when_its_headers_left_not_from_its_admission() -> None:
    now = [10.0]  # the limiter's clock, moved by the hooks below: no sleeps, no races
    limiter = ExactLimiter(Limits((Window(1, 100.0),)), clock=lambda: now[0], max_wait=None)

    async def starts(session: Any, context: SimpleNamespace, params: Any) -> None:
        now[0] = 20.0  # admitted at 10; the request is only now on its way out

    async def answered(session: Any, context: SimpleNamespace, params: Any) -> None:
        now[0] = 30.0  # the answer's headers are in

    hooks = aiohttp.TraceConfig()
    hooks.on_request_start.append(starts)
    hooks.on_request_end.append(answered)
    async with Emulator({KEY: "team-a"}) as emu:
        # With send_trace (as the client's own session has it): stamped as the headers left.
        async with (
            aiohttp.ClientSession(trace_configs=[hooks, send_trace()]) as session,
            AsyncBasicAI(KEY, base_url=emu.base_url, session=session, limiter=limiter) as client,
        ):
            await client.request("GET", "/dataset/list", params={"pageNo": 1, "pageSize": 1})
        assert limiter.stats().next_slot_in == 90.0  # at 30: the stamp at 20 holds until 120

        # A session without it: counted from the answer, the first moment the pipeline knows
        # the request left (later than the truth: safe, and the slot is held a little longer).
        limiter = ExactLimiter(Limits((Window(1, 100.0),)), clock=lambda: now[0], max_wait=None)
        now[0] = 10.0
        async with (
            aiohttp.ClientSession(trace_configs=[hooks]) as session,
            AsyncBasicAI(KEY, base_url=emu.base_url, session=session, limiter=limiter) as client,
        ):
            await client.request("GET", "/dataset/list", params={"pageNo": 1, "pageSize": 1})
        assert limiter.stats().next_slot_in == 100.0  # the stamp at 30 holds until 130


async def test_the_clients_own_session_stamps_as_the_headers_leave_without_trace_signals() -> None:
    now = [10.0]
    limiter = ExactLimiter(Limits((Window(1, 100.0),)), clock=lambda: now[0], max_wait=None)

    async def starts(session: Any, context: SimpleNamespace, params: Any) -> None:
        now[0] = 20.0

    async def answered(session: Any, context: SimpleNamespace, params: Any) -> None:
        now[0] = 30.0

    hooks = aiohttp.TraceConfig()  # moves the clock only; no send_trace
    hooks.on_request_start.append(starts)
    hooks.on_request_end.append(answered)
    async with Emulator({KEY: "team-a"}) as emu:
        async with (
            aiohttp.ClientSession(trace_configs=[hooks], request_class=StampingRequest) as session,
            AsyncBasicAI(KEY, base_url=emu.base_url, session=session, limiter=limiter) as client,
        ):
            await client.request("GET", "/dataset/list", params={"pageNo": 1, "pageSize": 1})
        assert limiter.stats().next_slot_in == 90.0  # stamped at 20, as the headers left
        async with AsyncBasicAI(KEY, base_url=emu.base_url) as client:
            own = await client.http_session()
            # The stamp comes from the request class: no trace signal is dispatched per call.
            assert own.trace_configs == []
            assert own._request_class is StampingRequest


async def test_a_call_that_never_left_still_gives_its_slot_back_to_the_windows() -> None:
    now = [0.0]
    limiter = ExactLimiter(Limits((Window(1, 100.0),)), clock=lambda: now[0], max_wait=None)
    # Nothing listens on port 9 on loopback: the connection is refused, no headers go out.
    async with AsyncBasicAI(
        KEY, base_url="http://127.0.0.1:9/api/v1", limiter=limiter, max_retries=0
    ) as client:
        now[0] = 5.0
        with pytest.raises(APIConnectionError, match="could not connect"):
            await client.request("GET", "/dataset/list")
    now[0] = 50.0
    stats = limiter.stats()
    assert (stats.admitted, stats.windows[0].remaining) == (1, 0)
    # Stamped when the attempt ended (at 5), not left pending (which would say 100 here).
    assert stats.next_slot_in == 55.0
