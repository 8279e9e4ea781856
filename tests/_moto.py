"""moto's S3 server on loopback for the object-storage tests, and the environment obstore reads.

The server runs in its own process (``python -m moto.server``), as a real store
would: in the test's process its Python request handling would compete with the
emulator and the client for one interpreter lock. moto and boto3 are imported
plainly: without them the modules using this fail to collect, loudly, rather
than skipping.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import moto.server
import pytest

__all__ = ["ACCESS_KEY", "SECRET_KEY", "S3Server", "s3_env", "s3_server"]

# moto accepts any credentials; these are distinctive so a test can prove they never leak.
ACCESS_KEY = "AKIAI17CLOUDTESTKEY9"
SECRET_KEY = "s3cr3t-I17-cloud-test-secret-value"


class S3Server:
    """One moto S3 server: its endpoint and a boto3 client to put and change objects with."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def env(self) -> dict[str, str]:
        """What a worker needs to read this server through obstore (the standard AWS variables)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def bucket(self, name: str, objects: dict[str, bytes], *, public: bool = False) -> None:
        """Create bucket ``name`` holding ``objects`` (key -> bytes)."""
        self.client.create_bucket(Bucket=name)
        for key, body in objects.items():
            extra = {"ACL": "public-read"} if public else {}
            self.client.put_object(Bucket=name, Key=key, Body=body, **extra)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"moto's server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # nothing to await on: another process is starting
    raise AssertionError("moto's server did not start within 30 s")


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for the module (each test uses buckets of its own)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", moto.server.__name__, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, proc)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, with the AWS variables set for this test (and nothing else of AWS's)."""
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
