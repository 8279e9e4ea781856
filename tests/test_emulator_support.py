"""Shared helpers of the emulator tests: raw-HTTP calls on loopback, no SDK involved."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from basicai_async.emulator import Emulator

__all__ = ["KEY_A", "KEY_B", "Api", "Lines", "api", "emu", "http"]

KEY_A = "key-a"
KEY_B = "key-b"


class Lines(io.StringIO):
    """Output that tells the test when something was printed (for the emulator's command line)."""

    def __init__(self) -> None:
        super().__init__()
        self.printed = asyncio.Event()

    def write(self, text: str) -> int:
        self.printed.set()
        return super().write(text)


class Api:
    """Calls the emulator's API with one key and checks the envelope."""

    def __init__(self, http: aiohttp.ClientSession, emu: Emulator, key: str | None = KEY_A) -> None:
        self.http, self.emu, self.key = http, emu, key

    def headers(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key
        return {"Authorization": f"ApiKey {key}"} if key else {}

    async def raw(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """(HTTP status, JSON body or text, response)."""
        async with self.http.request(
            method,
            self.emu.base_url + path,
            params=params,
            json=json,
            data=data,
            headers=self.headers() if headers is None else headers,
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json(), resp
            return resp.status, await resp.text(), resp

    async def envelope(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        status, body, _ = await self.raw(method, path, **kwargs)
        assert status == 200, body
        assert set(body) == {"code", "message", "data"}
        return body  # type: ignore[no-any-return]

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        body = await self.envelope(method, path, **kwargs)
        assert body["code"] == "OK", body
        return body["data"]

    async def code(self, method: str, path: str, **kwargs: Any) -> str:
        body = await self.envelope(method, path, **kwargs)
        assert body["data"] is None
        return body["code"]  # type: ignore[no-any-return]

    async def dataset(self, name: str = "ds", type_: str = "IMAGE") -> dict[str, Any]:
        return await self.ok("POST", "/dataset/create", json={"name": name, "type": type_})  # type: ignore[no-any-return]

    async def upload(self, filename: str = "a.jpg", content: bytes = b"\xff\xd8jpeg") -> dict[str, Any]:
        """Pre-sign, PUT and return the file reference to register."""
        (signed,) = await self.ok(
            "POST",
            "/storage/batchGeneratePreSignedUploadUrl",
            json=[{"filename": filename, "size": len(content)}],
        )
        async with self.http.put(signed["preSignedUrl"], data=content) as resp:
            assert resp.status == 200, await resp.text()
        mime = "image/jpeg" if filename.endswith(".jpg") else "application/octet-stream"
        return {"path": signed["path"], "size": len(content), "mimeType": mime}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator({KEY_A: "team-a", KEY_B: "team-b"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, emu: Emulator) -> Api:
    return Api(http, emu)
