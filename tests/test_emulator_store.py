"""Emulator over real loopback HTTP: the S3-like object store behind pre-signed URLs."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_A, Api
from yarl import URL

from basicai_async.emulator import Emulator

pytestmark = pytest.mark.integration

emu, http, api = support.emu, support.http, support.api


async def _presign(api: Api, size: int, filename: str = "a.jpg") -> dict[str, str]:
    (signed,) = await api.ok(
        "POST", "/storage/batchGeneratePreSignedUploadUrl", json=[{"filename": filename, "size": size}]
    )
    return signed  # type: ignore[no-any-return]


async def _put(http: aiohttp.ClientSession, url: str, data: object, **kwargs: object) -> tuple[int, str]:
    async with http.put(url, data=data, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text()


async def test_bytes_round_trip_streamed(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB, more than one chunk
    signed = await _presign(api, len(content), "big file.jpg")
    async with http.put(signed["preSignedUrl"], data=io.BytesIO(content)) as resp:
        assert resp.status == 200
        assert resp.headers["ETag"].startswith('"')
    assert emu.read_object(signed["path"]) == content
    async with http.get(emu.store.presign_get(signed["path"])) as resp:
        assert resp.status == 200
        assert await resp.read() == content
    # Store traffic is not API traffic: no auth, no log entry, no limit slot.
    assert [r.path for r in emu.requests(KEY_A)] == ["/api/v1/storage/batchGeneratePreSignedUploadUrl"]


async def test_put_again_overwrites(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 3)
    assert (await _put(http, signed["preSignedUrl"], b"one"))[0] == 200
    assert (await _put(http, signed["preSignedUrl"], b"two"))[0] == 200
    assert emu.read_object(signed["path"]) == b"two"
    assert len(list(emu.store.root.iterdir())) == 1


async def test_bad_signature_is_403(api: Api, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 3)
    url = URL(signed["preSignedUrl"])
    forged = url.update_query(Signature="0" * 64)
    status, body = await _put(http, str(forged), b"abc")
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body
    resized = url.update_query(Size="4")
    status, body = await _put(http, str(resized), b"abcd")
    assert status == 403
    assert "SignatureDoesNotMatch" in body
    for stripped in (url.with_query(None), url.with_query({"Size": "3"})):
        status, body = await _put(http, str(stripped), b"abc")
        assert status == 403
        assert "<Code>AccessDenied</Code>" in body
    # A PUT URL is no GET URL.
    async with http.get(str(url)) as resp:
        assert resp.status == 403


async def test_expired_url_is_403(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.store.ttl = 0
    signed = await _presign(api, 3)
    status, body = await _put(http, signed["preSignedUrl"], b"abc")
    assert status == 403
    assert "Request has expired" in body
    emu.store.ttl = 60
    signed = await _presign(api, 3)
    assert (await _put(http, signed["preSignedUrl"], b"abc"))[0] == 200
    async with http.get(emu.store.presign_get(signed["path"], ttl=0)) as resp:
        assert resp.status == 403


async def test_chunked_put_is_501(api: Api, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 3)

    async def body() -> AsyncIterator[bytes]:
        yield b"abc"

    status, text = await _put(http, signed["preSignedUrl"], body())
    assert status == 501
    assert "<Code>NotImplemented</Code>" in text


async def test_put_without_content_length_is_411(api: Api, emu: Emulator) -> None:
    signed = URL((await _presign(api, 3))["preSignedUrl"])
    reader, writer = await asyncio.open_connection(signed.host, signed.port)
    target = signed.raw_path_qs
    writer.write(f"PUT {target} HTTP/1.1\r\nHost: {signed.host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 411")
    assert b"MissingContentLength" in answer


async def test_authorization_header_is_400(api: Api, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 3)
    status, body = await _put(http, signed["preSignedUrl"], b"abc", headers={"Authorization": "ApiKey key-a"})
    assert status == 400
    assert "InvalidArgument" in body


async def test_size_other_than_signed_is_400(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 5)
    status, body = await _put(http, signed["preSignedUrl"], b"abc")
    assert status == 400
    assert "EntityTooSmall" in body
    status, body = await _put(http, signed["preSignedUrl"], b"abcdefg")
    assert status == 400
    assert "EntityTooLarge" in body
    assert emu.store.lookup(signed["path"]) is None


async def test_incomplete_body_stores_nothing(api: Api, emu: Emulator) -> None:
    signed = URL((await _presign(api, 10))["preSignedUrl"])
    reader, writer = await asyncio.open_connection(signed.host, signed.port)
    head = f"PUT {signed.raw_path_qs} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde"
    writer.write(head.encode())
    await writer.drain()
    writer.write_eof()
    await reader.read()  # the server closes once the body can never complete
    writer.close()
    await writer.wait_closed()
    assert emu.store.objects == {}


async def test_get_of_unknown_object_is_404(api: Api, emu: Emulator, http: aiohttp.ClientSession) -> None:
    signed = await _presign(api, 3)
    async with http.get(emu.store.presign_get(signed["path"])) as resp:
        assert resp.status == 404
        assert "NoSuchKey" in await resp.text()
    with pytest.raises(KeyError):
        emu.read_object(signed["path"])
    assert emu.store.lookup("not a url at all") is None
    assert emu.store.lookup("http://[::1") is None
