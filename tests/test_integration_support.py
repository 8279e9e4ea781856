"""Shared helpers of the integration tests: the SDK against the emulator over real loopback HTTP.

No tests here. The fixtures give an emulator (limits off unless a test asks
for them), an ``AsyncBasicAI`` whose limiter never limits, and a capture of
every raw request the emulator received (headers and query included), so
tests can look at the wire from the server's side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from basicai_async import AsyncBasicAI
from basicai_async.emulator import Emulator, Fault, FaultRule, Faults
from basicai_async.models import DataFile, FileRef, PresignRequest
from basicai_async.ratelimit import ExactLimiter, Limits, Window

__all__ = [
    "KEY",
    "KEY_B",
    "Captured",
    "LimitedFaults",
    "capture",
    "client",
    "emu",
    "loose_limiter",
    "as_refs",
    "object_key",
    "upload",
]

# Distinctive so that a leak is unmistakable in a log line or a URL.
KEY = "sk-integration-Zq7wX1-secret"
KEY_B = "sk-integration-other-team"


def loose_limiter() -> ExactLimiter:
    """A limiter that never makes a call wait (for tests about something else than limits).

    Not ``Window(10**9, ...)``: ``ExactLimiter`` keeps a ring of as many slots as the
    largest count, so that would allocate 8 GB.
    """
    return ExactLimiter(Limits((Window(100_000, 1.0),)))


@dataclass(frozen=True, slots=True)
class Captured:
    """One raw request as the emulator received it."""

    method: str
    path: str
    query: dict[str, str]
    url: str
    headers: dict[str, str]


def capture(emulator: Emulator) -> list[Captured]:
    """Record every request ``emulator`` receives, outermost (before auth, limits and faults).

    Call before the emulator starts: aiohttp freezes the middleware list on startup.
    """
    seen: list[Captured] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        seen.append(
            Captured(
                request.method,
                request.path,
                dict(request.query),
                str(request.url),
                dict(request.headers),
            )
        )
        return await handler(request)

    emulator.app.middlewares.insert(0, record)
    return seen


class LimitedFaults(Faults):
    """Faults whose rule injects at most ``times`` faults, then none (deterministic retries)."""

    def __init__(self, rule: FaultRule, *, endpoint: str | None = None, times: int = 1) -> None:
        super().__init__()
        self.set(rule, endpoint)
        self.remaining = times

    def decide(self, endpoint: str) -> Fault:
        fault = super().decide(endpoint)
        if fault.kind is not None or fault.latency:
            self.remaining -= 1
            if self.remaining <= 0:
                self.clear()
        return fault


async def upload(client: AsyncBasicAI, name: str = "a.jpg", content: bytes = b"\xff\xd8jpeg") -> FileRef:
    """Pre-sign through the SDK, PUT the bytes (no key), and return the file reference to register."""
    (signed,) = await client.storage.presign_uploads([PresignRequest(filename=name, size=len(content))])
    async with aiohttp.ClientSession() as http, http.put(signed.pre_signed_url, data=content) as resp:
        assert resp.status == 200, await resp.text()
    mime = "image/jpeg" if name.endswith(".jpg") else "application/octet-stream"
    return FileRef(path=signed.register_path, size=len(content), mime_type=mime)


def object_key(path: str) -> str:
    """The emulator's object key in a path: what a registered URL and a listed path have in common.

    The guide's dialect lists a file under the URL it was registered with; the
    xtreme1 dialect, as BasicAI's platform, under the object's key alone, while
    the URL registered was a signed one.
    """
    return "/".join(URL(path).path.strip("/").split("/")[-2:])


def as_refs(files: list[DataFile | FileRef]) -> list[FileRef]:
    """Files as registration references by object key (to compare what an answer lists with what was sent)."""
    return [
        FileRef(
            path=object_key(f.path or ""),
            size=-1 if f.size is None else f.size,
            mime_type=f.mime_type or "",
        )
        for f in files
    ]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator({KEY: "team-a", KEY_B: "team-b"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limiter=loose_limiter()) as sdk:
        yield sdk
