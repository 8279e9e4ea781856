"""Emulator over real loopback HTTP: API keys (401), exact per-key limits (429), the request log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_A, KEY_B, Api

from basicai_async.emulator import ApiKey, Emulator, RequestLog
from basicai_async.ratelimit import ExactLimiter, Limiter, Limits, Window

pytestmark = pytest.mark.integration

emu, http, api = support.emu, support.http, support.api


class Clock:
    """A clock the test moves by hand, so window edges need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def limited(clock: Clock) -> AsyncIterator[Emulator]:
    def factory(limits: Limits) -> Limiter:
        return ExactLimiter(limits, max_wait=None, clock=clock)

    limits = Limits((Window(3, 10.0),))
    async with Emulator({KEY_A: "t", KEY_B: "t"}, limits=limits, limiter_factory=factory) as emulator:
        yield emulator


async def test_missing_malformed_unknown_keys_are_401(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer key-a"},
        {"Authorization": "ApiKey"},
        {"Authorization": "ApiKey x"},
    ):
        status, body, _ = await api.raw("GET", "/dataset/list", headers=headers)
        assert status == 401
        assert body["code"] == "UNAUTHORIZED"
    # Unknown paths and wrong methods are not answered before authentication.
    assert (await api.raw("GET", "/dataset/nothing", headers={}))[0] == 401


async def test_expired_and_revoked_keys_are_401(api: Api, emu: Emulator) -> None:
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    emu.add_key("old", team="team-a", expires_at=past)
    emu.add_key("new", team="team-a", expires_at=past + timedelta(days=1))
    status, body, _ = await api.raw("GET", "/dataset/list", headers=api.headers("old"))
    assert status == 401
    assert "expired" in body["message"]
    assert (await api.raw("GET", "/dataset/list", headers=api.headers("new")))[0] == 200
    emu.revoke_key("new")
    status, body, _ = await api.raw("GET", "/dataset/list", headers=api.headers("new"))
    assert status == 401
    assert "revoked" in body["message"]
    with pytest.raises(KeyError):
        emu.revoke_key("never-added")


def test_key_arguments_are_checked() -> None:
    emulator = Emulator(["bare", ApiKey("obj", team="t")], limits=None)
    assert emulator.ctx.keys.keys["bare"].team == "default"
    assert emulator.ctx.keys.keys["obj"].team == "t"
    with pytest.raises(ValueError, match="non-empty"):
        emulator.add_key("has space")
    with pytest.raises(ValueError, match="timezone"):
        emulator.add_key("k", expires_at=datetime(2030, 1, 1))
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.base_url
    with pytest.raises(ValueError, match="presign_ttl"):
        Emulator(presign_ttl=-1)


async def test_limit_gives_429_with_retry_after_per_key(
    limited: Emulator, http: aiohttp.ClientSession
) -> None:
    api = Api(http, limited)
    statuses = [(await api.raw("GET", "/dataset/list"))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, body, resp = await api.raw("GET", "/dataset/list")
    assert status == 429
    assert body["code"] == "TOO_MANY_REQUESTS"
    assert resp.headers["Retry-After"] == "10"
    assert float(resp.headers["X-RateLimit-Reset-After"]) == pytest.approx(10.0)
    # Another key has its own windows.
    assert (await api.raw("GET", "/dataset/list", headers=api.headers(KEY_B)))[0] == 200
    assert limited.max_window_count(KEY_A, 10.0) == 5
    assert limited.log.max_window_count(KEY_A, 10.0, statuses={200}) == 3
    assert [r.status for r in limited.requests(KEY_A)] == [200, 200, 200, 429, 429]


async def test_window_slides_exactly(limited: Emulator, http: aiohttp.ClientSession, clock: Clock) -> None:
    api = Api(http, limited)
    assert (await api.raw("GET", "/dataset/list"))[0] == 200  # t = 0
    clock.now += 5
    assert (await api.raw("GET", "/dataset/list"))[0] == 200  # t = 5
    assert (await api.raw("GET", "/dataset/list"))[0] == 200  # t = 5
    clock.now += 4.5
    status, _, resp = await api.raw("GET", "/dataset/list")  # t = 9.5: [0, 10) is full
    assert status == 429
    assert resp.headers["Retry-After"] == "1"  # 0.5 s, rounded up
    clock.now += 0.5
    assert (await api.raw("GET", "/dataset/list"))[0] == 200  # t = 10: the first left the window
    assert (await api.raw("GET", "/dataset/list"))[0] == 429


async def test_concurrent_burst_admits_exactly_the_limit(
    limited: Emulator, http: aiohttp.ClientSession
) -> None:
    api = Api(http, limited)
    results = await asyncio.gather(*(api.raw("GET", "/dataset/list") for _ in range(12)))
    assert sorted(status for status, _, _ in results) == [200] * 3 + [429] * 9


async def test_real_limiter_default_and_disabled(http: aiohttp.ClientSession) -> None:
    async with Emulator({KEY_A: "t"}, limits=Limits((Window(2, 30.0),))) as emulator:
        api = Api(http, emulator)
        assert [(await api.raw("GET", "/dataset/list"))[0] for _ in range(3)] == [200, 200, 429]
    async with Emulator({KEY_A: "t"}, limits=None) as emulator:
        api = Api(http, emulator)
        results = await asyncio.gather(*(api.raw("GET", "/dataset/list") for _ in range(150)))
        assert {status for status, _, _ in results} == {200}
        assert emulator.max_window_count(KEY_A, 60.0) == 150


async def test_request_log_records_method_path_status_time(api: Api, emu: Emulator) -> None:
    before = datetime.now(timezone.utc)
    await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"})
    await api.raw("GET", "/dataset/create")
    await api.raw("GET", "/dataset/list", headers={})
    records = emu.requests(KEY_A)
    assert [(r.method, r.path, r.status) for r in records] == [
        ("POST", "/api/v1/dataset/create", 200),
        ("GET", "/api/v1/dataset/create", 405),
    ]
    assert records[0].at >= before
    assert records[0].time <= records[1].time
    assert [r.status for r in emu.requests("")] == [401]
    emu.log.clear()
    assert emu.requests(KEY_A) == []


def test_max_window_count_uses_half_open_windows() -> None:
    log = RequestLog()
    for t, status in [(0.0, 200), (0.5, 200), (0.99, 429), (1.0, 200), (1.5, 200), (3.0, 200)]:
        log.record("k", t, "GET", "/x").status = status
    assert log.max_window_count("k", 1.0) == 3
    assert log.max_window_count("k", 1.0, statuses={200}) == 2
    assert log.max_window_count("k", 0.01) == 1
    assert log.max_window_count("k", 10.0) == 6
    assert log.max_window_count("other", 1.0) == 0
