"""Fault injection through the SDK: what is retried, what is not, and that only our exceptions come out.

``LimitedFaults`` injects a fault on the first request(s) of an endpoint and then
none, so "fails once, then succeeds" is deterministic, with no timing involved.
"""

from __future__ import annotations

import aiohttp
import msgspec
import pytest
from test_integration_support import KEY, LimitedFaults, loose_limiter, upload

from basicai_async import (
    APIConnectionError,
    APIDecodeError,
    APITimeoutError,
    AsyncBasicAI,
    BadGatewayError,
    BasicAIError,
    UploadSource,
)
from basicai_async.emulator import STORE_ENDPOINT, Emulator, FaultRule, Faults

pytestmark = pytest.mark.integration


def _client(emu: Emulator, max_retries: int = 3) -> AsyncBasicAI:
    return AsyncBasicAI(KEY, base_url=emu.base_url, limiter=loose_limiter(), max_retries=max_retries)


def _statuses(emu: Emulator, path: str) -> list[int | None]:
    return [r.status for r in emu.requests(KEY) if r.path == "/api/v1" + path]


def _assert_ours(exc: BaseException) -> None:
    """Raised as an SDK error, never as the aiohttp or msgspec exception underneath."""
    assert isinstance(exc, (APIConnectionError, APIDecodeError)), type(exc)
    assert not isinstance(exc, (aiohttp.ClientError, msgspec.MsgspecError))


_ONCE = [
    pytest.param(FaultRule(error_rate=1.0, error_statuses=(500,)), 500, id="500"),
    pytest.param(FaultRule(error_rate=1.0, error_statuses=(502,)), 502, id="502-html"),
    pytest.param(FaultRule(error_rate=1.0, error_statuses=(503,)), 503, id="503-retry-after"),
    pytest.param(FaultRule(error_rate=1.0, error_statuses=(504,)), 504, id="504-html"),
    pytest.param(FaultRule(drop_before_rate=1.0), None, id="dropped-before"),
    pytest.param(FaultRule(drop_after_rate=1.0), None, id="dropped-after"),
    pytest.param(FaultRule(truncate_rate=1.0), 200, id="truncated"),
]


@pytest.mark.parametrize(("rule", "first_status"), _ONCE)
async def test_a_get_is_retried_after_a_fault_and_succeeds(rule: FaultRule, first_status: int | None) -> None:
    faults = LimitedFaults(rule, endpoint="dataset/info")
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        assert await client.datasets.get(ds.id) == ds
        assert _statuses(emu, f"/dataset/info/{ds.id}") == [first_status, 200]
        assert sum(faults.injected.values()) == 1


@pytest.mark.parametrize(
    "rule",
    [FaultRule(drop_after_rate=1.0), FaultRule(error_rate=1.0, error_statuses=(502,))],
    ids=["dropped-after", "502"],
)
async def test_an_idempotent_post_is_retried(rule: FaultRule) -> None:
    faults = LimitedFaults(rule, endpoint="dataset/update")
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        updated = await client.datasets.update(ds.id, description="twice is harmless")
        assert updated.description == "twice is harmless"
        assert len(_statuses(emu, f"/dataset/update/{ds.id}")) == 2


async def test_a_create_dropped_after_acting_is_looked_up_not_retried() -> None:
    faults = Faults(endpoints={"dataset/create": FaultRule(drop_after_rate=1.0)})
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        created = await client.datasets.create(name="  once ", type="IMAGE")
        # The server acted exactly once; the look-up (by the stripped name) found it, no retry.
        assert _statuses(emu, "/dataset/create") == [None]
        assert [(d.id, d.name) for d in emu.state.datasets.values()] == [(created.id, "once")]


async def test_data_dropped_after_acting_is_not_retried() -> None:
    faults = Faults()
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        file = await upload(client)
        faults.set(FaultRule(drop_after_rate=1.0), endpoint="dataset/addData")
        with pytest.raises(APIConnectionError):
            await client.data.add(ds.id, name="frame", files=[file])
        assert _statuses(emu, f"/dataset/addData/{ds.id}") == [None]
        assert emu.state.datasets[ds.id].data_count == 1


async def test_a_create_is_retried_on_503_and_looked_up_before_a_resend_on_500() -> None:
    faults = LimitedFaults(FaultRule(error_rate=1.0, error_statuses=(503,)), endpoint="dataset/create")
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        # 503: the server was not processing, so nothing was created and a retry is safe.
        assert (await client.datasets.create(name="a", type="IMAGE")).name == "a"
        assert _statuses(emu, "/dataset/create") == [503, 200]
        faults.set(FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint="dataset/create")
        # 500: it may have acted, so the name is looked up first; not found, so sent again.
        assert (await client.datasets.create(name="b", type="IMAGE")).name == "b"
        assert _statuses(emu, "/dataset/create") == [503, 200, 500, 200]
        assert _statuses(emu, "/dataset/list") == [200]
        assert [d.name for d in emu.state.datasets.values()] == ["a", "b"]


async def test_truncated_bodies_raise_our_errors_only() -> None:
    faults = Faults()
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu, 1) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        faults.set(FaultRule(truncate_rate=1.0))
        with pytest.raises(BasicAIError) as on_get:
            await client.datasets.get(ds.id)
        _assert_ours(on_get.value)
        assert _statuses(emu, f"/dataset/info/{ds.id}") == [200, 200]  # retried once, both cut short
        with pytest.raises(BasicAIError) as on_list:
            [d async for d in client.datasets.list()]
        _assert_ours(on_list.value)
        with pytest.raises(BasicAIError) as on_create:
            await client.datasets.create(name="cut", type="IMAGE")
        _assert_ours(on_create.value)
        # Acted (the answer was cut after it) and not retried: exactly one.
        assert _statuses(emu, "/dataset/create") == [200, 200]
        assert sorted(d.name for d in emu.state.datasets.values()) == ["cut", "ds"]


async def test_html_502_is_a_bad_gateway_error_after_the_retries() -> None:
    faults = Faults(endpoints={"dataset/list": FaultRule(error_rate=1.0, error_statuses=(502,))})
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu, 2) as client:
        with pytest.raises(BadGatewayError) as caught:
            [d async for d in client.datasets.list()]
        assert caught.value.status == 502
        assert "<html>" in caught.value.body
        assert _statuses(emu, "/dataset/list") == [502, 502, 502]


async def test_a_slow_answer_times_out_and_the_get_is_retried() -> None:
    # Only the clients under test have a short timeout, and it is a full second: on a
    # loaded CI machine an ordinary loopback answer can take a few hundred ms.
    faults = LimitedFaults(FaultRule(latency=2.0), endpoint="dataset/info")
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu:
        async with _client(emu) as setup:
            ds = await setup.datasets.create(name="ds", type="IMAGE")
        sdk = AsyncBasicAI(KEY, base_url=emu.base_url, limiter=loose_limiter(), timeout=1.0)
        async with sdk as client:
            assert await client.datasets.get(ds.id) == ds
            assert len(_statuses(emu, f"/dataset/info/{ds.id}")) == 2
            faults.set(FaultRule(latency=2.0), endpoint="dataset/info")
            faults.remaining = 1
            no_retry = AsyncBasicAI(
                KEY, base_url=emu.base_url, limiter=loose_limiter(), timeout=1.0, max_retries=0
            )
            async with no_retry:
                with pytest.raises(APITimeoutError) as caught:
                    await no_retry.datasets.get(ds.id)
            assert isinstance(caught.value, APIConnectionError)
            assert not isinstance(caught.value, TimeoutError)


async def test_uploader_retries_storage_5xx_and_registers_everything() -> None:
    faults = LimitedFaults(FaultRule(error_rate=1.0), endpoint=STORE_ENDPOINT, times=3)
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        sources = [UploadSource.from_bytes(f"{i}.jpg", b"jpeg" * (i + 1)) for i in range(10)]
        report = await client.uploader(concurrency=4).upload(ds.id, sources)
        assert report.failed == []
        assert faults.injected[STORE_ENDPOINT, "error"] == 3
        assert emu.state.datasets[ds.id].data_count == 10
        for source, result in zip(sources, report.results, strict=True):
            assert result.path is not None
            assert len(emu.read_object(result.path)) == source.size


async def test_uploader_never_registers_twice_after_an_ambiguous_drop() -> None:
    faults = LimitedFaults(FaultRule(drop_after_rate=1.0), endpoint="dataset/batchAddData")
    async with Emulator({KEY: "team-a"}, limits=None, faults=faults) as emu, _client(emu) as client:
        ds = await client.datasets.create(name="ds", type="IMAGE")
        sources = [UploadSource.from_bytes(f"{i}.jpg", b"jpeg") for i in range(10)]
        report = await client.uploader().upload(ds.id, sources)
        # The server registered them, but the answer was lost: the uploader looks them up
        # and reports them registered rather than adding them again.
        assert [r.ok for r in report.results] == [True] * 10
        assert _statuses(emu, f"/dataset/batchAddData/{ds.id}") == [None]
        assert emu.state.datasets[ds.id].data_count == 10
