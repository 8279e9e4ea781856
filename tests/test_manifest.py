"""The manifest: bound to its target, torn lines repaired, files known by name, size and mtime."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from basicai_async import BasicAIError, Manifest, ManifestEntry, ManifestMismatchError
from basicai_async._manifest import FORMAT_VERSION, ManifestStatus, ManifestTarget

BASE = "https://api.example.test/api/v1"
TARGET = ManifestTarget(base_url=BASE, dataset_id=7)


def _lines(path: Path) -> list[dict[str, object]]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def _registered(name: str, data_id: int, **kw: object) -> ManifestEntry:
    return ManifestEntry(name=name, size=3, status="registered", data_id=data_id, **kw)  # type: ignore[arg-type]


def test_a_new_manifest_starts_with_its_target(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path, target=ManifestTarget(base_url=BASE, dataset_id=7, batch_id=3)) as manifest:
        manifest.record(_registered("a.jpg", 11))
    header, record = _lines(path)
    assert header == {"manifest": FORMAT_VERSION, "target": {"baseUrl": BASE, "datasetId": 7, "batchId": 3}}
    assert record["name"] == "a.jpg"
    again = Manifest(path)
    assert again.target == ManifestTarget(base_url=BASE, dataset_id=7, batch_id=3)
    assert again.registered() == {("a.jpg", 3): 11}


@pytest.mark.parametrize(
    "other",
    [
        ManifestTarget(base_url=BASE, dataset_id=8),
        ManifestTarget(base_url=BASE, dataset_id=7, batch_id=2),
        ManifestTarget(base_url=BASE, dataset_id=7, scene_id=2),
        ManifestTarget(base_url="https://other.example.test/api/v1", dataset_id=7),
    ],
)
def test_another_target_is_refused_with_the_fix(tmp_path: Path, other: ManifestTarget) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path, target=TARGET) as manifest:
        manifest.record(_registered("a.jpg", 11))
    before = path.read_bytes()
    with pytest.raises(ManifestMismatchError) as caught:
        Manifest(path, target=other)
    err = caught.value
    assert isinstance(err, BasicAIError)
    assert err.recorded == f"dataset 7 at {BASE}"
    assert err.requested == other.describe()
    assert err.path == str(path)
    assert "--dataset 7 with the same --manifest" in str(err)
    assert "give another --manifest file" in str(err)
    assert path.read_bytes() == before  # refused, untouched


def test_same_server_spelled_differently_is_the_same_target(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    Manifest(path, target=ManifestTarget(base_url="https://API.example.test:443/api/v1/", dataset_id=7))
    assert Manifest(path, target=TARGET).target == TARGET


@pytest.mark.parametrize(
    ("field", "value"), [("dataset_id", 0), ("dataset_id", -5), ("dataset_id", "7"), ("batch_id", True)]
)
def test_target_ids_are_checked(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"base_url": BASE, "dataset_id": 7, field: value}
    with pytest.raises(ValueError, match=field):
        ManifestTarget(**kwargs)  # type: ignore[arg-type]


def test_target_base_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        ManifestTarget(base_url="/api/v1", dataset_id=1)


def test_old_manifest_is_adopted_but_its_registrations_are_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    old = [
        ManifestEntry(name="a.jpg", size=3, status="registered", data_id=11),
        ManifestEntry(name="b.jpg", size=3, status="failed", error="put: boom"),
    ]
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in old))
    unbound = Manifest(path)
    assert unbound.target is None
    assert unbound.registered() == {("a.jpg", 3): 11}  # unbound use reads as before

    manifest = Manifest(path, target=TARGET)
    assert manifest.registered() == {}
    assert [(e.name, e.status, e.data_id) for e in manifest.unsure()] == [("a.jpg", "registering", 11)]
    lines = _lines(path)
    assert lines[0]["target"] == {"baseUrl": BASE, "datasetId": 7}
    assert [line["status"] for line in lines[1:]] == ["registering", "failed"]
    assert not (tmp_path / "old.jsonl.tmp").exists()
    # Once adopted, it is bound like any other.
    with pytest.raises(ManifestMismatchError):
        Manifest(path, target=ManifestTarget(base_url=BASE, dataset_id=8))


def test_binding_twice_to_the_same_target_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    manifest = Manifest(path, target=TARGET)
    manifest.record(_registered("a.jpg", 11))
    manifest.bind(ManifestTarget(base_url=BASE + "/", dataset_id=7))
    manifest.record(_registered("b.jpg", 12))
    manifest.close()
    assert len(_lines(path)) == 3


def test_torn_last_line_is_truncated_before_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path, target=TARGET) as manifest:
        manifest.record(_registered("a.jpg", 11))
    with path.open("ab") as f:
        f.write(b'{"name": "b.jpg", "size": 3, "sta')  # the crash
    manifest = Manifest(path, target=TARGET)
    assert manifest.torn
    assert manifest.get("b.jpg", 3) is None
    manifest.record(_registered("c.jpg", 13))
    manifest.close()
    assert not manifest.torn
    assert [line.get("name") for line in _lines(path)] == [None, "a.jpg", "c.jpg"]
    assert Manifest(path).registered() == {("a.jpg", 3): 11, ("c.jpg", 3): 13}


def test_complete_last_line_without_newline_is_kept_and_terminated(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with Manifest(path, target=TARGET) as manifest:
        manifest.record(_registered("a.jpg", 11))
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    manifest = Manifest(path)
    assert manifest.torn
    manifest.record(_registered("b.jpg", 12))
    manifest.close()
    assert Manifest(path).registered() == {("a.jpg", 3): 11, ("b.jpg", 3): 12}


def test_torn_header_leaves_an_unbound_manifest_that_binds_again(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"manifest": 2, "target": {"baseUrl": "ht')
    manifest = Manifest(path)
    assert manifest.target is None
    assert manifest.torn
    manifest.bind(TARGET)
    manifest.record(_registered("a.jpg", 11))
    manifest.close()
    assert Manifest(path, target=TARGET).registered() == {("a.jpg", 3): 11}


def test_header_without_newline_is_terminated(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    Manifest(path, target=TARGET).close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    manifest = Manifest(path, target=TARGET)
    manifest.record(_registered("a.jpg", 11))
    manifest.close()
    assert Manifest(path, target=TARGET).registered() == {("a.jpg", 3): 11}


def test_a_changed_mtime_is_not_the_same_file(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.jsonl", target=TARGET)
    manifest.record(_registered("a.jpg", 11, mtime_ns=1_000))
    manifest.record(_registered("b.jpg", 12))
    assert manifest.get("a.jpg", 3, mtime_ns=1_000) is not None
    assert manifest.get("a.jpg", 3, mtime_ns=2_000) is None
    assert manifest.get("a.jpg", 3) is not None  # a source without an mtime (bytes, a stream)
    assert manifest.get("b.jpg", 3, mtime_ns=2_000) is not None  # recorded without one
    assert manifest.get("a.jpg", 4) is None
    manifest.close()


def test_statuses_and_unsure_entries(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "m.jsonl", target=TARGET)
    for name, status in [("a", "registering"), ("b", ManifestStatus.MAYBE_REGISTERED), ("c", "failed")]:
        manifest.record(ManifestEntry(name=name, size=1, status=str(status)))
    manifest.record(ManifestEntry(name="d", size=1, status="registered", data_id=4))
    assert [e.name for e in manifest.unsure()] == ["a", "b"]
    assert [e.status for e in manifest.entries()] == [
        "registering",
        "maybe_registered",
        "failed",
        "registered",
    ]
    manifest.close()
    assert _lines(tmp_path / "m.jsonl")[2]["status"] == "maybe_registered"


def test_corrupt_lines_in_the_middle_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"name": "a", "size": 1, "status": "registered", "dataId": 1}\nnot json\n\n')
    manifest = Manifest(path)
    assert not manifest.torn
    assert manifest.registered() == {("a", 1): 1}


@pytest.mark.parametrize(
    ("recorded", "flags"),
    [
        (ManifestTarget(base_url=BASE, dataset_id=7, batch_id=3), "--dataset 7 --batch 3"),
        (ManifestTarget(base_url=BASE, dataset_id=7, scene_id=4), "--dataset 7 --scene 4"),
    ],
)
def test_the_fix_names_the_recorded_batch_or_scene(
    tmp_path: Path, recorded: ManifestTarget, flags: str
) -> None:
    path = tmp_path / "m.jsonl"
    Manifest(path, target=recorded).close()
    with pytest.raises(ManifestMismatchError, match=f"CLI: {flags} with the same --manifest"):
        Manifest(path, target=TARGET)


def test_the_target_is_stored_without_credentials_or_query(tmp_path: Path) -> None:
    target = ManifestTarget(base_url="https://me:s3cret@api.example.test/api/v1?token=abc", dataset_id=7)
    path = tmp_path / "m.jsonl"
    Manifest(path, target=target).close()
    text = path.read_text()
    assert "s3cret" not in text
    assert "abc" not in text
    assert target.base_url == "https://api.example.test/api/v1"
