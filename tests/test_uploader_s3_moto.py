"""The uploader's PUT against real S3 semantics: moto's S3 server on loopback, URLs pre-signed by boto3.

moto and boto3 are imported plainly: without them this module fails to collect,
loudly, rather than skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from basicai_async import AsyncBasicAI, UploadSource
from basicai_async.models import PresignedUpload

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


def _presigned(s3: object, key: str, content_type: str) -> PresignedUpload:
    url = s3.generate_presigned_url(  # type: ignore[attr-defined]
        "put_object",
        Params={"Bucket": BUCKET, "Key": key, "ContentType": content_type},
        ExpiresIn=600,
    )
    return PresignedUpload(pre_signed_url=url, path=url.split("?", 1)[0], filename=key)


async def test_uploader_puts_real_files_to_boto3_presigned_urls(s3: object, tmp_path: Path) -> None:
    big = tmp_path / "cloud.pcd"
    big.write_bytes(bytes(range(256)) * 4096 * 3)  # 3 MiB: streamed in 256 KiB chunks
    small = tmp_path / "img.png"
    small.write_bytes(b"\x89PNG small image")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    sources = [UploadSource.from_path(p) for p in (big, small, empty)]
    sources.append(UploadSource.from_bytes("memory.jpg", b"jpeg bytes" * 1000))

    # No API call happens: the PUT step alone, against S3 instead of the emulator.
    async with AsyncBasicAI("unused-key", base_url="http://127.0.0.1:9/api/v1") as client:
        uploader = client.uploader()
        for source in sources:
            upload = _presigned(s3, f"data/{source.name}", source.mime_type)
            done = await uploader._put(source, upload)
            assert done is upload

    for source, path in zip(sources, [big, small, empty, None], strict=True):
        obj = s3.get_object(Bucket=BUCKET, Key=f"data/{source.name}")  # type: ignore[attr-defined]
        body = obj["Body"].read()
        expected = path.read_bytes() if path is not None else b"jpeg bytes" * 1000
        assert body == expected
        assert obj["ContentLength"] == source.size
        assert obj["ContentType"] == source.mime_type


async def test_a_url_for_a_missing_bucket_fails_the_put_without_retrying(s3: object) -> None:
    url = s3.generate_presigned_url(  # type: ignore[attr-defined]
        "put_object", Params={"Bucket": "no-such-bucket", "Key": "x.png"}, ExpiresIn=600
    )
    async with AsyncBasicAI("unused-key", base_url="http://127.0.0.1:9/api/v1") as client:
        with pytest.raises(Exception, match=r"(?s)storage answered HTTP 404: .*NoSuchBucket") as info:
            await client.uploader()._put(
                UploadSource.from_bytes("x.png", b"x"), PresignedUpload(pre_signed_url=url)
            )
    assert not info.value.retryable  # type: ignore[attr-defined]
