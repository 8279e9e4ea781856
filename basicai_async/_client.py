"""``AsyncBasicAI``: the client users hold. Options, session lifecycle, resources."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from ._concurrency import DEFAULT_API_CONCURRENCY
from ._errors import ConfigurationError
from ._http import Pipeline, StampingRequest
from ._retry import RetryPolicy
from .ratelimit import BASICAI_LIMITS, ExactLimiter, Limiter, Limits, RedisLimiter
from .resources import Annotations, Batches, Data, Datasets, Items, Scenes, Storage
from .telemetry._events import UploadEvent
from .telemetry._load import load_telemetry
from .uploader import Uploader

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .telemetry._otel import Telemetry

__all__ = ["DEFAULT_BASE_URL", "AsyncBasicAI"]

DEFAULT_BASE_URL = "https://open.basic.ai/api/v1"
"""BasicAI's production API, version 1."""


class AsyncBasicAI:
    """An asyncio client of BasicAI's OpenAPI.

    Every call goes through one pipeline: the rate limiter (BasicAI's per-key
    limits, exactly), an aiohttp session, typed decoding and retries.

    Example::

        async with AsyncBasicAI() as client:  # key from BASICAI_API_KEY
            ds = await client.datasets.create(name="cars", type="IMAGE")
            async for item in client.items.list(ds.id):
                print(item.name)

    Args:
        api_key: the API key; defaults to the ``BASICAI_API_KEY`` environment variable.
        base_url: the API root including the version; defaults to ``BASICAI_BASE_URL``
            or ``https://open.basic.ai/api/v1``.
        timeout: seconds allowed for one HTTP attempt, connect to last byte.
        max_retries: retries after the first attempt (see the retry policy in docs/errors.md).
        session: an aiohttp session to use; the client never closes one it was given.
        limiter: the rate limiter; by default an ``ExactLimiter`` over ``limits``.
            Pass one limiter to several clients that share a key (or a ``RedisLimiter``
            to share it across processes).
        redis_url: share the key's quota with every process using this Redis: the
            default limiter becomes a ``RedisLimiter`` (closed with the client).
            Defaults to ``BASICAI_REDIS_URL``; ignored when ``limiter`` is given.
        limits: the windows of the default limiter (BasicAI's published limits).
        max_wait: the default limiter raises ``QuotaExhaustedError`` instead of
            waiting longer than this many seconds for a slot.
        max_retry_after: the longest server ``Retry-After`` the client waits out.
        retry: the whole retry policy (backoff, jitter, sleep); when given, it
            replaces ``max_retries`` and ``max_retry_after``. Storage PUTs use it
            too, with the uploader's own ``put_retries``.
        tracer_provider: the OpenTelemetry ``TracerProvider`` of the client's spans;
            defaults to the global one. Needs the ``otel`` extra
            (``pip install 'basicai-async[otel]'``); without it nothing is recorded
            or imported. OpenTelemetry's ``NoOpTracerProvider`` turns spans off.
        meter_provider: the OpenTelemetry ``MeterProvider`` of its metrics; defaults
            to the global one (``NoOpMeterProvider`` turns metrics off).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        limiter: Limiter | None = None,
        limits: Limits = BASICAI_LIMITS,
        max_wait: float | None = 300.0,
        max_retry_after: float = 60.0,
        retry: RetryPolicy | None = None,
        redis_url: str | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("BASICAI_API_KEY")
        if not key or not key.strip():
            raise ConfigurationError(
                "No API key: pass AsyncBasicAI(api_key=...) or set BASICAI_API_KEY. "
                "Keys are created in BasicAI's Profile Center."
            )
        url = base_url or os.environ.get("BASICAI_BASE_URL") or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://, got {url!r}")
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {timeout!r}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {max_retries!r}")
        self._base_url = url.rstrip("/")
        self._timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        redis_url = redis_url or os.environ.get("BASICAI_REDIS_URL") or None
        self._own_limiter: RedisLimiter | None = None
        if limiter is None and redis_url is not None:
            limiter = self._own_limiter = RedisLimiter(
                redis_url, api_key=key.strip(), limits=limits, max_wait=max_wait
            )
        self._limiter: Limiter = limiter if limiter is not None else ExactLimiter(limits, max_wait=max_wait)
        self._telemetry = load_telemetry(
            base_url=self._base_url,
            limiter=self._limiter,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        self._pipeline = Pipeline(
            api_key=key.strip(),
            base_url=self._base_url,
            limiter=self._limiter,
            retry=retry or RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after),
            session=self.http_session,
            session_now=self._session_now,
            timeout=timeout,
            telemetry=self._telemetry,
        )
        self.datasets = Datasets(self._pipeline)
        """Datasets: create, update, replace, delete, list, traverse, info."""
        self.data = Data(self._pipeline)
        """Data items: add one or many, remove one or many."""
        self.scenes = Scenes(self._pipeline)
        """Scenes: add (optionally with frames), remove."""
        self.batches = Batches(self._pipeline)
        """Batches: add, remove an empty one."""
        self.items = Items(self._pipeline)
        """Items at one level of a dataset: page listing, id-order traversal."""
        self.annotations = Annotations(self._pipeline)
        """Annotation sources and the results of data items and scenes."""
        self.storage = Storage(self._pipeline)
        """Pre-signed upload URLs for object storage."""

    @property
    def base_url(self) -> str:
        """The API root the client talks to."""
        return self._base_url

    @property
    def limiter(self) -> Limiter:
        """The rate limiter every API call passes through (``limiter.stats()`` shows its state)."""
        return self._limiter

    @property
    def telemetry(self) -> Telemetry | None:
        """The client's OpenTelemetry spans and metrics, or None when OpenTelemetry is not installed
        (or both providers are no-op). The uploader and the export record their runs through it."""
        return self._telemetry

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of API calls (the uploader's PUTs use it too)."""
        return self._pipeline.retry

    def uploader(
        self,
        *,
        concurrency: int = 16,
        api_concurrency: int = DEFAULT_API_CONCURRENCY,
        put_retries: int = 3,
        on_event: Callable[[UploadEvent], object] | None = None,
    ) -> Uploader:
        """An ``Uploader`` that pre-signs, PUTs and registers files through this client.

        ``concurrency`` caps the PUTs in flight, ``api_concurrency`` (default 20,
        enough for the quota at 200 ms round trips) the API calls; the client's
        rate limiter decides when each call may go. ``on_event`` is told each
        progress event (``FileDone`` carries every registered file's result).

        Example::

            report = await client.uploader().upload(dataset_id, Path("images").glob("*.jpg"))
            report.raise_for_failures()
        """
        return Uploader(
            self,
            concurrency=concurrency,
            api_concurrency=api_concurrency,
            put_retries=put_retries,
            on_event=on_event,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call any path of the API through the same limiter, retries and errors.

        The escape hatch for endpoints or fields the typed resources lack; returns
        the envelope's ``data`` as plain Python objects. ``idempotent`` (default:
        True for GET, False for POST) decides which failures are retried.

        Example::

            info = await client.request("GET", "/dataset/info/1")
        """
        return await self._pipeline.request(
            method, path, params=params, json=json, response_type=object, idempotent=idempotent
        )

    async def http_session(self) -> aiohttp.ClientSession:
        """The aiohttp session the client sends through, opened on first use.

        The uploader PUTs files to object storage through it. Raises
        ``ConfigurationError`` once the client (or a session it was given) is closed,
        and when called from another event loop than the first call's.

        A client belongs to the event loop it is first used in: its session, its
        connections and its limiter's waiters are that loop's. Used from a second
        loop (``asyncio.run`` called twice with one client), it says so with a
        ``ConfigurationError`` instead of aiohttp's bare ``RuntimeError``, whether
        the session is its own or was given: create one client per event loop
        (``async with AsyncBasicAI() as client`` inside the coroutine ``asyncio.run`` runs).
        """
        if self._closed:
            raise ConfigurationError("this AsyncBasicAI client is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            whose = "its aiohttp session" if self._owns_session else "the aiohttp session it was given"
            raise ConfigurationError(
                f"this AsyncBasicAI client was first used in another event loop, and {whose} and its "
                "rate limiter belong to that loop (asyncio.run called twice with one client?); "
                "create one client per event loop, e.g. `async with AsyncBasicAI() as client` "
                "inside the coroutine you run"
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                # Not the session's own JSON: bodies are msgspec-encoded by the pipeline.
                connector=aiohttp.TCPConnector(limit=100),
                # Stamps each call's limiter slot as it leaves (see Reservation), without the
                # cost of aiohttp's trace signals on every request (send_trace does it for a
                # session a user passes in).
                request_class=StampingRequest,
            )
        elif self._session.closed:
            # Else aiohttp's bare RuntimeError("Session is closed") would reach the user.
            raise ConfigurationError("the aiohttp session given to AsyncBasicAI is closed")
        return self._session

    def _session_now(self) -> aiohttp.ClientSession | None:
        """The session when ``http_session()`` would return it at once; None when it must decide.

        The pipeline's fast path (no coroutine per call): open, not closed, and this
        the loop it belongs to. Anything else (first use, a closed client or session,
        another loop) goes through ``http_session``, which opens or raises.
        """
        session = self._session
        if session is None or self._closed or session.closed or self._loop is not asyncio.get_running_loop():
            return None
        return session

    async def close(self) -> None:
        """Close the HTTP session the client opened (never one it was given)."""
        if self._telemetry is not None and not self._closed:
            self._telemetry.close()
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None
        if self._own_limiter is not None:
            await self._own_limiter.aclose()
            self._own_limiter = None

    async def __aenter__(self) -> AsyncBasicAI:
        await self.http_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncBasicAI(base_url={self._base_url!r})"
