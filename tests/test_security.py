"""SECURITY.md's promises about the transport: TLS verified, the key never follows a redirect elsewhere.

Each test runs real HTTP on loopback against small servers of its own (the
emulator cannot redirect or serve TLS).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import pytest
import yarl
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict, CIMultiDictProxy

from basicai_async import APIConnectionError, AsyncBasicAI, Limits, UploadSource, Window
from basicai_async._redact import RedactedException
from basicai_async.models import PresignedUpload, PresignRequest
from basicai_async.resources import Storage

API_KEY = "sk-DISTINCTIVE-7f3a9c1e-do-not-log"
UNLIMITED = Limits((Window(10**9, 1.0),))
DATASET = {"code": "OK", "message": "", "data": {"id": 1, "name": "cars", "type": "IMAGE"}}


def _client(url: str) -> AsyncBasicAI:
    """A client of the server at ``url``; no retries, so each test sees the first outcome."""
    return AsyncBasicAI(API_KEY, base_url=url + "/api/v1", limits=UNLIMITED, max_retries=0)


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


class _Server:
    """A loopback server that records the Authorization header of every request it gets."""

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        self.seen: list[str | None] = []
        self.url = ""
        self.reply: Callable[[web.Request], web.StreamResponse] = lambda _: web.json_response(DATASET)
        self._ssl = ssl_context
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.headers.get("Authorization"))
        return self.reply(request)

    async def start(self) -> _Server:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self._ssl).start()
        scheme = "https" if self._ssl is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


Servers = Callable[..., Awaitable[_Server]]


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    made: list[_Server] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> _Server:
        made.append(_Server(ssl_context))
        return await made[-1].start()

    yield start
    for server in made:
        await server.runner.cleanup()


async def test_a_redirect_to_another_origin_never_carries_the_key(servers: Servers) -> None:
    first = await servers()
    other = await servers()
    first.reply = lambda request: _redirect(307, other.url + request.path_qs)
    async with _client(first.url) as client:
        dataset = await client.datasets.get(1)
    assert dataset.name == "cars"
    assert first.seen == [f"ApiKey {API_KEY}"]
    assert other.seen == [None]  # another port is another origin: the key stayed behind


async def test_a_redirect_loop_error_chain_scrubs_clean(servers: Servers) -> None:
    loop = await servers()
    loop.reply = lambda request: _redirect(302, loop.url + request.path_qs)
    async with AsyncBasicAI(
        API_KEY, base_url=loop.url + "/api/v1", limits=UNLIMITED, max_retries=0
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.datasets.get(1)
    # aiohttp's TooManyRedirects carries the request's headers (the key) and its history;
    # the pipeline chains only a scrubbed stand-in for it.
    seen: set[int] = set()
    exc: BaseException | None = caught.value
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for text in (str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))):
            assert API_KEY not in text
        assert not hasattr(exc, "request_info")
        exc = exc.__cause__ or exc.__context__
    assert len(seen) >= 2  # the chain was kept, not dropped
    assert isinstance(caught.value.__cause__, RedactedException)
    assert "TooManyRedirects" in caught.value.__cause__.original_type


# Signing parameters spelled as S3 sends them, with the %2F and %2B aiohttp/yarl re-encode.
SIGNED_QUERY = (
    "X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1&X-Amz-Signature=c2ln%2Fna%2Bture0123&Expires=99"
)
SECRET_PARTS = ("AKIAEXAMPLE", "c2ln", "na+ture0123", "na%2Bture0123", "ture0123")


async def test_a_put_error_quoting_a_normalised_url_leaks_no_signature(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 10 #5: aiohttp's message quotes the URL re-encoded (%2F as /), which an exact
    replacement of the URL we sent missed: the signature reached the result, the manifest and the CLI."""
    store = "http://127.0.0.1:9"

    async def presign(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        return [
            PresignedUpload(pre_signed_url=f"{store}/bucket/{f.filename}?{SIGNED_QUERY}", path=f.filename)
            for f in files
        ]

    def put(self: aiohttp.ClientSession, url: str, **kwargs: object) -> object:
        # What aiohttp raises for a refused redirect or a bad answer: the URL as yarl spells it.
        normalised = yarl.URL(url)
        assert str(normalised) != url  # the point: not the string the uploader sent
        info = aiohttp.RequestInfo(normalised, "PUT", CIMultiDictProxy(CIMultiDict()), normalised)
        raise aiohttp.ClientResponseError(info, (), status=400, message=f"cannot PUT {normalised}")

    monkeypatch.setattr(Storage, "presign_uploads", presign)
    monkeypatch.setattr(aiohttp.ClientSession, "put", put)
    manifest = tmp_path / "upload.jsonl"
    async with _client(store) as client:
        report = await client.uploader(put_retries=0).upload(
            1, [UploadSource.from_bytes("a.png", b"png")], manifest=manifest
        )
    (result,) = report.results
    assert (result.ok, result.stage) == (False, "put")
    assert "REDACTED" in (result.error or "")  # the URL was quoted, and redacted
    texts = [result.error or "", repr(result), manifest.read_text()]
    exc: BaseException | None = result.exception
    while exc is not None:
        texts += [str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))]
        exc = exc.__cause__ or exc.__context__
    for text in texts:
        for part in SECRET_PARTS:
            assert part not in text, text


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_tls_certificates_are_verified_by_default(tmp_path: Path, servers: Servers) -> None:
    server = await servers(_self_signed(tmp_path))
    async with AsyncBasicAI(
        API_KEY, base_url=server.url + "/api/v1", limits=UNLIMITED, max_retries=0
    ) as client:
        with pytest.raises(APIConnectionError, match="certificate"):
            await client.datasets.get(1)
    assert server.seen == []  # the handshake failed: no request, no key, reached the server
