"""SECURITY.md's promises about the transport: TLS verified, the key never follows a redirect elsewhere.

Each test runs real HTTP on loopback against small servers of its own (the
emulator cannot redirect or serve TLS).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from basicai_async import APIConnectionError, AsyncBasicAI, Limits, Window
from basicai_async._redact import scrub_exception

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
    # the pipeline will scrub its chain once wired (issue 10): here, what that scrub leaves.
    scrubbed = scrub_exception(caught.value, secrets=[API_KEY])
    seen: set[int] = set()
    exc: BaseException | None = scrubbed
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for text in (str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))):
            assert API_KEY not in text
        assert not hasattr(exc, "request_info")
        exc = exc.__cause__ or exc.__context__
    assert len(seen) >= 2  # the chain was kept, not dropped


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
