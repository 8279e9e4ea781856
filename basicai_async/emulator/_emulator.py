"""``Emulator``: the in-process BasicAI server, started on loopback on a free port.

Example::

    async with Emulator(keys={"test-key": "team-a"}, limits=None) as emu:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": "ApiKey test-key"}
            async with http.get(f"{emu.base_url}/dataset/list", headers=headers) as resp:
                assert (await resp.json())["code"] == "OK"
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType

from aiohttp import web

from ..ratelimit import ExactLimiter, Limiter, Limits
from ._app import API_PREFIX, build_app
from ._auth import ApiKey, KeyRing, RequestLog, RequestRecord
from ._context import Context
from ._dialects import dialect_named
from ._faults import Faults
from ._state import State
from ._store import ObjectStore

__all__ = ["DEFAULT_DIALECT", "DIALECT_ENV", "SERVER_LIMITS", "Emulator", "chosen_dialect"]

SERVER_LIMITS = Limits.basicai(margin=0.0)
"""BasicAI's published per-key limits, enforced exactly (no margin: that is the client's job)."""


DEFAULT_DIALECT = "guide"
"""The dialect an emulator speaks unless told: the shapes of API.md's main section."""
DIALECT_ENV = "BASICAI_EMULATOR_DIALECT"
"""The environment variable that picks the dialect when none is given (whole test suites switch with it)."""


def chosen_dialect(name: str | None) -> str:
    """``name``, else ``$BASICAI_EMULATOR_DIALECT``, else ``guide``."""
    return name or os.environ.get(DIALECT_ENV) or DEFAULT_DIALECT


def _exact_limiter(limits: Limits) -> Limiter:
    # max_wait=None: the server never waits, it only asks try_acquire.
    return ExactLimiter(limits, max_wait=None)


class Emulator:
    """A local BasicAI: state in memory, uploads on disk, served on ``host``:``port`` (0 = free).

    Args:
        keys: API keys, as ``{key: team}`` or ``ApiKey`` objects (or bare key strings,
            team ``"default"``).
        limits: per-key limits (``None`` disables them); BasicAI's by default.
        faults: fault rules (none by default); also reachable as ``emu.faults``.
        storage_dir: where uploads go; a temporary directory removed on close by default.
        presign_ttl: seconds a pre-signed URL stays valid (``emu.store.ttl`` changes it later).
        secret: the HMAC key of pre-signed URLs (random by default).
        dialect: the answers' shapes: ``"guide"`` (the published guide's, the default) or
            ``"xtreme1"`` (the variants BasicAI's open-source platform sends: ``objects``,
            string versions, ``type: SINGLE_DATA``, ``accessUrl``, nulls written out, ...).
            ``None`` reads ``$BASICAI_EMULATOR_DIALECT``, so a test suite can run against either.
    """

    def __init__(
        self,
        keys: Mapping[str, str] | Iterable[ApiKey | str] | None = None,
        *,
        limits: Limits | None = SERVER_LIMITS,
        faults: Faults | None = None,
        storage_dir: str | Path | None = None,
        presign_ttl: float = 3600.0,
        secret: bytes | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        limiter_factory: Callable[[Limits], Limiter] = _exact_limiter,
        dialect: str | None = None,
    ) -> None:
        speaks = dialect_named(chosen_dialect(dialect))
        if presign_ttl < 0:
            raise ValueError("presign_ttl must be >= 0 seconds")
        self._own_dir = storage_dir is None
        root = (
            Path(tempfile.mkdtemp(prefix="basicai-emulator-")) if storage_dir is None else Path(storage_dir)
        )
        root.mkdir(parents=True, exist_ok=True)
        self.faults = faults if faults is not None else Faults()
        self.ctx = Context(
            state=State(),
            store=ObjectStore(
                root,
                secret or secrets.token_bytes(32),
                presign_ttl,
                self.faults,
                speaks.access_prefix,
                signed_access=speaks.signed_access,
            ),
            keys=KeyRing(limits, limiter_factory),
            log=RequestLog(),
            faults=self.faults,
            dialect=speaks,
        )
        self.host, self.port = host, port
        self.app = build_app(self.ctx)
        self._runner: web.AppRunner | None = None
        if isinstance(keys, Mapping):
            for key, team in keys.items():
                self.add_key(key, team=team)
        else:
            for one in keys or ():
                if isinstance(one, str):
                    self.add_key(one)
                else:
                    self.add_key(one.key, team=one.team, expires_at=one.expires_at)

    @property
    def dialect(self) -> str:
        """The name of the dialect this emulator speaks."""
        return self.ctx.dialect.name

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> Emulator:
        """Start serving; ``port`` 0 picks a free one (read it back from ``emu.port``)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def close(self) -> None:
        """Stop serving and remove the temporary storage directory (if it made one)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._own_dir:
            shutil.rmtree(self.ctx.store.root, ignore_errors=True)

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- addresses -------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:54321``."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running: use `async with Emulator() as emu`")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, ending in ``/api/v1`` (what the SDK's ``base_url`` takes)."""
        return self.url + API_PREFIX

    # -- keys --------------------------------------------------------------------

    def add_key(self, key: str, *, team: str = "default", expires_at: datetime | None = None) -> ApiKey:
        """Add (or replace) an API key of ``team``, valid until ``expires_at`` (aware) if given."""
        return self.ctx.keys.add(key, team, expires_at)

    def revoke_key(self, key: str) -> None:
        """Revoke a key at once: its next call gets 401."""
        self.ctx.keys.revoke(key)

    # -- inspection ---------------------------------------------------------------

    @property
    def state(self) -> State:
        """The in-memory state (datasets and their items) for inspection."""
        return self.ctx.state

    @property
    def store(self) -> ObjectStore:
        """The object store (``ttl``, ``objects``, ``read``, ``presign_get``)."""
        return self.ctx.store

    @property
    def log(self) -> RequestLog:
        """The per-key request log."""
        return self.ctx.log

    def requests(self, key: str) -> list[RequestRecord]:
        """The API requests made with ``key``, oldest first."""
        return self.ctx.log.requests(key)

    def max_window_count(self, key: str, seconds: float) -> int:
        """The most API calls made with ``key`` in any window of ``seconds`` (429s included)."""
        return self.ctx.log.max_window_count(key, seconds)

    def read_object(self, path: str) -> bytes:
        """The bytes of an uploaded object, by its URL (KeyError if not uploaded)."""
        return self.ctx.store.read(path)
