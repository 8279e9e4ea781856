"""The SQLite manifest: same rules as the JSON-lines one, indexed, crash-safe, adopting JSON-lines files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from basicai_async import Manifest, ManifestEntry, ManifestMismatchError, ManifestStatus, ManifestTarget
from basicai_async._manifest_db import SqliteManifest, open_manifest

BASE = "https://api.example.test/api/v1"
TARGET = ManifestTarget(base_url=BASE, dataset_id=7)


def _entry(name: str, status: ManifestStatus, **kw: object) -> ManifestEntry:
    return ManifestEntry(name=name, size=3, status=status.value, **kw)  # type: ignore[arg-type]


def test_records_are_read_back_by_name_and_size_and_the_last_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with SqliteManifest(path, target=TARGET) as manifest:
        manifest.record(_entry("a.jpg", ManifestStatus.REGISTERING, path="p/a", after=40))
        manifest.record_many(
            [
                _entry("a.jpg", ManifestStatus.REGISTERED, data_id=41, path="p/a", mtime_ns=5),
                _entry("b.jpg", ManifestStatus.MAYBE_REGISTERED, path="p/b", error="register: timeout"),
            ]
        )
    again = SqliteManifest(path)
    assert again.target == TARGET
    assert again.get("a.jpg", 3) == _entry(
        "a.jpg", ManifestStatus.REGISTERED, data_id=41, path="p/a", mtime_ns=5
    )
    assert again.get("a.jpg", 4) is None  # another size is another file
    assert again.get("a.jpg", 3, mtime_ns=6) is None  # rewritten since
    assert again.registered() == {("a.jpg", 3): 41}
    assert [e.name for e in again.unsure()] == ["b.jpg"]
    assert [e.name for e in again.entries()] == ["a.jpg", "b.jpg"]  # the order first recorded
    assert set(again.get_many([("a.jpg", 3), ("b.jpg", 3), ("c.jpg", 3), ("b.jpg", 9)])) == {
        ("a.jpg", 3),
        ("b.jpg", 3),
    }
    assert len(again) == 2
    again.close()


def test_another_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    SqliteManifest(path, target=TARGET).close()
    with pytest.raises(ManifestMismatchError) as caught:
        SqliteManifest(path, target=ManifestTarget(base_url=BASE, dataset_id=8))
    assert caught.value.recorded == f"dataset 7 at {BASE}"


def test_a_json_lines_manifest_is_adopted_with_its_target_and_kept_as_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "upload.manifest"
    with Manifest(path, target=TARGET) as old:
        old.record(_entry("a.jpg", ManifestStatus.REGISTERED, data_id=11, path="p/a"))
        old.record(_entry("b.jpg", ManifestStatus.REGISTERING, path="p/b"))
    lines = path.read_bytes()
    manifest = open_manifest(path, target=TARGET)
    assert isinstance(manifest, SqliteManifest)
    assert manifest.registered() == {("a.jpg", 3): 11}
    assert [e.name for e in manifest.unsure()] == ["b.jpg"]
    assert (tmp_path / "upload.manifest.jsonl.bak").read_bytes() == lines
    manifest.close()
    with pytest.raises(ManifestMismatchError):
        SqliteManifest(path, target=ManifestTarget(base_url=BASE, dataset_id=8))


def test_an_unbound_json_lines_manifest_is_trusted_only_after_a_look_up(tmp_path: Path) -> None:
    path = tmp_path / "old.manifest"
    old = [_entry("a.jpg", ManifestStatus.REGISTERED, data_id=11)]
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in old))
    manifest = SqliteManifest(path)
    assert manifest.target is None
    manifest.bind(TARGET)
    # It may have been written for another dataset: registered becomes "look it up first".
    assert manifest.registered() == {}
    assert [e.name for e in manifest.unsure()] == ["a.jpg"]
    manifest.close()


def test_open_manifest_keeps_json_lines_for_jsonl_names(tmp_path: Path) -> None:
    jsonl = open_manifest(tmp_path / "m.jsonl", target=TARGET)
    assert isinstance(jsonl, Manifest)
    jsonl.close()
    db = open_manifest(tmp_path / "m.db", target=TARGET)
    assert isinstance(db, SqliteManifest)
    db.close()
    # An SQLite file is opened as one whatever its name.
    os.replace(tmp_path / "m.db", tmp_path / "renamed.jsonl")
    renamed = open_manifest(tmp_path / "renamed.jsonl", target=TARGET)
    assert isinstance(renamed, SqliteManifest)
    renamed.close()


_WRITER = """
import os, sys
from basicai_async import ManifestEntry, ManifestTarget
from basicai_async._manifest_db import SqliteManifest
m = SqliteManifest(sys.argv[1], target=ManifestTarget(base_url="https://x.test/api/v1", dataset_id=1))
m.record_many([ManifestEntry(name=f"{i}.jpg", size=1, status="registering") for i in range(100)])
print("written", flush=True)
sys.stdin.read()
"""


def test_a_transaction_survives_a_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "written"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    manifest = SqliteManifest(path)
    assert len(manifest) == 100
    assert len(manifest.unsure()) == 100
    manifest.close()
