"""Upload a directory into a new dataset, resumably, then export its annotation results.

Usage::

    python examples/ingest_and_export.py DIRECTORY OUTPUT.jsonl

Rerun with the same DIRECTORY after an interruption: the manifest in it
(``.basicai-manifest.jsonl``) makes the upload skip what is already registered.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from basicai_async import AsyncBasicAI, export_results


async def main(directory: Path, files: list[Path], output: Path) -> int:
    async with AsyncBasicAI() as client:
        name = f"ingest-{directory.name}"
        # Find the dataset a previous (interrupted) run created, else create it.
        existing = [ds async for ds in client.datasets.list(name=name) if ds.name == name]
        dataset = existing[0] if existing else await client.datasets.create(name=name, type="IMAGE")
        report = await client.uploader(concurrency=8).upload(
            dataset.id, files, manifest=directory / ".basicai-manifest.jsonl"
        )
        print(f"registered {len(report.succeeded)} of {len(files)} files in dataset {dataset.id}")
        for failed in report.failed:
            print(f"  failed: {failed.name} at {failed.stage}: {failed.error}")
        summary = await export_results(client, dataset.id, output)
        print(f"exported {summary.results} results of {summary.data_items} data items to {output}")
        stats = client.limiter.stats()
        print(f"limiter: {stats.admitted} calls admitted, {stats.total_wait:.2f} s spent waiting")
    return 1 if report.failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    directory = Path(sys.argv[1])
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    sys.exit(asyncio.run(main(directory, files, Path(sys.argv[2]))))
