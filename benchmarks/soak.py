"""Soak: 3,000 files uploaded, registered and exported through injected faults; nothing lost or doubled.

The emulator runs in its own process (``multiprocessing``, spawned), steered
over a pipe through its public fault API (``FaultRule``, ``emu.faults``,
``emu.store.ttl``) and inspected afterwards through its state. Faults, all on
every endpoint (API calls and the object store's PUTs) unless said otherwise:

- steady: 10% 5xx (502/503/504 with HTML bodies, 500 in plain text), 2%
  connections dropped before the server acted, 2% dropped after it acted,
  2% truncated answers, 2% 429s, 20 ms added to every answer;
- a 429 storm (every answer 429 with ``Retry-After: 1``) for a moment, while files are in flight;
- slow answers: ``batchAddData`` answers after 0.5 s (besides the steady faults);
- pre-signed URLs that expire mid-run: for 8 s the store signs URLs valid
  1.5 s only (the uploader renews 0.2 s ahead), so PUTs that wait or retry meet
  403 "Request has expired";
- one interruption: the first upload is cancelled once 1,000 files are
  registered, then resumed from its manifest; further runs with the same
  manifest redo what failed (as a user would), at most ``PASSES`` in all.

Then the whole dataset is exported (still under faults; rerun whole if it
fails, at most three times) and the emulator's state is checked: every file
registered exactly once, every registered item exported exactly once per
annotation source.

Run: ``python benchmarks/soak.py``. The last line is one JSON object::

    {"benchmark": "soak", "files": 3000, "registered": R, "lost": 0, "duplicated": 0,
     "maybe_registered": M, "exported": E, "export_missing": 0, "export_duplicated": 0,
     "faults_injected": F, "server_429": S}

Targets: lost 0, duplicated 0, export_missing 0, export_duplicated 0,
faults_injected >= 100, and every file registered once by the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from basicai_async import (
    AsyncBasicAI,
    BasicAIError,
    FileDone,
    Uploader,
    UploadEvent,
    UploadReport,
    export_results,
)
from basicai_async.emulator import Emulator, FaultRule, Faults

__all__ = ["main"]

KEY = "soak-key"
FILES = 3000
INTERRUPT_AFTER = 1000
PASSES = 5
EXPORT_ATTEMPTS = 3
SEED = 20260101
CONCURRENCY = 16

STEADY = FaultRule(
    latency=0.02,
    error_rate=0.10,
    error_statuses=(500, 502, 503, 504),
    rate_limit_rate=0.02,
    drop_before_rate=0.02,
    drop_after_rate=0.02,
    truncate_rate=0.02,
)
SLOW = FaultRule(
    latency=0.5,
    error_rate=STEADY.error_rate,
    error_statuses=STEADY.error_statuses,
    rate_limit_rate=STEADY.rate_limit_rate,
    drop_before_rate=STEADY.drop_before_rate,
    drop_after_rate=STEADY.drop_after_rate,
    truncate_rate=STEADY.truncate_rate,
)
SLOW_ENDPOINT = "dataset/batchAddData"
STORM = FaultRule(rate_limit_rate=1.0, retry_after=1)
STORM_SECONDS = 1.5
EXPIRING_TTL = 1.5
EXPIRING_SECONDS = 8.0
NORMAL_TTL = 3600.0


# -- the emulator's process -------------------------------------------------------------


def _serve(conn: Connection, storage: str) -> None:
    asyncio.run(_serve_async(conn, storage))


async def _serve_async(conn: Connection, storage: str) -> None:
    # Dropped connections are the point here: aiohttp's server would log each one's traceback.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    async with Emulator({KEY: "soak"}, storage_dir=storage, faults=Faults(seed=SEED)) as emu:
        conn.send(emu.base_url)
        while True:
            command, arg = await asyncio.to_thread(conn.recv)
            if command == "stop":
                conn.send(None)
                return
            reply = _command(emu, command, arg)
            if reply is not None:
                conn.send(reply)


def _command(emu: Emulator, command: str, arg: Any) -> dict[str, Any] | None:
    """Fault switches answer nothing (the client does not wait for them); queries answer a dict."""
    if command == "faults":
        emu.faults.set(STEADY if arg else None)
        emu.faults.set(SLOW if arg else None, endpoint=SLOW_ENDPOINT)
    elif command == "storm":
        emu.faults.set(STORM if arg else STEADY)
    elif command == "ttl":
        emu.store.ttl = float(arg)
    elif command == "state":
        dataset = emu.state.datasets[int(arg)]
        names = Counter(item.name for item in dataset.items.values() if item.kind == "DATA")
        ids = {item.name: item.id for item in dataset.items.values() if item.kind == "DATA"}
        statuses = Counter(r.status for r in emu.requests(KEY))
        injected = Counter({f"{e}:{k}": n for (e, k), n in emu.faults.injected.items()})
        last = [(r.path, r.status) for r in emu.requests(KEY)[-12:]]
        return {
            "names": dict(names),
            "ids": ids,
            "statuses": dict(statuses),
            "injected": dict(injected),
            "last": last,
        }
    else:
        raise ValueError(f"unknown command {command!r}")
    return None


class EmulatorProcess:
    """The emulator in a spawned process; ``send`` steers it, ``ask`` queries it."""

    def __init__(self, storage: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, str(storage)), daemon=True)
        self._proc.start()
        self.base_url: str = self._conn.recv()

    def send(self, command: str, arg: object = None) -> None:
        self._conn.send((command, arg))

    def ask(self, command: str, arg: object = None) -> dict[str, Any]:
        self._conn.send((command, arg))
        reply: dict[str, Any] = self._conn.recv()
        return reply

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send(("stop", None))
            self._conn.recv()
        self._proc.join(timeout=30)


# -- the client's side ------------------------------------------------------------------


class Chaos:
    """An ``on_event`` consumer that counts registered files and switches faults at set points."""

    def __init__(self, emulator: EmulatorProcess, loop: asyncio.AbstractEventLoop) -> None:
        self.emulator = emulator
        self.loop = loop
        self.registered = 0
        self.interrupt = asyncio.Event()
        self._storm_done = False
        self._expiry_done = False

    def __call__(self, event: UploadEvent) -> None:
        if not isinstance(event, FileDone) or event.result.resumed:
            return
        self.registered += 1
        if self.registered >= INTERRUPT_AFTER:
            self.interrupt.set()
        if not self._storm_done and self.registered >= 500:
            self._storm_done = True
            self.emulator.send("storm", True)
            self.loop.call_later(STORM_SECONDS, self.emulator.send, "storm", False)
        if not self._expiry_done and self.registered >= 1500:
            self._expiry_done = True
            self.emulator.send("ttl", EXPIRING_TTL)
            self.loop.call_later(EXPIRING_SECONDS, self.emulator.send, "ttl", NORMAL_TTL)


async def _upload_pass(
    uploader: Uploader, dataset_id: int, files: list[Path], manifest: Path, chaos: Chaos, interrupt: bool
) -> UploadReport | None:
    """One run of the upload with the manifest; with ``interrupt``, cancelled at the interruption point."""
    task = asyncio.ensure_future(uploader.upload(dataset_id, files, manifest=manifest))
    if not interrupt:
        return await task
    stop = asyncio.ensure_future(chaos.interrupt.wait())
    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _export(client: AsyncBasicAI, dataset_id: int, out: Path) -> tuple[Counter[tuple[int, int]], int]:
    """The (data id, source id) pairs of the export, and the attempts it took (0: every one failed)."""
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        try:
            await export_results(client, dataset_id, out)
        except BasicAIError as exc:
            print(f"export attempt {attempt} failed: {type(exc).__name__}: {exc}")
            continue
        pairs: Counter[tuple[int, int]] = Counter()
        with out.open("rb") as f:
            for line in f:
                result = msgspec.json.decode(line)
                pairs[result["dataId"], result.get("sourceId") or 0] += 1
        return pairs, attempt
    return Counter(), 0


async def run(emulator: EmulatorProcess, work: Path) -> dict[str, object]:
    files = []
    directory = work / "files"
    directory.mkdir()
    for i in range(FILES):
        path = directory / f"soak-{i:05d}.jpg"
        path.write_bytes(i.to_bytes(4, "big") * (256 + i % 512))
        files.append(path)
    manifest = work / "upload.jsonl"
    loop = asyncio.get_running_loop()
    chaos = Chaos(emulator, loop)
    started = time.perf_counter()
    async with AsyncBasicAI(KEY, base_url=emulator.base_url) as client:
        dataset = await client.datasets.create(name="soak", type="IMAGE")
        emulator.send("faults", True)
        uploader = Uploader(client, concurrency=CONCURRENCY, expiry_margin=0.2, on_event=chaos)
        report: UploadReport | None = None
        passes = 0
        for passes in range(1, PASSES + 1):
            try:
                report = await _upload_pass(
                    uploader, dataset.id, files, manifest, chaos, interrupt=passes == 1
                )
            except BasicAIError as exc:
                print(f"pass {passes}: the upload raised {type(exc).__name__}: {exc}")
                continue
            if report is None:
                print(f"pass {passes}: interrupted after {chaos.registered} files registered")
                continue
            failed = report.failed
            stages = Counter(r.stage for r in failed)
            unsure = len(report.maybe_registered)
            print(
                f"pass {passes}: {len(report.succeeded)} ok, {len(failed)} not ({dict(stages)}), "
                f"{unsure} maybe registered"
            )
            for stage in stages:
                example = next(r for r in failed if r.stage == stage)
                print(f"  e.g. {example.name} at {stage}: {(example.error or '')[:160]}")
            if not failed and not unsure:
                break
        pairs, export_attempts = await _export(client, dataset.id, work / "export.jsonl")
        emulator.send("faults", False)
        state = emulator.ask("state", dataset.id)
    elapsed = time.perf_counter() - started

    names: dict[str, int] = state["names"]
    wanted = {p.name for p in files}
    lost = sum(1 for name in wanted if names.get(name, 0) == 0)
    duplicated = sum(count - 1 for count in names.values() if count > 1)
    registered = sum(1 for name in wanted if names.get(name, 0) >= 1)
    registered_ids = {state["ids"][name] for name in wanted if name in state["ids"]}
    exported_ids = {data_id for data_id, _ in pairs}
    maybe = len(report.maybe_registered) if report is not None else 0
    statuses: Counter[int | None] = Counter(state["statuses"])
    injected = sum(state["injected"].values())
    # 429s of API calls are in the request log (injected or from the server's limits); the
    # store's PUTs are not, so its injected 429s are added.
    server_429 = statuses.get(429, 0) + state["injected"].get("store:rate_limit", 0)
    print(f"{passes} upload passes and export in {elapsed:.1f} s; export took {export_attempts} attempt(s)")
    print(f"faults injected: {dict(sorted(state['injected'].items()))}")
    print(f"API answers by status: {dict(sorted(statuses.items(), key=lambda kv: str(kv[0])))}")
    print(f"last API requests: {state['last']}")
    return {
        "benchmark": "soak",
        "files": FILES,
        "registered": registered,
        "lost": lost,
        "duplicated": duplicated,
        "maybe_registered": maybe,
        "exported": len(exported_ids),
        "export_missing": len(registered_ids - exported_ids),
        "export_duplicated": sum(count - 1 for count in pairs.values() if count > 1),
        "faults_injected": injected,
        "server_429": server_429,
    }


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="basicai-soak-") as tmp_dir,
        tempfile.TemporaryDirectory(prefix="basicai-soak-store-") as storage,
    ):
        emulator = EmulatorProcess(Path(storage))
        try:
            print(f"emulator: {emulator.base_url}")
            line = asyncio.run(run(emulator, Path(tmp_dir)))
        finally:
            emulator.stop()
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
