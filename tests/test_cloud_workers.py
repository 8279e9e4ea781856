"""Issue 17's proof: one job over an S3 prefix, split across 4 workers sharing one key's quota.

Real parts only: moto's S3 server holds the objects, a real ``redis-server`` the
shared quota, the emulator (BasicAI's limits on, faults injected) the API and
its object store. Three shards run as ``basicai-async upload s3://...``
processes, the fourth through the Python API in this process. The store
answers 5xx and drops connections, registrations lose their answers after the
server acted, and one CLI worker is killed with SIGKILL in the middle of a
registration, then restarted with its manifest. At the end every object is
registered exactly once, none is missing, its bytes are the object's, the
server answered no 429, and every API call went through the shared ring.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _moto import S3Server, s3_env, s3_server
from _redis_server import RedisServer, redis_server

from basicai_async import AsyncBasicAI, RedisLimiter, object_sources, shard_of
from basicai_async.emulator import STORE_ENDPOINT, Emulator, Fault, FaultRule, Faults

__all__ = ["redis_server", "s3_env", "s3_server"]  # the fixtures, imported for pytest

pytestmark = [pytest.mark.integration, pytest.mark.redis]

KEY = "fleet-key"
SHARDS = 4
OBJECTS = 200
PREFIX = "s3://fleet/frames/"
REGISTER = "dataset/batchAddData"
KILLED = 0  # the CLI worker killed mid-registration
PYTHON = SHARDS - 1  # the worker that runs in this process, through the Python API


def _objects() -> dict[str, bytes]:
    return {
        f"frames/{i // 100:02d}/frame-{i:04d}.jpg": i.to_bytes(4, "big") * (50 + i % 7)
        for i in range(OBJECTS)
    }


def _fill(s3: S3Server, objects: dict[str, bytes]) -> None:
    s3.client.create_bucket(Bucket="fleet")
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda kv: s3.client.put_object(Bucket="fleet", Key=kv[0], Body=kv[1]), objects.items())
        )


async def _cli(
    shard: int, dataset_id: int, manifest: Path, base_url: str, redis_url: str
) -> asyncio.subprocess.Process:
    env = {**os.environ, "BASICAI_API_KEY": KEY, "BASICAI_BASE_URL": base_url, "BASICAI_REDIS_URL": redis_url}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "basicai_async", "upload", PREFIX,
        "--dataset", str(dataset_id), "--shard", f"{shard}/{SHARDS}", "--manifest", str(manifest),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def _until_registering(manifest: Path, proc: asyncio.subprocess.Process) -> None:
    """Return once the worker has journaled a batch as ``registering`` (its call is then in flight)."""
    while proc.returncode is None:
        if manifest.exists() and b'"status":"registering"' in manifest.read_bytes():
            return
        await asyncio.sleep(0.01)  # polling a file another process writes: nothing to await on
    raise AssertionError("the worker ended before it registered anything")


Start = Callable[[], Awaitable[asyncio.subprocess.Process]]


class FirstAnswersLost(Faults):
    """The emulator's faults, and the first ``lost`` registrations' answers lost for sure.

    The rules draw at random and the workers' requests interleave differently on
    each run: without this, a run with few registrations may lose none.
    """

    def __init__(self, lost: int) -> None:
        super().__init__(seed=17)
        self.lost = lost

    def decide(self, endpoint: str) -> Fault:
        if endpoint == REGISTER and self.lost > 0:
            self.lost -= 1
            self.injected[endpoint, "drop_after"] += 1
            rule = self.rule_for(endpoint)
            return Fault(rule.latency if rule else 0.0, "drop_after")
        return super().decide(endpoint)


async def _run_to_the_end(start: Start, runs: int = 3) -> list[str]:
    """Run a worker until it exits 0, at most ``runs`` times (a failed file: rerun with the manifest,
    as the command's own message says)."""
    outputs = []
    for _ in range(runs):
        status, output = await _finish(await start())
        outputs.append(output)
        if status == 0:
            return outputs
    raise AssertionError("\n---\n".join(outputs))


async def test_four_shards_over_s3_register_every_object_once_through_faults_and_a_sigkill(
    s3_env: S3Server, redis_server: RedisServer, tmp_path: Path
) -> None:
    objects = _objects()
    await asyncio.to_thread(_fill, s3_env, objects)
    by_name = {key.rsplit("/", 1)[1]: body for key, body in objects.items()}
    manifests = [tmp_path / f"shard-{i}.jsonl" for i in range(SHARDS)]

    # BasicAI's rate limits enforced; the first two registrations lose their answers.
    async with Emulator(keys={KEY: "team"}, faults=FirstAnswersLost(2)) as emu:
        async with AsyncBasicAI(KEY, base_url=emu.base_url, redis_url=redis_server.url) as client:
            dataset_id = (await client.datasets.create(name="fleet", type="IMAGE")).id
        emu.faults.set(
            FaultRule(error_rate=0.04, drop_before_rate=0.03, latency=0.005), endpoint=STORE_ENDPOINT
        )
        # Lost answers: the server registers, then the connection drops; and a slow register call,
        # so the SIGKILL below lands while one is in flight.
        emu.faults.set(FaultRule(drop_after_rate=0.3, latency=0.25), endpoint=REGISTER)

        def cli(shard: int) -> Start:
            return lambda: _cli(shard, dataset_id, manifests[shard], emu.base_url, redis_server.url)

        async def python_worker() -> None:
            async with AsyncBasicAI(KEY, base_url=emu.base_url, redis_url=redis_server.url) as worker:
                assert isinstance(worker.limiter, RedisLimiter)
                for _ in range(3):
                    report = await worker.uploader().upload(
                        dataset_id, object_sources(PREFIX), shard=(PYTHON, SHARDS), manifest=manifests[PYTHON]
                    )
                    if not report.failed and not report.maybe_registered:
                        return
                raise AssertionError(report.failed[:3] + report.maybe_registered[:3])

        async def killed_then_restarted() -> list[str]:
            proc = await cli(KILLED)()
            await _until_registering(manifests[KILLED], proc)
            proc.send_signal(signal.SIGKILL)
            status, output = await _finish(proc)
            assert status == -signal.SIGKILL, output
            return await _run_to_the_end(cli(KILLED))

        others = [_run_to_the_end(cli(i)) for i in range(SHARDS) if i not in (KILLED, PYTHON)]
        await asyncio.gather(killed_then_restarted(), python_worker(), *others)

        items = list(emu.state.datasets[dataset_id].items.values())
        injected = dict(emu.faults.injected)
        statuses = Counter(r.status for r in emu.requests(KEY))
        # Every object exactly once, none missing, with its own bytes.
        assert Counter(i.name for i in items) == Counter(list(by_name))
        for item in items:
            assert emu.read_object(item.files[0].path) == by_name[item.name]

    # The faults happened; the quota held: not one 429 from the server.
    assert injected.get((STORE_ENDPOINT, "error"), 0) > 0
    assert injected.get((REGISTER, "drop_after"), 0) > 0
    assert statuses[429] == 0, statuses
    # Each shard's manifest holds only its own files.
    for shard, manifest in enumerate(manifests):
        assert f'"shard":"{shard}/{SHARDS}"' in manifest.read_text().splitlines()[0]
    # Every call the server saw was admitted by the one shared ring (no worker went around it).
    ring = RedisLimiter(redis_server.url, api_key=KEY)
    try:
        day = (await ring.refresh()).windows[-1]
    finally:
        await ring.aclose()
    assert day.count - day.remaining >= sum(statuses.values()) > 0
    assert {shard_of(n, SHARDS) for n in by_name} == set(range(SHARDS))
