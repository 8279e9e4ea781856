"""Every target shape reconciles and resumes where registration put the files (issue 16's bug).

A scene inside a batch files its frames under the scene, not the batch: an
ambiguous registration must be looked up there, or every file is registered again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basicai_async import AsyncBasicAI, Limits, ManifestTarget, RetryPolicy, UploadSource, Window
from basicai_async._manifest import Manifest
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import FaultRule

pytestmark = pytest.mark.integration

KEY = "upload-targets-key"
ADD = "dataset/batchAddData"
LOOKUP = "dataset/listItemById"
SHAPES = ("dataset", "batch", "scene", "scene in a batch")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    fast = RetryPolicy(max_retries=1, backoff_start=0.001, backoff_cap=0.002)
    limits = Limits((Window(100_000, 1.0),))
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=limits, retry=fast) as c:
        yield c


async def _target(client: AsyncBasicAI, shape: str) -> tuple[int, int | None, int | None]:
    """(dataset id, batch id, scene id) of a fresh target of ``shape``."""
    ds = await client.datasets.create(name=f"shape {shape}", type="IMAGE")
    batch_id = (await client.batches.add(ds.id, name="b")).id if "batch" in shape else None
    scene_id = None
    if "scene" in shape:
        scene_id = (await client.scenes.add(ds.id, name="s", batch_id=batch_id)).id
    return ds.id, batch_id, scene_id


def _sources(count: int) -> list[UploadSource]:
    return [UploadSource.from_bytes(f"f-{i:02d}.png", f"frame {i}".encode() * 8) for i in range(count)]


def _data_names(emu: Emulator, dataset_id: int) -> Counter[str | None]:
    return Counter(i.name for i in emu.state.datasets[dataset_id].items.values() if i.kind == "DATA")


def _adds(emu: Emulator) -> int:
    return sum(ADD in r.path for r in emu.requests(KEY))


def test_the_level_files_are_filed_in_is_the_scene_before_the_batch() -> None:
    def parent(batch_id: int | None, scene_id: int | None) -> int | None:
        return ManifestTarget(
            base_url="http://h/api", dataset_id=1, batch_id=batch_id, scene_id=scene_id
        ).parent_id

    assert (parent(None, None), parent(3, None), parent(None, 5), parent(3, 5)) == (None, 3, 5, 5)


@pytest.mark.parametrize("shape", SHAPES)
async def test_an_ambiguous_registration_is_looked_up_where_it_was_filed(
    emu: Emulator, client: AsyncBasicAI, shape: str
) -> None:
    dataset_id, batch_id, scene_id = await _target(client, shape)
    sources = _sources(6)
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint=ADD)

    report = await client.uploader().upload(dataset_id, sources, batch_id=batch_id, scene_id=scene_id)

    assert report.failed == []
    assert report.maybe_registered == []
    assert _adds(emu) == 1  # found by the look-up: never registered again
    assert _data_names(emu, dataset_id) == Counter(s.name for s in sources)
    items = emu.state.datasets[dataset_id].items
    parent = scene_id or batch_id
    assert all(items[r.data_id or 0].name == r.name for r in report.results)
    assert {items[r.data_id or 0].parent_id for r in report.results} == {parent or 0}


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_resume_looks_unsure_files_up_where_they_were_filed(
    emu: Emulator, client: AsyncBasicAI, shape: str, tmp_path: Path
) -> None:
    dataset_id, batch_id, scene_id = await _target(client, shape)
    sources = _sources(6)
    manifest = tmp_path / "upload.jsonl"
    emu.faults.set(FaultRule(drop_after_rate=1.0), endpoint=ADD)
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint=LOOKUP)
    first = await client.uploader().upload(
        dataset_id, sources, batch_id=batch_id, scene_id=scene_id, manifest=manifest
    )
    assert len(first.maybe_registered) == 6
    emu.faults.clear()
    adds = _adds(emu)

    rerun = await client.uploader().upload(
        dataset_id, sources, batch_id=batch_id, scene_id=scene_id, manifest=manifest
    )

    assert all(r.ok and r.resumed for r in rerun.results)
    assert _adds(emu) == adds  # found by look-up, not registered again
    assert _data_names(emu, dataset_id) == Counter(s.name for s in sources)
    with Manifest(manifest) as journal:
        assert {e.status for e in journal.entries()} == {"registered"}
