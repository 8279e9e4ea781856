"""Create a dataset, upload a few images into a batch, list the items and read their results.

Run against BasicAI (``BASICAI_API_KEY`` set) or a local emulator::

    python -m basicai_async emulator --port 8080 --api-key demo-key &
    BASICAI_API_KEY=demo-key BASICAI_BASE_URL=http://127.0.0.1:8080/api/v1 python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import time

from basicai_async import AsyncBasicAI, DatasetType, UploadSource
from basicai_async.emulator import sample_png


async def main() -> None:
    async with AsyncBasicAI() as client:
        dataset = await client.datasets.create(name=f"quickstart-{time.time_ns()}", type=DatasetType.IMAGE)
        batch = await client.batches.add(dataset.id, name="first batch")
        sources = [UploadSource.from_bytes(f"img-{i}.png", sample_png(i)) for i in range(5)]
        report = await client.uploader().upload(dataset.id, sources, batch_id=batch.id)
        report.raise_for_failures()
        print(f"dataset {dataset.id}: {len(report.succeeded)} images in batch {batch.id}")

        async for item in client.items.list(dataset.id, parent_id=batch.id):
            results = await client.annotations.get_data_results(dataset.id, item.id)
            instances = sum(len(r.instances) for r in results)
            print(f"  {item.item_type} {item.id} {item.name}: {instances} annotated objects")

        # The escape hatch: any path, same limiter, retries and errors.
        info = await client.request("GET", f"/dataset/info/{dataset.id}")
        print(f"raw info: {info['name']}")


if __name__ == "__main__":
    asyncio.run(main())
