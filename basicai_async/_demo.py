"""``basicai-async demo``: a full ingest and export against the embedded emulator.

No key and no network: the emulator runs in this process on loopback with
BasicAI's real rate limits, and the SDK talks real HTTP to it.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import anyio

from ._client import AsyncBasicAI
from ._progress import ConsoleProgress
from .emulator import Emulator, sample_png
from .export import export_results

__all__ = ["run_demo", "sample_png"]


def _write_samples(images: Path, files: int) -> list[Path]:
    images.mkdir(parents=True, exist_ok=True)
    for old in images.glob("*.png"):
        old.unlink()
    paths = [images / f"frame-{i:05d}.png" for i in range(files)]
    for i, path in enumerate(paths):
        path.write_bytes(sample_png(i))
    return paths


async def _query_each(client: AsyncBasicAI, dataset_id: int, data_ids: list[int]) -> int:
    """One results query per item, many in flight: the limiter, not the caller, keeps the pace."""
    instances = 0
    slots = anyio.CapacityLimiter(32)

    async def one(data_id: int) -> None:
        nonlocal instances
        async with slots:
            results = await client.annotations.get_data_results(dataset_id, data_id)
        instances += sum(len(r.instances) for r in results)

    async with anyio.create_task_group() as tg:
        for data_id in data_ids:
            tg.start_soon(one, data_id)
    return instances


async def run_demo(*, files: int = 300, output: Path = Path("demo-output")) -> int:
    """Write sample images, upload and register them, walk and query the items, export, summarise."""
    if files < 1:
        raise ValueError("the demo needs at least one file")
    paths = await anyio.to_thread.run_sync(_write_samples, output / "images", files)
    key = "demo-" + secrets.token_urlsafe(12)
    started = time.perf_counter()
    async with Emulator(keys={key: "demo-team"}) as emulator:
        print(f"emulator on {emulator.base_url} (BasicAI's rate limits enforced)")
        async with AsyncBasicAI(key, base_url=emulator.base_url) as client:
            dataset = await client.datasets.create(name=f"demo-{int(time.time())}", type="IMAGE")
            print(f"created dataset {dataset.id} ({dataset.name}); uploading {files} images")
            with ConsoleProgress() as progress:
                report = await client.uploader(on_event=progress).upload(dataset.id, paths)
            upload_time = time.perf_counter() - started
            walked = [item async for item in client.items.iter_by_id(dataset.id)]
            print(f"walking {len(walked)} items, one result query each, 32 at a time")
            instances = await _query_each(client, dataset.id, [item.id for item in walked])
            results_path = output / "results.jsonl"
            summary = await export_results(client, dataset.id, results_path)
            elapsed = time.perf_counter() - started
            stats = client.limiter.stats()
            calls = len(emulator.requests(key))
            peak = emulator.max_window_count(key, 1.0)
    uploaded = report.bytes_uploaded
    print()
    print("demo summary")
    print(f"  files registered   {len(report.succeeded)} of {files} ({len(report.failed)} failed)")
    print(f"  bytes uploaded     {uploaded:,}")
    print(f"  items walked       {len(walked)} ({instances} annotated objects, one query per item)")
    print(f"  results exported   {summary.results} ({summary.data_items} data items) -> {results_path}")
    print(f"  API calls          {calls} (busiest 1-second window: {peak}, BasicAI's limit 100)")
    waited = f"{stats.total_wait:.2f} s summed over {stats.admitted} calls (they wait side by side)"
    print(f"  limiter wait       {waited}")
    rate = f"{files / upload_time:.1f} files/s, {uploaded / upload_time / 1e6:.2f} MB/s"
    print(f"  upload             {upload_time:.2f} s, {rate}")
    print(f"  whole demo         {elapsed:.2f} s")
    ok = not report.failed and len(walked) == files and summary.data_items == files
    if not ok:
        print("demo FAILED: not every file made it through", flush=True)
    return 0 if ok else 1
