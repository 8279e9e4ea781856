"""Rate limits end to end: the emulator enforces scaled-down limits, the SDK's limiter keeps under them.

Windows are short so that saturating them takes about two seconds, not minutes.
"""

from __future__ import annotations

import asyncio

import pytest
from test_integration_support import KEY

from basicai_async import AsyncBasicAI
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


async def test_a_client_held_to_the_server_limits_never_sees_a_429() -> None:
    windows = (Window(8, 0.25), Window(20, 1.0))
    async with (
        Emulator({KEY: "team-a"}, limits=Limits(windows)) as emu,
        # The margin absorbs delivery jitter between the client's clock and the server's;
        # twice the default here, so a loaded CI machine's scheduling stall cannot fake a 429.
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=Limits(windows, margin=0.1), max_retries=0) as client,
    ):
        ds = await client.datasets.create(name="ds", type="IMAGE")
        calls = 50

        async def worker(n: int) -> None:
            for _ in range(n):
                assert (await client.datasets.get(ds.id)).id == ds.id

        # 16 tasks, far more than the limits admit: the limiter, not the tasks, sets the pace.
        await asyncio.gather(*(worker(calls // 16 + (i < calls % 16)) for i in range(16)))

        statuses = _statuses(emu)
        assert len(statuses) == calls + 1
        assert set(statuses) == {200}
        assert emu.max_window_count(KEY, 0.25) <= 8
        assert emu.max_window_count(KEY, 1.0) <= 20
        # Saturated: the windows were nearly full, so the bounds above were really tested.
        assert emu.max_window_count(KEY, 1.0) >= 16
        assert emu.max_window_count(KEY, 0.25) >= 6
        assert client.limiter.stats().total_wait > 0
