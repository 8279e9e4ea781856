"""Object-storage and URL sources through obstore, against moto's S3 server on loopback (no mock).

The uploads go to the emulator's store and API: bytes flow S3 -> client -> pre-signed PUT.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _moto import ACCESS_KEY, SECRET_KEY, S3Server, s3_env, s3_server
from aiohttp import web

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


@contextlib.asynccontextmanager
async def _signed_get_only(
    objects: dict[str, bytes], head_status: int
) -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback store that does what S3 does with a URL pre-signed for GET (moto does not).

    A ``HEAD`` of a signed URL is refused (S3 computes the signature over the method);
    a ``GET`` answers. Yields the base URL and the methods and paths it was asked.
    """
    asked: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        asked.append(f"{request.method} {request.path}")
        body = objects.get(request.path.lstrip("/"))
        if body is None:
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>")
        if request.method == "HEAD" and "X-Amz-Signature" in request.query:
            return web.Response(status=head_status, text="<Error><Code>SignatureDoesNotMatch</Code></Error>")
        headers = {"ETag": '"v1"', "Last-Modified": "Mon, 07 Dec 2026 00:00:00 GMT"}
        return web.Response(body=body, headers=headers, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_route("*", "/{key:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", asked
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("head_status", [403, 405])
async def test_a_url_signed_for_get_whose_store_refuses_head_is_sized_by_a_get(
    head_status: int, emu_client: tuple[Emulator, AsyncBasicAI]
) -> None:
    emu, client = emu_client
    signature = "a1b2c3d4e5f6-signed-get-only"
    query = f"X-Amz-Expires=600&X-Amz-Signature={signature}"
    async with _signed_get_only({"cam/f.png": b"f" * 41, "cam/g.png": b"g" * 3}, head_status) as (
        base,
        asked,
    ):
        urls = [f"{base}/cam/f.png?{query}", f"{base}/cam/gone.png?{query}", f"{base}/cam/g.png"]
        ds = await client.datasets.create(name="signed", type="IMAGE")
        report = await client.uploader().upload(ds.id, url_sources(urls))

    outcome = {r.name: (r.ok, r.stage) for r in report.results}
    assert outcome == {"f.png": (True, None), "gone.png": (False, "validate"), "g.png": (True, None)}
    done = {r.name: r.path for r in report.results if r.ok}
    assert emu.read_object(done["f.png"] or "") == b"f" * 41
    assert emu.read_object(done["g.png"] or "") == b"g" * 3
    # The signed URL's refused HEAD was followed by a GET for its size (a signed URL not found
    # is asked both ways too: a 405 reads as "not found"); an unsigned URL's HEAD was answered.
    assert asked.count("HEAD /cam/f.png") == 1
    assert asked.count("GET /cam/f.png") == 2  # the size, then the bytes
    assert (asked.count("HEAD /cam/gone.png"), asked.count("GET /cam/gone.png")) == (1, 1)
    gone = next(r for r in report.results if r.name == "gone.png")
    assert "not found" in (gone.error or "")
    assert (asked.count("HEAD /cam/g.png"), asked.count("GET /cam/g.png")) == (1, 1)
    assert signature not in repr(report)
    assert signature not in str([r.error for r in report.results])


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


def _flaky(name: str, data: bytes, failures: list[ObjectStoreError]) -> tuple[UploadSource, list[int]]:
    """A source whose reads fail with ``failures`` in turn (mid-stream), then succeed; and its opens."""
    opens: list[int] = []

    async def read() -> AsyncIterator[bytes]:
        opens.append(1)
        yield data[:3]
        if failures:
            raise failures.pop(0)
        yield data[3:]

    return UploadSource.from_stream(name, len(data), read), opens


async def test_a_store_failing_for_a_moment_mid_read_is_retried_by_reopening_the_object(
    emu_client: tuple[Emulator, AsyncBasicAI],
) -> None:
    emu, client = emu_client
    ds = await client.datasets.create(name="flaky-store", type="IMAGE")
    down = ObjectStoreError("cannot read s3://b/k: connection reset", url="s3://b/k", reason="unavailable")
    denied = ObjectStoreError("cannot read s3://b/d: 403", url="s3://b/d", reason="permission_denied")
    flaky, flaky_opens = _flaky("flaky.png", b"0123456789", [down, down])
    refused, refused_opens = _flaky("refused.png", b"abcdefghij", [denied])

    report = await client.uploader(put_retries=3).upload(ds.id, [flaky, refused])

    ok, failed = report.results
    assert ok.ok
    assert emu.read_object(ok.path or "") == b"0123456789"
    assert len(flaky_opens) == 3  # two failed reads, each retried from a fresh open
    assert failed.stage == "put"
    assert "403" in (failed.error or "")
    assert len(refused_opens) == 1  # a refusal is not retried


def test_a_prefix_url_the_store_cannot_use_is_a_configuration_error(s3_env: S3Server) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot use s3:// as an object-storage prefix") as caught:
        object_sources("s3://")
    assert isinstance(caught.value.__cause__, RedactedException)


async def test_urls_from_an_async_iterable_are_looked_up_a_window_at_a_time(s3_env: S3Server) -> None:
    s3_env.bucket("many", {f"u/{i:02d}.png": bytes([i]) * (i + 1) for i in range(20)}, public=True)

    async def urls() -> AsyncIterator[str]:
        for i in range(20):
            yield f"{s3_env.endpoint}/many/u/{i:02d}.png"

    found = [s async for s in url_sources(urls())]
    assert [(s.name, s.size) for s in found if isinstance(s, UploadSource)] == [
        (f"{i:02d}.png", i + 1) for i in range(20)
    ]
    assert await _read(found[19]) == bytes([19]) * 20  # type: ignore[arg-type]


def test_the_cli_uploads_a_prefix_and_a_url_list_and_resumes_with_its_manifest(
    s3_env: S3Server,
    emulator_process: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from basicai_async import cli

    s3_env.bucket(
        "clibucket", {"a/1.png": b"1" * 9, "a/2.png": b"2" * 9, "a/x.txt": b"t", "b/3.png": b"3"}, public=True
    )
    signed = s3_env.client.generate_presigned_url(
        "get_object", Params={"Bucket": "clibucket", "Key": "b/3.png"}, ExpiresIn=600
    )
    signature = signed.split("Signature=", 1)[1].split("&", 1)[0]
    listed = tmp_path / "urls.txt"
    listed.write_text(f"# more files\n{signed}\n")
    manifest = tmp_path / "m.jsonl"
    with emulator_process("cli-cloud-key") as url:
        monkeypatch.setenv("BASICAI_API_KEY", "cli-cloud-key")
        monkeypatch.setenv("BASICAI_BASE_URL", url)
        argv = ["upload", "s3://clibucket/a/", "--pattern", "*.png", "--url-list", str(listed)]
        assert cli.main([*argv, "--create", "cli-cloud", "--manifest", str(manifest)]) == 0
        out, err = capsys.readouterr()
        assert "3 of 3 files registered" in out
        assert signature not in out + err
        dataset_id = out.split("created dataset ")[1].split()[0]
        assert cli.main([*argv, "--dataset", dataset_id, "--manifest", str(manifest)]) == 0
        assert "3 of 3 files registered" in capsys.readouterr().out
        assert cli.main([*argv, "--dataset", dataset_id, "--shard", "1/2", "--manifest", str(manifest)]) == 1
        assert "belongs to" in capsys.readouterr().err
    _no_secret_in(manifest.read_text())
    assert signature not in manifest.read_text()


def test_the_credentials_of_an_explicit_store_are_redacted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from obstore.exceptions import GenericError
    from obstore.store import S3Store

    from basicai_async._cloud import _secrets

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "azure-account-key-value")
    store = S3Store("b", aws_access_key_id="AKIAEXPLICIT1", aws_secret_access_key="explicit-secret-xyz")
    secrets = _secrets(store)
    assert {"AKIAEXPLICIT1", "explicit-secret-xyz", "azure-account-key-value"} <= set(secrets)
    leaky = GenericError("signed with AKIAEXPLICIT1/explicit-secret-xyz, azure-account-key-value")
    error = store_error(leaky, action="list", url="s3://b/", secrets=secrets)
    for secret in ("AKIAEXPLICIT1", "explicit-secret-xyz", "azure-account-key-value"):
        assert secret not in str(error)
        assert secret not in "".join(traceback.format_exception(error))


def test_a_long_store_message_is_shortened_after_redaction_never_through_a_secret() -> None:
    from obstore.exceptions import GenericError

    secret = "tail-secret-value-that-straddles-the-cut-0123456789"
    leaky = GenericError("x" * 495 + secret + " more")
    error = store_error(leaky, action="list", url="s3://b/", secrets=(secret,))
    assert secret[:10] not in str(error)
    assert secret[:10] not in str(error.__cause__)
    assert str(error).endswith("...")


async def test_something_that_is_not_a_store_fails_as_a_typed_listing_error() -> None:
    not_a_store: Any = object()
    with pytest.raises(ObjectStoreError) as caught:
        [s async for s in object_sources(store=not_a_store, prefix="p/")]
    assert caught.value.reason == "invalid"
    assert not any(type(e).__module__.startswith("obstore") for e in _chain(caught.value))
