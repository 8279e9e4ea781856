"""Emulator over real loopback HTTP: injected latency, 5xx, 429 storms, drops and truncated bodies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_A, Api

from basicai_async.emulator import STORE_ENDPOINT, Emulator, FaultRule, Faults

pytestmark = pytest.mark.integration

emu, api = support.emu, support.api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # A fresh connection per request: a dropped one must not poison the next call.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


async def test_off_by_default(api: Api, emu: Emulator) -> None:
    for _ in range(20):
        await api.ok("GET", "/dataset/list")
    assert not emu.faults.injected


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(500, "text/plain"), (502, "text/html"), (503, "text/html"), (504, "text/html")],
)
async def test_5xx_answers(api: Api, emu: Emulator, status: int, content_type: str) -> None:
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(status,)))
    got, body, resp = await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"})
    assert got == status
    assert resp.content_type == content_type
    assert str(status) in body
    assert ("Retry-After" in resp.headers) == (status == 503)
    assert emu.state.datasets == {}
    assert emu.faults.injected["dataset/create", "error"] == 1


async def test_per_endpoint_rule_overrides_global(api: Api, emu: Emulator) -> None:
    emu.faults.set(FaultRule(rate_limit_rate=1.0, retry_after=7), endpoint="dataset/create")
    status, body, resp = await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"})
    assert status == 429
    assert resp.headers["Retry-After"] == "7"
    assert body["code"] == "TOO_MANY_REQUESTS"
    await api.ok("GET", "/dataset/list")
    emu.faults.set(FaultRule(error_rate=1.0))
    assert (await api.raw("GET", "/dataset/list"))[0] >= 500
    assert (await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"}))[0] == 429
    emu.faults.set(None, endpoint="dataset/create")
    emu.faults.set(None, endpoint="never-set")
    assert (await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"}))[0] >= 500
    emu.faults.clear()
    await api.ok("GET", "/dataset/list")


async def test_drop_before_acting_changes_nothing(api: Api, emu: Emulator) -> None:
    emu.faults.set(FaultRule(drop_before_rate=1.0), endpoint="dataset/create")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"})
    assert emu.state.datasets == {}
    assert emu.requests(KEY_A)[-1].status is None


async def test_drop_after_acting_keeps_the_change(api: Api, emu: Emulator) -> None:
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint="dataset/create")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.raw("POST", "/dataset/create", json={"name": "a", "type": "IMAGE"})
    assert [d.name for d in emu.state.datasets.values()] == ["a"]
    assert emu.requests(KEY_A)[-1].status is None


async def test_truncated_body(api: Api, emu: Emulator) -> None:
    await api.dataset("a")
    emu.faults.set(FaultRule(truncate_rate=1.0))
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.raw("GET", "/dataset/list")
    assert emu.requests(KEY_A)[-1].status == 200


async def test_latency(api: Api, emu: Emulator) -> None:
    emu.faults.set(FaultRule(latency=0.2))
    start = time.monotonic()
    await api.ok("GET", "/dataset/list")
    assert time.monotonic() - start >= 0.2


async def test_same_seed_same_faults(http: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        faults = Faults(FaultRule(error_rate=0.3, rate_limit_rate=0.2), seed=42)
        async with Emulator({KEY_A: "t"}, limits=None, faults=faults) as emulator:
            api = Api(http, emulator)
            runs.append([(await api.raw("GET", "/dataset/list"))[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 429} <= set(runs[0])
    assert any(status >= 500 for status in runs[0])


def test_decisions_replay_after_reseed() -> None:
    faults = Faults(endpoints={"a/b": FaultRule(drop_after_rate=0.5, truncate_rate=0.5)}, seed=1)
    first = [faults.decide("a/b").kind for _ in range(20)]
    assert set(first) == {"drop_after", "truncate"}
    faults.reseed(1)
    assert [faults.decide("a/b").kind for _ in range(20)] == first
    assert faults.decide("c/d").kind is None
    assert faults.rule_for("a/b") is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_after_rate": 0.6},
        {"latency": -1},
        {"error_statuses": ()},
        {"error_statuses": (404,)},
        {"retry_after": -1},
    ],
)
def test_fault_rules_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        FaultRule(**kwargs)  # type: ignore[arg-type]


async def _presigned(api: Api, size: int) -> dict[str, str]:
    (signed,) = await api.ok(
        "POST", "/storage/batchGeneratePreSignedUploadUrl", json=[{"filename": "a.jpg", "size": size}]
    )
    return signed  # type: ignore[no-any-return]


@pytest.mark.parametrize(("status", "code"), [(500, "InternalError"), (503, "SlowDown")])
async def test_store_5xx(
    api: Api, emu: Emulator, http: aiohttp.ClientSession, status: int, code: str
) -> None:
    signed = await _presigned(api, 3)
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(status,), latency=0.01), endpoint=STORE_ENDPOINT)
    async with http.put(signed["preSignedUrl"], data=b"abc") as resp:
        assert resp.status == status
        assert code in await resp.text()
    assert emu.store.lookup(signed["path"]) is None


async def test_store_drops(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    signed = await _presigned(api, 3)
    emu.faults.set(FaultRule(drop_before_rate=1.0), endpoint=STORE_ENDPOINT)
    with pytest.raises(aiohttp.ClientError):
        async with http.put(signed["preSignedUrl"], data=b"abc"):
            pass
    assert emu.store.lookup(signed["path"]) is None
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint=STORE_ENDPOINT)
    with pytest.raises(aiohttp.ClientError):
        async with http.put(signed["preSignedUrl"], data=b"abc"):
            pass
    assert emu.read_object(signed["path"]) == b"abc"
    emu.faults.set(FaultRule(rate_limit_rate=1.0), endpoint=STORE_ENDPOINT)
    async with http.put(signed["preSignedUrl"], data=b"abc") as resp:
        assert resp.status == 503
