"""The uploader's PUT against real S3 semantics: moto's S3 server on loopback, URLs pre-signed by boto3.

moto and boto3 are imported plainly: without them this module fails to collect,
loudly, rather than skipping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from basicai_async import AsyncBasicAI, RetryPolicy, UploadSource
from basicai_async.models import DataItem, NewData, PresignedUpload, PresignRequest
from basicai_async.resources import Data, Storage

pytestmark = pytest.mark.integration

BUCKET = "basicai-uploads"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    # Dummy credentials: boto3 signs with them, moto accepts any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _presigned(s3: object, bucket: str, key: str, content_type: str) -> PresignedUpload:
    url = s3.generate_presigned_url(  # type: ignore[attr-defined]
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=600,
    )
    return PresignedUpload(pre_signed_url=url, path=url.split("?", 1)[0], filename=key)


@pytest.fixture
def s3_instead_of_the_api(s3: object, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pre-sign with boto3 and register nothing: the uploader's PUTs meet S3, no API call happens.

    Returns the list of buckets to sign for, one per pre-signed file in turn (default ours).
    """
    buckets: list[str] = []

    async def presign(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        return [
            _presigned(s3, buckets.pop(0) if buckets else BUCKET, f"data/{f.filename}", guess(f.filename))
            for f in files
        ]

    async def add_many(self: Data, dataset_id: int, items: Sequence[NewData]) -> list[DataItem]:
        return [DataItem(id=i + 1, name=item.name) for i, item in enumerate(items)]

    monkeypatch.setattr(Storage, "presign_uploads", presign)
    monkeypatch.setattr(Data, "add_many", add_many)
    return buckets


def guess(name: str) -> str:
    return UploadSource.from_bytes(name, b"").mime_type


async def test_uploader_puts_real_files_to_boto3_presigned_urls(
    s3: object, s3_instead_of_the_api: list[str], tmp_path: Path
) -> None:
    big = tmp_path / "cloud.pcd"
    big.write_bytes(bytes(range(256)) * 4096 * 3)  # 3 MiB: streamed in 256 KiB chunks
    small = tmp_path / "img.png"
    small.write_bytes(b"\x89PNG small image")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    sources = [UploadSource.from_path(p) for p in (big, small, empty)]
    sources.append(UploadSource.from_bytes("memory.jpg", b"jpeg bytes" * 1000))

    async with AsyncBasicAI("unused-key", base_url="http://127.0.0.1:9/api/v1") as client:
        report = await client.uploader().upload(1, sources)
    # Storage refuses empty objects: the empty file fails alone, before any request.
    assert [(r.name, r.stage) for r in report.failed] == [("empty.json", "validate")]

    for source, path in zip(sources, [big, small, empty, None], strict=True):
        if path is empty:
            continue
        obj = s3.get_object(Bucket=BUCKET, Key=f"data/{source.name}")  # type: ignore[attr-defined]
        body = obj["Body"].read()
        expected = path.read_bytes() if path is not None else b"jpeg bytes" * 1000
        assert body == expected
        assert obj["ContentLength"] == source.size
        assert obj["ContentType"] == source.mime_type


async def test_a_url_for_a_missing_bucket_fails_the_put_without_retrying(
    s3_instead_of_the_api: list[str],
) -> None:
    s3_instead_of_the_api.append("no-such-bucket")
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    retry = RetryPolicy(sleep=record)
    async with AsyncBasicAI("unused-key", base_url="http://127.0.0.1:9/api/v1", retry=retry) as client:
        report = await client.uploader().upload(1, [UploadSource.from_bytes("x.png", b"x")])
    (result,) = report.results
    assert result.stage == "put"
    assert re.search(r"(?s)storage answered HTTP 404: .*NoSuchBucket", result.error or "")
    assert sleeps == []
