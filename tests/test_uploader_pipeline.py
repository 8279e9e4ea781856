"""The upload pipeline against the emulator with latency: pre-sign ahead, registration beside the
PUTs, every file registered exactly once, API calls capped by ``api_concurrency``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from basicai_async import AsyncBasicAI, Limits, UploadSource, Window
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import STORE_ENDPOINT, FaultRule
from basicai_async.uploader import UploadReport
from basicai_async.uploader._batch import batches_ahead

pytestmark = pytest.mark.integration

KEY = "upload-pipeline-key"
PRESIGN = "storage/batchGeneratePreSignedUploadUrl"
REGISTER = "dataset/batchAddData"
# Far above what a test needs: any wait on a broken pipeline is a failure, not a pause.
DEADLINE = 20


class Calls:
    """Counts the uploader's requests by kind as they start and end, and awaits hooks on their start."""

    def __init__(self) -> None:
        self.started: dict[str, int] = {PRESIGN: 0, REGISTER: 0, STORE_ENDPOINT: 0}
        self.ended: dict[str, int] = dict(self.started)
        self.api_in_flight = 0
        self.api_max_in_flight = 0
        self.puts_in_flight = 0
        self.puts_max_in_flight = 0
        self.put_names: list[str] = []
        self.on_start: dict[str, Callable[[int], Awaitable[None]]] = {}
        self.on_end: dict[str, Callable[[int], None]] = {}
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)
        self.config.on_request_exception.append(self._end)

    @staticmethod
    def _kind(path: str) -> str | None:
        if "/api/v1/" not in path:
            return STORE_ENDPOINT
        for kind in (PRESIGN, REGISTER):
            if f"/{kind}" in path:
                return kind
        return "api"

    async def _start(self, session: object, ctx: SimpleNamespace, params: Any) -> None:
        ctx.kind = kind = self._kind(params.url.path)
        if kind != STORE_ENDPOINT:
            self.api_in_flight += 1
            self.api_max_in_flight = max(self.api_max_in_flight, self.api_in_flight)
        else:
            self.puts_in_flight += 1
            self.puts_max_in_flight = max(self.puts_max_in_flight, self.puts_in_flight)
            self.put_names.append(params.url.path.rsplit("/", 1)[-1])
        if kind in self.started:
            self.started[kind] += 1
            hook = self.on_start.get(kind)
            if hook is not None:
                await hook(self.started[kind])

    async def _end(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        kind = ctx.kind
        if kind != STORE_ENDPOINT:
            self.api_in_flight -= 1
        else:
            self.puts_in_flight -= 1
        if kind in self.ended:
            self.ended[kind] += 1
            hook = self.on_end.get(kind)
            if hook is not None:
                hook(self.ended[kind])


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
async def client(emu: Emulator, calls: Calls) -> AsyncIterator[AsyncBasicAI]:
    # Quota far above what a test sends: round trips, not the limiter, are under test.
    async with (
        aiohttp.ClientSession(trace_configs=[calls.config]) as session,
        AsyncBasicAI(KEY, base_url=emu.base_url, session=session, limits=Limits((Window(10**6, 1.0),))) as c,
    ):
        yield c


def _latency(emu: Emulator, api: float, put: float) -> None:
    emu.faults.set(FaultRule(latency=api))
    emu.faults.set(FaultRule(latency=put), endpoint=STORE_ENDPOINT)


def _sources(n: int) -> list[UploadSource]:
    return [UploadSource.from_bytes(f"f-{i:04d}.png", f"px{i}".encode()) for i in range(n)]


def _assert_each_registered_once(emu: Emulator, dataset_id: int, report: UploadReport, n: int) -> None:
    assert report.failed == []
    names = sorted(item.name for item in emu.state.datasets[dataset_id].items.values() if item.kind == "DATA")
    assert names == [f"f-{i:04d}.png" for i in range(n)]
    assert sorted(r.data_id or 0 for r in report.results) == sorted(
        i for i, item in emu.state.datasets[dataset_id].items.items() if item.kind == "DATA"
    )


async def test_an_upload_with_latency_registers_every_file_exactly_once(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    _latency(emu, 0.005, 0.002)
    ds = await client.datasets.create(name="latency", type="IMAGE")

    report = await client.uploader(concurrency=32).upload(ds.id, _sources(450))

    _assert_each_registered_once(emu, ds.id, report, 450)
    # One pre-sign and one registration per batch of up to 100: nothing twice.
    assert (calls.started[PRESIGN], calls.started[REGISTER], calls.started[STORE_ENDPOINT]) == (5, 5, 450)


async def test_free_workers_take_the_files_in_source_order_at_most_concurrency_at_once(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    _latency(emu, 0.002, 0.001)
    ds = await client.datasets.create(name="order", type="IMAGE")

    report = await client.uploader(concurrency=7).upload(ds.id, _sources(250))

    _assert_each_registered_once(emu, ds.id, report, 250)
    assert calls.put_names == [f"f-{i:04d}.png" for i in range(250)]
    assert calls.puts_max_in_flight == 7


async def test_the_next_batch_is_pre_signed_before_the_put_slots_run_dry(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    # A pre-sign and a registration take two PUT round trips each, as across the internet.
    _latency(emu, 0.020, 0.010)
    ds = await client.datasets.create(name="ahead", type="IMAGE")
    batches = 6
    late: list[tuple[int, int]] = []

    async def put_started(count: int) -> None:
        # The last file of batch k takes its slot: batch k + 1's URLs must be here already.
        if count % 100 == 0 and count < batches * 100 and calls.ended[PRESIGN] < count // 100 + 1:
            late.append((count // 100, calls.ended[PRESIGN]))

    calls.on_start[STORE_ENDPOINT] = put_started
    report = await client.uploader(concurrency=50).upload(ds.id, _sources(batches * 100))

    _assert_each_registered_once(emu, ds.id, report, batches * 100)
    assert late == []


async def test_pre_sign_runs_a_bounded_number_of_batches_ahead(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    ds = await client.datasets.create(name="bounded", type="IMAGE")
    ahead = batches_ahead(50)
    puts = asyncio.Event()
    signed = asyncio.Event()
    seen_when_signed: list[int] = []

    async def hold_puts(count: int) -> None:
        await puts.wait()

    def presign_ended(count: int) -> None:
        if count == ahead:
            # With every PUT held, no batch is fully dispatched: no further pre-sign may start.
            seen_when_signed.append(calls.started[PRESIGN])
            signed.set()

    calls.on_start[STORE_ENDPOINT] = hold_puts
    calls.on_end[PRESIGN] = presign_ended
    upload = asyncio.ensure_future(client.uploader(concurrency=50).upload(ds.id, _sources(1000)))
    async with asyncio.timeout(DEADLINE):
        await signed.wait()
    puts.set()
    report = await asyncio.wait_for(upload, DEADLINE)

    assert seen_when_signed == [ahead]
    assert ahead < 10
    _assert_each_registered_once(emu, ds.id, report, 1000)


async def test_registration_holds_no_slot_the_puts_need(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    ds = await client.datasets.create(name="overlap", type="IMAGE")
    files = 500
    registrations = asyncio.Event()
    all_put = asyncio.Event()

    async def hold_registration(count: int) -> None:
        await registrations.wait()

    def put_ended(count: int) -> None:
        if count == files:
            all_put.set()

    calls.on_start[REGISTER] = hold_registration
    calls.on_end[STORE_ENDPOINT] = put_ended
    upload = asyncio.ensure_future(client.uploader(concurrency=8).upload(ds.id, _sources(files)))
    # Every file is PUT while no registration has answered: they overlap the PUTs.
    async with asyncio.timeout(DEADLINE):
        await all_put.wait()
    assert calls.ended[REGISTER] == 0
    assert calls.started[REGISTER] >= 4
    registrations.set()
    report = await asyncio.wait_for(upload, DEADLINE)

    _assert_each_registered_once(emu, ds.id, report, files)
    assert calls.started[REGISTER] == 5


async def test_api_concurrency_caps_the_uploaders_calls_in_flight(
    emu: Emulator, client: AsyncBasicAI, calls: Calls
) -> None:
    _latency(emu, 0.005, 0)
    ds = await client.datasets.create(name="capped", type="IMAGE")

    report = await client.uploader(concurrency=64, api_concurrency=2).upload(ds.id, _sources(800))

    _assert_each_registered_once(emu, ds.id, report, 800)
    assert calls.api_max_in_flight == 2


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), ("4", TypeError), (True, TypeError)])
async def test_api_concurrency_is_checked_when_the_uploader_is_made(
    client: AsyncBasicAI, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="api_concurrency"):
        client.uploader(api_concurrency=value)  # type: ignore[arg-type]
