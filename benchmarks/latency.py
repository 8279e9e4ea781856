"""Export and upload at real round trips: wall time at latency over the physical bound.

The emulator runs in its own process (this script with ``--serve``: the
emulator, its fault rules and its state driven by commands on stdin, so the
datasets are seeded straight into its state and latency is switched on and off
between runs). Limits are off on the server; the client paces itself with its
default limiter (BasicAI's published limits, 100 calls/s).

Three workloads, each run twice in this process, at zero latency and then with
100 ms on every API call and 50 ms on every storage PUT:

- ``export_flat``: ``export_results`` of 20,000 data items at the top level;
- ``export_nested``: ``export_results`` of 20,000 data items in 20 batches of 1,000;
- ``export_small``: ``export_results`` of 5,000 data items at the top level (a level
  small enough that its ID ranges must be sized from its total for every cursor to work);
- ``upload``: 3,000 files of 1 KiB through ``client.uploader(concurrency=64)``.

A run's bound is the larger of its zero-latency wall time and the physical
limit at latency: the quota (the calls the latency run made, at 100 per 1.05
s, the default limiter's margin included) for the exports; for the upload also
the PUTs at 64 in flight (``ceil(3000 / 64)`` PUT round trips of 50 ms). Each
ratio is the latency run's wall time over that bound (targets: <= 1.5). A fresh
client per run, so no run inherits another's quota.

Run: ``python benchmarks/latency.py``. The last line is one JSON object:
``{"benchmark": "latency", "export_flat_ratio": ..., "export_nested_ratio": ...,
"export_small_ratio": ..., "upload_ratio": ..., ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from basicai_async import AsyncBasicAI, UploadSource
from basicai_async._constants import RATE_WINDOWS
from basicai_async.export import export_results
from basicai_async.ratelimit import BASICAI_LIMITS

__all__ = ["main"]

KEY = "latency-bench-key"
TEAM = "bench"
API_LATENCY = 0.100
PUT_LATENCY = 0.050
ITEMS = 20_000
SMALL_ITEMS = 5_000
BATCHES = 20
FILES = 3_000
FILE_SIZE = 1024
PUT_CONCURRENCY = 64


# -- the server process ------------------------------------------------------------


async def serve() -> None:
    """The emulator, driven by stdin: ``latency API PUT`` and ``seed ITEMS BATCHES`` (answers one line)."""
    from basicai_async.emulator import Emulator
    from basicai_async.emulator._faults import STORE_ENDPOINT, FaultRule
    from basicai_async.emulator._state import NewDataRec
    from basicai_async.models import FileRef

    files = [FileRef(path="http://127.0.0.1/store/seed.png", size=FILE_SIZE, mime_type="image/png")]
    async with Emulator(keys={KEY: TEAM}, limits=None) as emulator:
        print(emulator.base_url, flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode().split():
            command, *args = line
            if command == "latency":
                api, put = float(args[0]), float(args[1])
                emulator.faults.clear()
                emulator.faults.set(FaultRule(latency=api))
                emulator.faults.set(FaultRule(latency=put), endpoint=STORE_ENDPOINT)
                print("ok", flush=True)
            elif command == "seed":
                items, batches = int(args[0]), int(args[1])
                state = emulator.state
                dataset = state.create_dataset(TEAM, f"seeded-{len(state.datasets)}", "IMAGE", None)
                parents = [state.add_batch(dataset, f"batch-{b}").id for b in range(batches)] or [None]
                per_parent = items // len(parents)
                for parent in parents:
                    for start in range(0, per_parent, 100):
                        new = [NewDataRec(f"d{start + i}", files, parent) for i in range(100)]
                        state.add_data(dataset, new[: per_parent - start])
                print("ok", dataset.id, flush=True)


# -- the benchmark -------------------------------------------------------------------


class Server:
    """The emulator process and its command line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.close()
            raise SystemExit(f"the emulator did not start: {self.base_url!r}")

    def command(self, *words: object) -> list[str]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer or answer[0] != "ok":
            raise RuntimeError(f"the emulator refused {words}: {answer}")
        return answer[1:]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Run:
    seconds: float
    api_calls: int


async def timed(base_url: str, work: Callable[[AsyncBasicAI], Awaitable[None]]) -> Run:
    """``work`` with a fresh client (a fresh quota), counting its API calls."""
    calls = 0

    async def on_start(session: object, ctx: SimpleNamespace, params: Any) -> None:
        nonlocal calls
        calls += params.url.path.startswith("/api/")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    connector = aiohttp.TCPConnector(limit=100)
    async with (
        aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session,
        AsyncBasicAI(KEY, base_url=base_url, session=session, limits=BASICAI_LIMITS) as client,
    ):
        started = time.perf_counter()
        await work(client)
        return Run(time.perf_counter() - started, calls)


def quota_seconds(calls: int) -> float:
    """The earliest the default limiter lets ``calls`` calls go, from an idle start."""
    per_second, window = RATE_WINDOWS[0]
    return (calls - 1) // per_second * (window + BASICAI_LIMITS.margin)


async def run(args: argparse.Namespace) -> dict[str, object]:
    server = Server()
    out: dict[str, object] = {"benchmark": "latency"}
    try:
        flat = int(server.command("seed", args.items, 0)[0])
        nested = int(server.command("seed", args.items, args.batches)[0])
        small = int(server.command("seed", args.small_items, 0)[0])
        sources = [
            UploadSource.from_bytes(f"f-{i:05d}.png", i.to_bytes(4, "big") * (FILE_SIZE // 4))
            for i in range(args.files)
        ]

        def export(dataset_id: int, path: Path, items: int) -> Callable[[AsyncBasicAI], Awaitable[None]]:
            async def work(client: AsyncBasicAI) -> None:
                summary = await export_results(client, dataset_id, path)
                assert summary.data_items == items, summary

            return work

        async def upload(client: AsyncBasicAI) -> None:
            dataset = await client.datasets.create(name=f"upload-{time.monotonic_ns()}", type="IMAGE")
            report = await client.uploader(concurrency=PUT_CONCURRENCY).upload(dataset.id, sources)
            report.raise_for_failures()

        with tempfile.TemporaryDirectory() as tmp:
            workloads: dict[str, Callable[[AsyncBasicAI], Awaitable[None]]] = {
                "export_flat": export(flat, Path(tmp) / "flat.jsonl", args.items),
                "export_nested": export(nested, Path(tmp) / "nested.jsonl", args.items),
                "export_small": export(small, Path(tmp) / "small.jsonl", args.small_items),
                "upload": upload,
            }
            for name, work in workloads.items():
                server.command("latency", 0, 0)
                zero = await timed(server.base_url, work)
                server.command("latency", API_LATENCY, PUT_LATENCY)
                slow = await timed(server.base_url, work)
                physical = quota_seconds(slow.api_calls)
                if name == "upload":
                    physical = max(physical, math.ceil(args.files / PUT_CONCURRENCY) * PUT_LATENCY)
                bound = max(zero.seconds, physical)
                ratio = slow.seconds / bound
                print(
                    f"{name}: {slow.seconds:.2f} s at latency ({slow.api_calls} calls), "
                    f"{zero.seconds:.2f} s at zero latency ({zero.api_calls} calls), "
                    f"physical bound {physical:.2f} s -> ratio {ratio:.2f}",
                    flush=True,
                )
                out[f"{name}_ratio"] = round(ratio, 3)
                out[f"{name}_latency_s"] = round(slow.seconds, 3)
                out[f"{name}_zero_s"] = round(zero.seconds, 3)
                out[f"{name}_bound_s"] = round(bound, 3)
                out[f"{name}_calls"] = slow.api_calls
    finally:
        server.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=ITEMS, help="data items per export (default 20000)")
    parser.add_argument(
        "--batches", type=int, default=BATCHES, help="batches of the nested export (default 20)"
    )
    parser.add_argument(
        "--small-items", type=int, default=SMALL_ITEMS, help="data items of the small export (default 5000)"
    )
    parser.add_argument("--files", type=int, default=FILES, help="files to upload (default 3000)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    print(
        f"emulator in its own process, limits off; the client at BasicAI's limits; "
        f"latency {API_LATENCY * 1000:.0f} ms per API call, {PUT_LATENCY * 1000:.0f} ms per PUT",
        flush=True,
    )
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
