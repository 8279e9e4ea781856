"""Upload throughput against raw aiohttp, and peak memory of a 1 GiB upload and a 20,000-result export.

Everything runs against one emulator in a separate process
(``python -m basicai_async emulator --port 0 --no-limits``), over loopback:

- ``ratio``: 2,000 files of 256 KiB through the uploader (pre-sign, PUT,
  register) against raw aiohttp PUTs of the same files at the same concurrency
  to URLs pre-signed up front; our throughput over raw (target >= 0.85). Best of
  three runs each, alternated, as other work on the machine makes single runs noisy.
- ``big_file_rss_mib``: peak growth of this process's RSS while uploading one
  1 GiB file (sparse on disk), sampled every few milliseconds (target <= 64).
- ``export_rss_mib``: peak RSS growth while exporting 20,000 results (10,000
  data items, two annotation sources each) to a file (target <= 64).

Run: ``python benchmarks/upload.py``. The last line is one JSON object:
``{"benchmark": "upload", "ratio": ..., "big_file_rss_mib": ..., "export_rss_mib": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import aiohttp
import psutil

from basicai_async import AsyncBasicAI, Limits, UploadSource, Window
from basicai_async.export import export_results
from basicai_async.models import PresignRequest

__all__ = ["main"]

KEY = "benchmark-key"
FILES = 2000
FILE_SIZE = 256 * 1024
CONCURRENCY = 16
RUNS = 3
BIG_FILE = 1024**3
EXPORT_ITEMS = 10_000
MIB = 1024 * 1024
# The emulator runs without limits; the client must not pace itself to BasicAI's either.
UNLIMITED = Limits((Window(10**9, 1.0),))

T = TypeVar("T")


@contextlib.contextmanager
def emulator_process(storage: Path, key: str = KEY) -> Iterator[str]:
    """A separate emulator process without limits; yields its base URL (the first line it prints)."""
    cmd = [sys.executable, "-m", "basicai_async", "emulator", "--port", "0", "--api-key", key, "--no-limits"]
    cmd += ["--storage-dir", str(storage)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the emulator did not start: {url!r}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def peak_rss_growth(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Run ``work`` while sampling this process's RSS; the peak growth in MiB and its result."""
    process = psutil.Process()
    gc.collect()
    baseline = process.memory_info().rss
    peak = baseline
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.005)

    sampler = asyncio.create_task(sample())
    try:
        result = await work()
    finally:
        done.set()
        await sampler
    peak = max(peak, process.memory_info().rss)
    return (peak - baseline) / MIB, result


async def ours(client: AsyncBasicAI, dataset_id: int, files: list[Path]) -> float:
    """Seconds for the uploader to pre-sign, PUT and register every file."""
    started = time.perf_counter()
    report = await client.uploader(concurrency=CONCURRENCY).upload(dataset_id, files)
    elapsed = time.perf_counter() - started
    report.raise_for_failures()
    return elapsed


async def raw(client: AsyncBasicAI, files: list[Path]) -> float:
    """Seconds for plain aiohttp PUTs of the files to URLs pre-signed before the clock starts."""
    urls: list[str] = []
    for start in range(0, len(files), 100):
        chunk = files[start : start + 100]
        uploads = await client.storage.presign_uploads(
            [PresignRequest(filename=p.name, size=FILE_SIZE) for p in chunk]
        )
        urls += [u.pre_signed_url for u in uploads]
    limit = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def put(path: Path, url: str) -> None:
            async with limit:
                body = path.read_bytes()
                headers = {"Content-Length": str(len(body)), "Content-Type": "image/png"}
                async with session.put(url, data=body, headers=headers) as resp:
                    await resp.read()
                    resp.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(put(p, u) for p, u in zip(files, urls, strict=True)))
        return time.perf_counter() - started


async def throughput_ratio(client: AsyncBasicAI, tmp: Path) -> float:
    """Our throughput over raw aiohttp's on 2,000 files of 256 KiB (best of ``RUNS`` each)."""
    files = []
    directory = tmp / "small"
    directory.mkdir()
    for i in range(FILES):
        path = directory / f"img-{i:05d}.png"
        path.write_bytes(i.to_bytes(4, "big") * (FILE_SIZE // 4))
        files.append(path)
    ours_times, raw_times = [], []
    for run in range(RUNS):
        dataset = await client.datasets.create(name=f"throughput-{run}", type="IMAGE")
        raw_times.append(await raw(client, files))
        ours_times.append(await ours(client, dataset.id, files))
    mb = FILES * FILE_SIZE / 1e6
    print(f"raw aiohttp: {mb / min(raw_times):.0f} MB/s  (runs {[round(t, 2) for t in raw_times]} s)")
    print(f"uploader:    {mb / min(ours_times):.0f} MB/s  (runs {[round(t, 2) for t in ours_times]} s)")
    return min(raw_times) / min(ours_times)


async def big_file_rss(client: AsyncBasicAI, tmp: Path) -> float:
    """Peak RSS growth (MiB) while uploading one 1 GiB file."""
    big = tmp / "big.pcd"
    with big.open("wb") as f:
        f.truncate(BIG_FILE)  # sparse: reads back as zeros, costs no disk here
    dataset = await client.datasets.create(name="big", type="LIDAR_BASIC")

    async def upload() -> float:
        started = time.perf_counter()
        report = await client.uploader().upload(dataset.id, [big])
        report.raise_for_failures()
        return time.perf_counter() - started

    growth, elapsed = await peak_rss_growth(upload)
    big.unlink()
    print(f"1 GiB upload: {elapsed:.1f} s, {BIG_FILE / 1e6 / elapsed:.0f} MB/s, peak RSS +{growth:.1f} MiB")
    return growth


async def export_rss(client: AsyncBasicAI, tmp: Path) -> float:
    """Peak RSS growth (MiB) while exporting 20,000 results (10,000 items x 2 sources)."""
    dataset = await client.datasets.create(name="export", type="IMAGE")
    sources = [UploadSource.from_bytes(f"e-{i:05d}.png", b"png") for i in range(EXPORT_ITEMS)]
    report = await client.uploader(concurrency=64).upload(dataset.id, sources)
    report.raise_for_failures()
    del report, sources
    out = tmp / "results.jsonl"

    async def export() -> tuple[int, float]:
        started = time.perf_counter()
        summary = await export_results(client, dataset.id, out)
        return summary.results, time.perf_counter() - started

    growth, (results, elapsed) = await peak_rss_growth(export)
    if results != 2 * EXPORT_ITEMS:
        raise RuntimeError(f"exported {results} results, expected {2 * EXPORT_ITEMS}")
    size = out.stat().st_size / 1e6
    print(f"export: {results} results, {size:.0f} MB in {elapsed:.1f} s, peak RSS +{growth:.1f} MiB")
    return growth


async def run(base_url: str, tmp: Path) -> dict[str, object]:
    async with AsyncBasicAI(KEY, base_url=base_url, limits=UNLIMITED) as client:
        # The memory measurements come first, before the throughput runs grow the heap.
        big = await big_file_rss(client, tmp)
        export = await export_rss(client, tmp)
        ratio = await throughput_ratio(client, tmp)
    return {
        "benchmark": "upload",
        "ratio": round(ratio, 3),
        "big_file_rss_mib": round(big, 1),
        "export_rss_mib": round(export, 1),
    }


def main() -> int:
    # The emulator's objects (3.5 GB over the run) go to RAM where there is a tmpfs, so
    # the disk's writeback does not add its noise to the throughput runs.
    shm = Path("/dev/shm")
    store_root = str(shm) if shm.is_dir() else None
    with (
        tempfile.TemporaryDirectory(prefix="basicai-bench-") as tmp_dir,
        tempfile.TemporaryDirectory(prefix="basicai-bench-store-", dir=store_root) as storage,
    ):
        work = Path(tmp_dir)
        with emulator_process(Path(storage)) as base_url:
            print(f"emulator: {base_url}")
            line = asyncio.run(run(base_url, work))
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
