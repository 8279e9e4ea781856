"""Ingestion at scale: flat memory, client CPU per file against a raw aiohttp loop, reconciliation cost.

The emulator runs in its own process (``python -m basicai_async emulator
--no-limits``) and the client paces itself to no limit either, so what is
measured is the client's own work. The uploader runs at its defaults.

- ``rss_growth_ratio``: peak RSS (``ru_maxrss``) of a fresh process uploading
  100,000 tiny files over that of one uploading 20,000 (target <= 1.25). The
  sources are a lazy generator (what a directory walk or a bucket listing
  gives) and the upload keeps a manifest, as an upload of that size would.
- ``cpu_per_file_ratio``: this process's CPU time (user + system) per tiny
  file on disk, for the uploader over a raw aiohttp loop doing the same work:
  a pre-sign per 100 files, one PUT per file (16 at a time), a
  ``batchAddData`` per 100 (target <= 1.15). Rounds alternate who goes first;
  the ratio is the median of the rounds'. ``ours_cpu_per_file_us`` and
  ``raw_cpu_per_file_us`` are the medians. With ``uvloop`` installed both sides
  are measured on it too (printed, not in the ratio: it is an optional extra).
- ``files_per_s``: the uploader's wall-clock rate in the 100,000-file run.
- ``reconcile_calls_at_100k``: the API calls one reconciliation makes after an
  ambiguous ``batchAddData`` (the connection dropped after the server acted)
  in a dataset level that already holds 100,000 items (target <= 5).
- ``s3_files_per_s``: the uploader's wall-clock rate over an S3 prefix of tiny
  objects (``object_sources``: listed and read through obstore from moto's S3
  server in its own process, each object streamed to its pre-signed PUT), at
  its defaults. moto is a Python server, far slower than S3: the figure is a
  floor for what the client sustains, not S3's rate.

Usage: ``python benchmarks/ingest_scale.py [--small 20000] [--large 100000] [--cpu-files 6000]
[--rounds 3] [--s3-files 2000]``. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from upload import emulator_process

from basicai_async import AsyncBasicAI, Limits, UploadSource, Window, object_sources
from basicai_async.emulator import Emulator, Fault, Faults, NewDataRec

__all__ = ["main"]

KEY = "bench-key"
# Never waits, yet runs the limiter's fast path each call pays (as client_overhead.py does).
NO_LIMIT = Limits((Window(1_000_000, 1.0),))
PAYLOAD = b"\x89PNG tiny"
PUTS = 16  # the uploader's default PUT concurrency
BATCH = 100


def _client(base_url: str) -> AsyncBasicAI:
    return AsyncBasicAI(KEY, base_url=base_url, limits=NO_LIMIT)


# --- memory: one fresh process per size ------------------------------------------------------


def tiny_sources(count: int, prefix: str = "f") -> Iterator[UploadSource]:
    """``count`` tiny files, made one at a time (nothing holds them all)."""
    for i in range(count):
        yield UploadSource.from_bytes(f"{prefix}-{i:07d}.png", PAYLOAD)


async def _upload_lazily(base_url: str, count: int, manifest: Path) -> dict[str, float]:
    async with _client(base_url) as client:
        dataset = await client.datasets.create(name=f"rss-{count}-{os.getpid()}", type="IMAGE")
        started = time.perf_counter()
        report = await client.uploader().upload(dataset.id, tiny_sources(count), manifest=manifest)
        elapsed = time.perf_counter() - started
        report.raise_for_failures()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"dataset_id": dataset.id, "peak_rss_mib": peak_kib / 1024, "files_per_s": count / elapsed}


def measure_upload(base_url: str, count: int, work: Path) -> dict[str, float]:
    """Upload ``count`` tiny files in a fresh process; its peak RSS, rate and dataset."""
    manifest = work / f"manifest-{count}.db"
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); import ingest_scale as b; "
        "from pathlib import Path; "
        "print(json.dumps(asyncio.run(b._upload_lazily(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), base_url, str(count), str(manifest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- CPU per file: the uploader against a raw aiohttp loop -----------------------------------


async def raw_upload(base_url: str, dataset_id: int, files: list[Path]) -> None:
    """What a user would write with aiohttp alone: pre-sign 100, PUT them 16 at a time, register 100."""
    headers = {"Authorization": f"ApiKey {KEY}"}
    limit = asyncio.Semaphore(PUTS)
    async with aiohttp.ClientSession(base_url=base_url.rstrip("/") + "/", headers=headers) as api:
        store = aiohttp.ClientSession()

        async def put(path: Path, url: str) -> None:
            async with limit:
                body = path.read_bytes()
                put_headers = {"Content-Length": str(len(body)), "Content-Type": "image/png"}
                async with store.put(url, data=body, headers=put_headers) as resp:
                    await resp.read()
                    resp.raise_for_status()

        async def call(path: str, body: object) -> list[dict[str, object]]:
            async with api.post(path, json=body) as resp:
                envelope = await resp.json()
            if str(envelope.get("code")).upper() != "OK":
                raise RuntimeError(f"{path}: {envelope}")
            return envelope["data"]  # type: ignore[no-any-return]

        async def batch(chunk: list[Path]) -> None:
            signed = await call(
                "storage/batchGeneratePreSignedUploadUrl",
                [{"filename": p.name, "size": p.stat().st_size} for p in chunk],
            )
            await asyncio.gather(
                *(put(p, str(s["preSignedUrl"])) for p, s in zip(chunk, signed, strict=True))
            )
            files = [
                {
                    "name": p.name,
                    "files": [
                        {
                            "path": s.get("accessUrl") or s["path"],
                            "size": p.stat().st_size,
                            "mimeType": "image/png",
                        }
                    ],
                }
                for p, s in zip(chunk, signed, strict=True)
            ]
            created = await call(f"dataset/batchAddData/{dataset_id}", files)
            if len(created) != len(chunk):
                raise RuntimeError("batchAddData answered a wrong count")

        try:
            # Batches overlap as the uploader's do (PUTs of one while the next is pre-signed).
            slots = asyncio.Semaphore(4)

            async def paced(chunk: list[Path]) -> None:
                async with slots:
                    await batch(chunk)

            await asyncio.gather(*(paced(files[i : i + BATCH]) for i in range(0, len(files), BATCH)))
        finally:
            await store.close()


async def ours_upload(client: AsyncBasicAI, dataset_id: int, files: list[Path]) -> None:
    report = await client.uploader().upload(dataset_id, files)
    report.raise_for_failures()


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def cpu_rounds(
    base_url: str, files: list[Path], rounds: int, loop: str
) -> tuple[list[float], list[float]]:
    """CPU seconds per file of each side, per round (alternating which goes first)."""
    ours: list[float] = []
    raw: list[float] = []
    async with _client(base_url) as client:
        for r in range(rounds):
            order = ("raw", "ours") if r % 2 == 0 else ("ours", "raw")
            for side in order:
                # Unique per run of the rounds: the uvloop rounds follow the asyncio ones in one process.
                name = f"cpu-{side}-{r}-{os.getpid()}-{time.monotonic_ns()}"
                dataset = await client.datasets.create(name=name, type="IMAGE")
                before = _cpu()
                if side == "raw":
                    await raw_upload(base_url, dataset.id, files)
                    raw.append((_cpu() - before) / len(files))
                else:
                    await ours_upload(client, dataset.id, files)
                    ours.append((_cpu() - before) / len(files))
    return ours, raw


def run_cpu(base_url: str, files: list[Path], rounds: int, loop: str) -> tuple[list[float], list[float]]:
    if loop == "uvloop":
        import uvloop

        result: tuple[list[float], list[float]] = uvloop.run(cpu_rounds(base_url, files, rounds, loop))
        return result
    return asyncio.run(cpu_rounds(base_url, files, rounds, loop))


# --- reconciliation in a level of 100,000 items ----------------------------------------------


class _DropOneRegistration(Faults):
    """Faults that let the ``nth`` ``batchAddData`` act and then drop its answer (the ambiguous case)."""

    def __init__(self, nth: int) -> None:
        super().__init__()
        self.nth = nth
        self.seen = 0

    def decide(self, endpoint: str) -> Fault:
        if endpoint == REGISTER:
            self.seen += 1
            if self.seen == self.nth:
                self.injected[endpoint, "drop_after"] += 1
                return Fault(kind="drop_after")
        return super().decide(endpoint)


REGISTER = "dataset/batchAddData"
LOOKUP = "/dataset/listItemById/"


async def reconcile_calls(level: int, files: int = 500) -> int:
    """API calls one reconciliation makes in a level already holding ``level`` items.

    An in-process emulator (its level seeded directly, which takes a second where
    uploading 100,000 files takes a minute) drops the answer of the last
    registration of a ``files``-file upload after acting on it. Counted: the
    look-ups (``listItemById``) and registrations beyond one per batch.
    """
    faults = _DropOneRegistration(nth=files // BATCH)
    async with Emulator({KEY: "bench"}, limits=None, faults=faults) as emu:
        ds = emu.state.create_dataset("bench", "reconcile", "IMAGE", None)
        for start in range(0, level, 1000):
            emu.state.add_data(ds, [NewDataRec(f"old-{i:07d}.png", []) for i in range(start, start + 1000)])
        async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMIT) as client:
            report = await client.uploader().upload(ds.id, tiny_sources(files, prefix="new"))
        report.raise_for_failures()
        if faults.injected[REGISTER, "drop_after"] != 1:
            raise RuntimeError("the registration's answer was not dropped")
        paths = [r.path for r in emu.requests(KEY)]
        registrations = sum(REGISTER in p for p in paths)
        lookups = sum(LOOKUP in p for p in paths)
        found = sum(1 for i in emu.state.datasets[ds.id].items.values() if i.name.startswith("new"))
        if found != files:
            raise RuntimeError(f"{found} of {files} files registered (expected each exactly once)")
    return lookups + registrations - files // BATCH


def write_files(directory: Path, count: int) -> list[Path]:
    directory.mkdir()
    files = []
    for i in range(count):
        path = directory / f"c-{i:06d}.png"
        path.write_bytes(PAYLOAD)
        files.append(path)
    return files


def _us(seconds: list[float]) -> list[int]:
    return [round(s * 1e6) for s in seconds]


# --- object storage: an S3 prefix (moto's server in its own process) as the sources ---------


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """moto's S3 server in its own process; yields its endpoint once it accepts connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "moto's S3 server did not start (pip install 'moto[server]')"
                    ) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


async def _fill_bucket(prefix: str, count: int) -> None:
    import obstore
    from obstore.store import from_url

    store = from_url(prefix, client_options={"allow_http": True})
    slots = asyncio.Semaphore(32)

    async def put(i: int) -> None:
        async with slots:
            await obstore.put_async(store, f"{i // 1000:03d}/s3-{i:07d}.png", PAYLOAD)

    await asyncio.gather(*(put(i) for i in range(count)))


async def s3_files_per_s(base_url: str, count: int) -> float:
    """Files/s the uploader, at its defaults, registers from an S3 prefix of ``count`` tiny objects."""
    with moto_process() as endpoint:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench-secret",
            AWS_REGION="us-east-1",
            AWS_ALLOW_HTTP="true",
        )
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
        prefix = "s3://bench/objects/"
        await _fill_bucket(prefix, count)
        async with _client(base_url) as client:
            dataset = await client.datasets.create(name=f"s3-{count}-{os.getpid()}", type="IMAGE")
            started = time.perf_counter()
            report = await client.uploader().upload(dataset.id, object_sources(prefix))
            elapsed = time.perf_counter() - started
            report.raise_for_failures()
        if len(report.results) != count:
            raise RuntimeError(f"{len(report.results)} of {count} objects were listed")
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--cpu-files", type=int, default=6_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--s3-files", type=int, default=2000)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="basicai-scale-") as tmp,
        tempfile.TemporaryDirectory(prefix="basicai-scale-store-") as storage,
        emulator_process(Path(storage), KEY) as base_url,
    ):
        work = Path(tmp)
        print(f"emulator: {base_url}")
        files = write_files(work / "cpu", args.cpu_files)
        ours, raw = run_cpu(base_url, files, args.rounds, "asyncio")
        ratios = [o / r for o, r in zip(ours, raw, strict=True)]
        print(f"asyncio: ours {_us(ours)} us/file, raw {_us(raw)} us/file")
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop: not installed (pip install 'basicai-async[uvloop]')")
        else:
            u_ours, u_raw = run_cpu(base_url, files, args.rounds, "uvloop")
            print(
                f"uvloop:  ours {_us(u_ours)} us/file, raw {_us(u_raw)} us/file, "
                f"ratio {statistics.median(o / r for o, r in zip(u_ours, u_raw, strict=True)):.3f}"
            )
        small = measure_upload(base_url, args.small, work)
        large = measure_upload(base_url, args.large, work)
        for count, run in ((args.small, small), (args.large, large)):
            print(f"{count} files: peak RSS {run['peak_rss_mib']:.1f} MiB, {run['files_per_s']:.0f} files/s")
        calls = asyncio.run(reconcile_calls(args.large))
        s3_rate = asyncio.run(s3_files_per_s(base_url, args.s3_files))
        print(f"{args.s3_files} objects from an S3 prefix (moto): {s3_rate:.0f} files/s")
    line = {
        "benchmark": "ingest_scale",
        "rss_growth_ratio": round(large["peak_rss_mib"] / small["peak_rss_mib"], 3),
        "cpu_per_file_ratio": round(statistics.median(ratios), 3),
        "ours_cpu_per_file_us": round(statistics.median(ours) * 1e6, 1),
        "raw_cpu_per_file_us": round(statistics.median(raw) * 1e6, 1),
        "files_per_s": round(large["files_per_s"], 1),
        "reconcile_calls_at_100k": calls,
        "s3_files_per_s": round(s3_rate, 1),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
