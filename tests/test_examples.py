"""Every script in examples/ runs against an emulator, so no example can rot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _moto import S3Server, s3_server
from _redis_server import redis_server

from basicai_async.emulator import sample_png

__all__ = ["redis_server", "s3_server"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.integration

KEY = "examples-key"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _ingest_args(tmp: Path) -> list[str]:
    images = tmp / "images"
    images.mkdir()
    for i in range(12):
        (images / f"{i:02d}.png").write_bytes(sample_png(i, size=8))
    return [str(images), str(tmp / "out.jsonl")]


def _plugin_args(tmp: Path) -> list[str]:
    paths = [tmp / "wide.png", tmp / "small.png"]
    paths[0].write_bytes(sample_png(1, size=40))
    paths[1].write_bytes(sample_png(2, size=8))
    return [str(p) for p in paths]


# The command-line arguments of each example; a new example must be added here.
ARGUMENTS: dict[str, Callable[[Path], list[str]]] = {
    "quickstart.py": lambda tmp: [],
    "ingest_and_export.py": _ingest_args,
    # Serves itself on loopback and tries itself; it ignores the emulator.
    "plugin_detector.py": _plugin_args,
    "shared_quota_workers.py": lambda tmp: ["--workers", "3", "--calls", "20"],
    "cloud_workers.py": lambda tmp: [f"s3://{BUCKET}/frames/", "--workers", "2", "--seed", "12"],
}
# Examples that share a key through Redis: they get a real server's URL in BASICAI_REDIS_URL.
NEEDS_REDIS = {"shared_quota_workers.py", "cloud_workers.py"}
# Examples that read object storage: they get moto's S3 server (with bucket BUCKET) in the AWS variables.
NEEDS_S3 = {"cloud_workers.py"}
BUCKET = "examples"
# What each example prints when it worked.
EXPECTED: dict[str, list[str]] = {
    "quickstart.py": ["5 images in batch", "raw info: quickstart-"],
    "ingest_and_export.py": ["registered 12 of 12 files", "exported 24 results of 12 data items"],
    "plugin_detector.py": [
        "item 1: centre at (10.0, 10.0)",
        "item 2: centre at (2.0, 2.0)",
        "2 of 2 items OK; contract OK",
    ],
    "shared_quota_workers.py": ["worker 2: 20 calls", "3 workers made 60 calls through one shared quota"],
    "cloud_workers.py": ["worker 1/2: ", "2 workers: 12 of 12 objects registered"],
}


@pytest.fixture(scope="module")
def emulator_url(emulator_process: Callable[[str], Any]) -> Iterator[str]:
    with emulator_process(KEY) as url:
        yield url


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(ARGUMENTS)


@pytest.mark.parametrize("script", sorted(ARGUMENTS))
def test_example_runs(script: str, emulator_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {**os.environ, "BASICAI_API_KEY": KEY, "BASICAI_BASE_URL": emulator_url}
    if script in NEEDS_REDIS:
        env["BASICAI_REDIS_URL"] = request.getfixturevalue("redis_server").url
    if script in NEEDS_S3:
        s3: S3Server = request.getfixturevalue("s3_server")
        if BUCKET not in {b["Name"] for b in s3.client.list_buckets()["Buckets"]}:
            s3.client.create_bucket(Bucket=BUCKET)
        env.update(s3.env())
    args = ARGUMENTS[script](tmp_path)
    for _ in range(2):  # twice: a rerun (resume, existing dataset) must work too
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / script), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        for expected in EXPECTED[script]:
            assert expected in done.stdout, done.stdout
