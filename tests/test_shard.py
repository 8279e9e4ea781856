"""Shards: a stable split of one job's sources by name, each shard with a manifest of its own."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basicai_async import AsyncBasicAI, ManifestMismatchError, Shard, UploadSource, shard_of
from basicai_async._shard import as_shard, shard_sources
from basicai_async.emulator import Emulator

KEY = "shard-key"


def test_the_hash_is_pinned_so_every_process_and_version_splits_alike() -> None:
    # Values computed once; a change here would move files between the shards of running jobs.
    assert [shard_of(n, 4) for n in ["0001.jpg", "a.png", "scan/0002.pcd", "日本.jpg"]] == [3, 2, 3, 1]
    assert shard_of("0001.jpg", 1000) == 31
    assert shard_of("anything", 1) == 0


def test_another_interpreter_with_another_hash_seed_agrees() -> None:
    names = [f"img-{i}.jpg" for i in range(50)]
    code = "import sys; from basicai_async import shard_of; print([shard_of(n, 7) for n in sys.argv[1:]])"
    out = subprocess.run(
        [sys.executable, "-c", code, *names],
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == str([shard_of(n, 7) for n in names])


def test_every_name_lands_in_exactly_one_shard_and_shards_are_balanced() -> None:
    names = [f"img-{i:05d}.jpg" for i in range(1000)]
    shards = [Shard(i, 4) for i in range(4)]
    taken = [list(shard_sources(names, s)) for s in shards]
    assert sorted(n for part in taken for n in part) == names
    assert all(200 <= len(part) <= 300 for part in taken), [len(p) for p in taken]
    # Paths are split by their file name, as the uploader names them.
    assert list(shard_sources(["a/x.png", "b/x.png"], Shard(shard_of("x.png", 3), 3))) == [
        "a/x.png",
        "b/x.png",
    ]


def test_shard_parsing_and_checks() -> None:
    assert Shard.parse(" 2/5 ") == Shard(2, 5) == as_shard((2, 5)) == as_shard("2/5")
    assert str(Shard(0, 1)) == "0/1"
    assert as_shard(None) is None
    for bad in ("5/5", "-1/4", "1", "a/b", "1/0", ""):
        with pytest.raises(ValueError, match="I/N"):
            Shard.parse(bad)
    with pytest.raises(TypeError):
        Shard(True, 2)
    with pytest.raises(TypeError):
        as_shard([0, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count"):
        shard_of("x", 0)


@pytest.fixture
async def client() -> AsyncIterator[tuple[Emulator, AsyncBasicAI]]:
    async with (
        Emulator(keys={KEY: "team"}, limits=None) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url) as c,
    ):
        yield emu, c


def _sources(count: int) -> list[UploadSource]:
    return [UploadSource.from_bytes(f"s-{i:03d}.png", bytes([i]) * 10) for i in range(count)]


async def test_n_sharded_uploads_register_every_file_once(
    client: tuple[Emulator, AsyncBasicAI], tmp_path: Path
) -> None:
    emu, c = client
    ds = await c.datasets.create(name="sharded", type="IMAGE")
    sources = _sources(60)
    sizes = []
    for i in range(3):
        report = await c.uploader().upload(ds.id, sources, shard=(i, 3), manifest=tmp_path / f"m{i}.jsonl")
        assert all(r.ok for r in report.results)
        assert all(shard_of(r.name, 3) == i for r in report.results)
        sizes.append(len(report.results))
    names = Counter(item.name for item in emu.state.datasets[ds.id].items.values())
    assert names == Counter(s.name for s in sources)
    assert sum(sizes) == 60
    assert min(sizes) > 0


async def test_duplicate_names_meet_in_one_shard_and_are_caught(
    client: tuple[Emulator, AsyncBasicAI],
) -> None:
    emu, c = client
    ds = await c.datasets.create(name="dups", type="IMAGE")
    twice = [UploadSource.from_bytes("same.png", b"one"), UploadSource.from_bytes("same.png", b"two")]
    home = shard_of("same.png", 4)
    for i in range(4):
        report = await c.uploader().upload(ds.id, twice, shard=f"{i}/4")
        if i != home:
            assert report.results == []
        else:
            assert [r.stage for r in report.results] == [None, "validate"]
            assert "duplicate file name" in (report.results[1].error or "")
    assert [i.name for i in emu.state.datasets[ds.id].items.values()] == ["same.png"]


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
async def test_a_manifest_is_bound_to_its_shard(
    client: tuple[Emulator, AsyncBasicAI], tmp_path: Path, kind: str
) -> None:
    _, c = client
    ds = await c.datasets.create(name=f"bound-{kind}", type="IMAGE")
    manifest = tmp_path / f"shard1.{kind}"
    await c.uploader().upload(ds.id, _sources(20), shard=(1, 4), manifest=manifest)
    for other, shown in (((2, 4), "shard 2/4"), (None, f"dataset {ds.id} at")):
        with pytest.raises(ManifestMismatchError, match="shard 1/4") as caught:
            await c.uploader().upload(ds.id, _sources(20), shard=other, manifest=manifest)
        assert shown in caught.value.requested
        assert "--shard 1/4" in str(caught.value)
    # The same shard resumes: nothing is uploaded twice.
    again = await c.uploader().upload(ds.id, _sources(20), shard=(1, 4), manifest=manifest)
    assert again.results
    assert all(r.resumed for r in again.results)
