"""N worker processes upload one S3 prefix into one dataset, sharing one key's quota through Redis.

Each worker is its own process (as each pod of a Kubernetes Indexed Job, each
task of a Slurm array would be) and takes the objects whose name hashes to its
shard (``shard=(i, n)``); each keeps its own manifest, so a worker killed and
restarted resumes exactly its own share. The listing is streamed from the store
page by page and every object goes from S3 to its pre-signed URL without
touching a local disk::

    export BASICAI_API_KEY=...                      # the key the workers share
    export BASICAI_REDIS_URL=redis://localhost:6379/0
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=...
    python examples/cloud_workers.py s3://my-bucket/frames/ --workers 4 --create frames

Against a local S3 (moto, MinIO) set ``AWS_ENDPOINT_URL`` and ``AWS_ALLOW_HTTP=true``;
``--seed N`` first puts N sample images under an empty prefix, for a demo.
Needs ``pip install 'basicai-async[cloud,redis]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys

import obstore
from obstore.store import from_url

from basicai_async import AsyncBasicAI, RedisLimiter, object_sources
from basicai_async.emulator import sample_png


async def work(prefix: str, dataset_id: int, shard: int, workers: int) -> tuple[int, int, int]:
    """One worker: its shard of the prefix; returns (files in its shard, registered, resumed)."""
    async with AsyncBasicAI() as client:  # key, base URL and Redis from the environment
        assert isinstance(client.limiter, RedisLimiter), "set BASICAI_REDIS_URL"
        report = await client.uploader().upload(
            dataset_id,
            object_sources(prefix),
            shard=(shard, workers),
            manifest=f"shard-{shard}-of-{workers}.jsonl",  # one manifest per shard, bound to it
        )
    resumed = sum(r.resumed for r in report.results)
    for failed in report.failed[:5]:
        print(f"worker {shard}: {failed.name}: {failed.stage}: {failed.error}", file=sys.stderr)
    return len(report.results), len(report.succeeded), resumed


def run_worker(args: tuple[str, int, int, int]) -> tuple[int, int, int]:
    return asyncio.run(work(*args))


async def seed(prefix: str, count: int) -> None:
    """Put ``count`` sample images under an empty prefix (left as it is when it holds anything)."""
    store = from_url(prefix, client_options={"allow_http": True})
    async for _ in obstore.list(store, None, chunk_size=1):
        return
    for i in range(count):
        await obstore.put_async(store, f"cam{i % 2}/frame-{i:04d}.png", sample_png(i, size=8))


async def dataset_named(name: str) -> int:
    """The id of the dataset called ``name``, created if there is none (so a rerun resumes into it)."""
    async with AsyncBasicAI() as client:
        async for dataset in client.datasets.list(name=name):
            if dataset.name == name:
                return dataset.id
        return (await client.datasets.create(name=name, type="IMAGE")).id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="s3://bucket/prefix/ (or gs://..., az://...)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--dataset", type=int, help="id of an existing dataset")
    target.add_argument("--create", default="cloud-workers", help="dataset name (found or created)")
    parser.add_argument("--seed", type=int, default=0, help="first put N sample images under an empty prefix")
    args = parser.parse_args()
    if not os.environ.get("BASICAI_REDIS_URL"):
        print("set BASICAI_REDIS_URL: the workers share the key's quota through it", file=sys.stderr)
        return 2
    if args.seed:
        asyncio.run(seed(args.prefix, args.seed))
    dataset_id = args.dataset or asyncio.run(dataset_named(args.create))
    jobs = [(args.prefix, dataset_id, i, args.workers) for i in range(args.workers)]
    # spawn: each worker starts a fresh interpreter, as separate pods would.
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(run_worker, jobs)
    for shard, (files, registered, resumed) in enumerate(results):
        print(f"worker {shard}/{args.workers}: {registered} of {files} registered ({resumed} resumed)")
    total = sum(r[0] for r in results)
    done = sum(r[1] for r in results)
    print(f"{args.workers} workers: {done} of {total} objects registered in dataset {dataset_id}")
    return 0 if done == total else 1


if __name__ == "__main__":
    sys.exit(main())
