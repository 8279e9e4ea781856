"""Object-storage and URL sources through obstore, against moto's S3 server on loopback (no mock).

The uploads go to the emulator's store and API: bytes flow S3 -> client -> pre-signed PUT.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _moto import ACCESS_KEY, SECRET_KEY, S3Server, s3_env, s3_server

from basicai_async import (
    AsyncBasicAI,
    ConfigurationError,
    InvalidSourceError,
    ObjectStoreError,
    RedactedException,
    RetryPolicy,
    SourceChangedError,
    UploadSource,
    object_sources,
    url_sources,
)
from basicai_async._cloud import store_error
from basicai_async._sources import SizedBody
from basicai_async.emulator import STORE_ENDPOINT, Emulator, FaultRule

__all__ = ["s3_env", "s3_server"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.integration

KEY = "cloud-key"
FAST = RetryPolicy(backoff_start=0.002, backoff_cap=0.01)


def _payloads(prefix: str, count: int, size: int = 3000) -> dict[str, bytes]:
    return {f"{prefix}/{i:03d}.png": bytes([i % 251]) * (size + i) for i in range(count)}


async def _read(source: UploadSource) -> bytes:
    return b"".join([chunk async for chunk in SizedBody(source)])


def _no_secret_in(*texts: object) -> None:
    for text in texts:
        assert SECRET_KEY not in str(text)
        assert ACCESS_KEY not in str(text)


@pytest.fixture
async def emu_client() -> AsyncIterator[tuple[Emulator, AsyncBasicAI]]:
    async with (
        Emulator(keys={KEY: "team"}, limits=None) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, retry=FAST) as client,
    ):
        yield emu, client


async def test_a_prefix_becomes_sources_named_by_file_with_sizes_from_the_listing(s3_env: S3Server) -> None:
    objects = {
        "imgs/a.png": b"a" * 5,
        "imgs/cam1/b.jpg": b"b" * 7,
        "imgs/cam1/.hidden.png": b"h",
        "imgs/dir/": b"",  # a "directory" marker, as consoles create them
        "imgs2/not-under-the-prefix.png": b"x",
        "other/c.png": b"c",
    }
    s3_env.bucket("listing", objects)
    sources = [s async for s in object_sources("s3://listing/imgs/")]
    assert sorted((s.name, s.size, s.mime_type) for s in sources) == [
        ("a.png", 5, "image/png"),
        ("b.jpg", 7, "image/jpeg"),
    ]
    assert all(s.mtime_ns for s in sources)  # the listing's last-modified: a manifest tells a rewrite
    assert {await _read(s) for s in sources} == {b"a" * 5, b"b" * 7}
    # The pattern is matched below the prefix, as for a directory.
    assert [s.name async for s in object_sources("s3://listing/imgs", pattern="cam1/*")] == ["b.jpg"]
    # An explicit store object, with a prefix within it, lists the same.
    from obstore.store import S3Store

    store = S3Store("listing", endpoint=s3_env.endpoint, client_options={"allow_http": True})
    assert sorted([s.name async for s in object_sources(store=store, prefix="imgs/")]) == ["a.png", "b.jpg"]
    _no_secret_in(sources, [repr(s) for s in sources])


async def test_s3_prefix_uploads_into_the_emulator_through_store_faults(
    s3_env: S3Server, emu_client: tuple[Emulator, AsyncBasicAI]
) -> None:
    emu, client = emu_client
    payloads = _payloads("batch", 60)
    s3_env.bucket("upload", payloads)
    ds = await client.datasets.create(name="from-s3", type="IMAGE")
    emu.faults.reseed(3)
    emu.faults.set(FaultRule(error_rate=0.2, drop_before_rate=0.1), endpoint=STORE_ENDPOINT)

    report = await client.uploader(put_retries=8).upload(ds.id, object_sources("s3://upload/batch/"))

    assert sum(emu.faults.injected.values()) > 0
    assert len(report.results) == 60
    assert all(r.ok for r in report.results), report.failed[:2]
    by_name = {key.rsplit("/", 1)[1]: body for key, body in payloads.items()}
    for r in report.results:
        # A retried PUT re-opened its object from the start: storage holds the exact bytes.
        assert emu.read_object(r.path or "") == by_name[r.name]
    names = sorted(i.name for i in emu.state.datasets[ds.id].items.values())
    assert names == sorted(by_name)


async def test_an_object_replaced_or_deleted_after_the_listing_fails_alone(
    s3_env: S3Server, emu_client: tuple[Emulator, AsyncBasicAI]
) -> None:
    emu, client = emu_client
    s3_env.bucket("changing", {"p/keep.png": b"k" * 10, "p/swap.png": b"s" * 10, "p/gone.png": b"g" * 10})
    ds = await client.datasets.create(name="changing", type="IMAGE")
    listed = [s async for s in object_sources("s3://changing/p/")]
    s3_env.client.put_object(Bucket="changing", Key="p/swap.png", Body=b"S" * 10)  # same size, new bytes
    s3_env.client.delete_object(Bucket="changing", Key="p/gone.png")

    report = await client.uploader().upload(ds.id, listed)

    outcome = {r.name: (r.ok, r.stage) for r in report.results}
    assert outcome == {"keep.png": (True, None), "swap.png": (False, "put"), "gone.png": (False, "put")}
    failed = {r.name: r for r in report.failed}
    for name, how in (("swap.png", "replaced"), ("gone.png", "deleted")):
        error = failed[name].exception
        cause = error.__cause__ if error is not None else None
        assert isinstance(cause, SourceChangedError), repr(error)
        assert cause.how == how
        assert f"was {how} in object storage after it was listed" in (failed[name].error or "")
        assert isinstance(cause.__cause__, RedactedException)
    assert [i.name for i in emu.state.datasets[ds.id].items.values()] == ["keep.png"]


def _chain(exc: BaseException) -> list[BaseException]:
    seen = []
    one: BaseException | None = exc
    while one is not None and one not in seen:
        seen.append(one)
        one = one.__cause__ or one.__context__
    return seen


async def test_a_listing_the_store_refuses_is_a_typed_error_with_no_obstore_type_or_credential(
    s3_env: S3Server,
) -> None:
    with pytest.raises(ObjectStoreError) as caught:
        [s async for s in object_sources("s3://no-such-bucket/x/")]
    error = caught.value
    assert error.reason == "not_found"
    assert not error.transient
    assert error.url == "s3://no-such-bucket/x/"
    assert "NoSuchBucket" in str(error)
    chain = _chain(error)
    assert not any(type(e).__module__.startswith("obstore") for e in chain)
    assert isinstance(error.__cause__, RedactedException)
    printed = "".join(traceback.format_exception(error))
    _no_secret_in(printed, repr(error))


def test_credentials_in_a_store_message_are_redacted(s3_env: S3Server) -> None:
    from obstore.exceptions import GenericError, PermissionDeniedError

    leaky = GenericError(
        f"request signed by {ACCESS_KEY} with {SECRET_KEY} to https://b.s3/k?X-Amz-Signature=abc123&x=1"
        "\n\nDebug source:\nGeneric { ... }"
    )
    error = store_error(leaky, action="list", url="s3://b/k", secrets=(ACCESS_KEY, SECRET_KEY))
    assert error.reason == "unavailable"
    assert error.transient
    assert "X-Amz-Signature=REDACTED" in str(error)
    assert "Debug source" not in str(error)
    _no_secret_in(str(error), str(error.__cause__), "".join(traceback.format_exception(error)))
    denied = store_error(PermissionDeniedError("no"), action="read", url="s3://b/k", secrets=())
    assert denied.reason == "permission_denied"


async def test_urls_are_sources_and_a_bad_one_fails_alone(
    s3_env: S3Server, emu_client: tuple[Emulator, AsyncBasicAI]
) -> None:
    emu, client = emu_client
    s3_env.bucket("public", {"web/two words.jpg": b"2" * 70, "web/three.png": b"3" * 30}, public=True)
    signed = s3_env.client.generate_presigned_url(
        "get_object", Params={"Bucket": "public", "Key": "web/three.png"}, ExpiresIn=600
    )
    base = f"{s3_env.endpoint}/public/web"
    urls = [f"{base}/two%20words.jpg", f"{base}/missing.png", "ftp://host/file.png", signed]
    ds = await client.datasets.create(name="urls", type="IMAGE")

    report = await client.uploader().upload(ds.id, url_sources(urls))

    outcome = {r.name: (r.ok, r.stage) for r in report.results}
    assert outcome == {
        "two words.jpg": (True, None),
        "missing.png": (False, "validate"),
        "file.png": (False, "validate"),
        "three.png": (True, None),
    }
    missing = next(r for r in report.results if r.name == "missing.png")
    assert isinstance(missing.exception, InvalidSourceError)
    assert "not found" in (missing.error or "")
    assert emu.read_object(next(r.path for r in report.results if r.name == "three.png") or "") == b"3" * 30
    # A pre-signed URL's signature appears nowhere the user looks.
    secret = signed.split("Signature=", 1)[1].split("&", 1)[0]
    assert secret not in repr(report)
    assert secret not in str([r.error for r in report.results])


def test_without_obstore_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "obstore", None)
    for make in (lambda: object_sources("s3://b/p/"), lambda: url_sources(["https://x/y.png"])):
        with pytest.raises(ConfigurationError, match=r"basicai-async\[cloud\]"):
            make()


def test_a_url_that_is_not_a_prefix_or_two_locations_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="url_sources"):
        object_sources("https://example.com/images/")
    store: Any = object()
    with pytest.raises(ValueError, match="either url"):
        object_sources("s3://b/p", store=store)
    with pytest.raises(ValueError, match="either url"):
        object_sources()
