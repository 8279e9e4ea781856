"""OpenTelemetry spans and metrics of one client, through ``opentelemetry-api`` (the ``otel`` extra).

Imported only when a client is built and the package is installed
(``telemetry.load``); without it nothing here is imported and the request
pipeline pays one ``is None`` test per attempt.

What is recorded (docs/observability.md lists it for users):

- a CLIENT span per HTTP attempt to the API, named ``{method} {url.template}``,
  with the HTTP client semantic conventions (``http.request.method``,
  ``url.template``, ``server.address``, ``server.port``,
  ``http.response.status_code``, ``error.type``, ``http.request.resend_count``)
  and ours (``basicai.limiter.wait``, ``basicai.error.code``). The span is made
  after the attempt, from its measured start and end, so the send path holds no
  span open; ``url.full`` is never set (no query string, signature or key can
  reach a span). Finished attempts are handed to OpenTelemetry in bursts (see
  ``Telemetry.flush``): the SDK's code then runs hot, at about 40% less CPU
  than interleaved with the HTTP work of each call;
- an INTERNAL span per upload run and per export, and one per upload batch
  (pre-sign, PUTs, registration) under the run: never one per file;
- metrics: ``http.client.request.duration`` (API attempts, and storage PUT
  attempts with storage's host and port only), ``basicai.limiter.wait``,
  ``basicai.limiter.queue`` and ``basicai.limiter.remaining`` (observed),
  ``basicai.client.retries`` by reason, ``basicai.client.rate_limited``,
  ``basicai.upload.files`` by outcome, ``basicai.upload.bytes``,
  ``basicai.export.results``.

Attribute values are ids, counts, methods, templates, status codes, class names
and envelope codes: never a message, a URL with its query, or a header.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.context import Context, get_current
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from ..ratelimit import Limiter

__all__ = ["SCOPE", "Telemetry"]

SCOPE = "basicai_async"
"""The instrumentation scope of every span and metric (the package's name)."""

# The semantic conventions' advice for http.client.request.duration.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# A limiter wait is 0 when the quota has room, up to max_wait (300 s by default) when it has not.
_WAIT_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0)

# Finished attempts are handed to OpenTelemetry this many at once, or after this many seconds.
_BURST = 64
_BURST_DELAY = 0.05
# The attributes of this many (method, template, status, error) shapes are kept, then made afresh.
_SHAPES = 1024
_ERROR = Status(StatusCode.ERROR)

# One finished attempt, as ``Telemetry.attempt`` holds it until ``flush``: method, path,
# template, status, elapsed, retry, waited, error.type, business code, end (ns), context.
_Attempt = tuple[str, str, str | None, int, float, int, float, str | None, str | None, int, Context]


class _Instruments:
    """The instruments of one meter provider, shared by every client using it.

    The SDK returns the first instrument of a name and drops a later one's
    callbacks, so the observed gauges are registered once and read every limiter
    in use through ``watch``.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one per attempt).",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.limiter_wait = meter.create_histogram(
            "basicai.limiter.wait",
            unit="s",
            description="Seconds an API call attempt waited for the rate limiter (attempts that waited).",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )
        self.retries = meter.create_counter(
            "basicai.client.retries", unit="{retry}", description="Retried attempts, by reason."
        )
        self.rate_limited = meter.create_counter(
            "basicai.client.rate_limited", unit="{response}", description="429 answers of the API."
        )
        self.files = meter.create_counter(
            "basicai.upload.files", unit="{file}", description="Files that ended an upload, by outcome."
        )
        self.bytes = meter.create_counter(
            "basicai.upload.bytes", unit="By", description="Bytes of files stored by a completed PUT."
        )
        self.exported = meter.create_counter(
            "basicai.export.results", unit="{result}", description="Annotation results written by exports."
        )
        self._lock = threading.Lock()
        self._limiters: dict[int, tuple[Limiter, int]] = {}
        self._clients: weakref.WeakSet[Telemetry] = weakref.WeakSet()
        meter.create_observable_gauge(
            "basicai.limiter.queue",
            callbacks=[self._observe_queue],
            unit="{call}",
            description="API calls waiting for the rate limiter.",
        )
        meter.create_observable_gauge(
            "basicai.limiter.remaining",
            callbacks=[self._observe_remaining],
            unit="{call}",
            description="Admissions each window of the rate limiter can still take now.",
        )

    def watch(self, limiter: Limiter, client: Telemetry) -> None:
        with self._lock:
            _, users = self._limiters.get(id(limiter), (limiter, 0))
            self._limiters[id(limiter)] = (limiter, users + 1)
            self._clients.add(client)

    def unwatch(self, limiter: Limiter, client: Telemetry) -> None:
        with self._lock:
            self._clients.discard(client)
            entry = self._limiters.get(id(limiter))
            if entry is None:
                return
            if entry[1] <= 1:
                del self._limiters[id(limiter)]
            else:
                self._limiters[id(limiter)] = (limiter, entry[1] - 1)

    def _watched(self) -> Iterator[tuple[Limiter, dict[str, Any]]]:
        with self._lock:
            limiters = [limiter for limiter, _ in self._limiters.values()]
        several = len(limiters) > 1
        for index, limiter in enumerate(limiters):
            # One limiter (the usual case) needs no label of its own.
            yield limiter, ({"basicai.limiter.instance": index} if several else {})

    def _observe_queue(self, options: CallbackOptions) -> Iterable[Observation]:
        # The first callback of a collection, before the SDK reads the histograms and
        # counters: the attempts clients still hold go in now, if this is their thread.
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.flush_here()
        return [Observation(limiter.stats().waiting, attrs) for limiter, attrs in self._watched()]

    def _observe_remaining(self, options: CallbackOptions) -> Iterable[Observation]:
        observed = []
        for limiter, attrs in self._watched():
            for window in limiter.stats().windows:
                labels = {**attrs, "basicai.limiter.window": f"{window.seconds:g}s"}
                observed.append(Observation(window.remaining, labels))
        return observed


_shared: dict[int, tuple[metrics.MeterProvider, _Instruments]] = {}
_shared_lock = threading.Lock()


def _instruments_of(provider: metrics.MeterProvider, version: str) -> _Instruments:
    """The one set of instruments of ``provider`` (kept with it, so its id is never reused meanwhile)."""
    with _shared_lock:
        entry = _shared.get(id(provider))
        if entry is None:
            entry = (provider, _Instruments(provider.get_meter(SCOPE, version)))
            _shared[id(provider)] = entry
        return entry[1]


@lru_cache(maxsize=64)
def _netloc_host_port(scheme: str, netloc: str) -> tuple[str, int]:
    url = urlsplit(f"{scheme}://{netloc}")
    return url.hostname or "", url.port or (443 if scheme == "https" else 80)


def _host_port(url: str) -> tuple[str, int]:
    """The host and port of ``url`` (cached by its scheme and authority: storage has a few)."""
    scheme, _, rest = url.partition("://")
    return _netloc_host_port(scheme, rest.split("/", 1)[0].rpartition("@")[2])


def _has_digit(path: str) -> bool:
    return any(c.isdigit() for c in path)


class Telemetry:
    """The spans and metrics of one client (``AsyncBasicAI.telemetry``); None without OpenTelemetry.

    Not built by users: ``AsyncBasicAI(tracer_provider=..., meter_provider=...)``
    chooses the providers (the global ones by default).
    """

    __slots__ = (
        "__weakref__",
        "_global_meters",
        "_global_tracer",
        "_idle",
        "_instruments",
        "_limiter",
        "_pending",
        "_put_shapes",
        "_puts",
        "_recheck_at",
        "_server",
        "_shapes",
        "_thread",
        "_timer",
        "_tracer",
    )

    def __init__(
        self,
        *,
        base_url: str,
        limiter: Limiter,
        version: str,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
    ) -> None:
        tracers = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        meters = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self._tracer = (
            None if isinstance(tracers, trace.NoOpTracerProvider) else tracers.get_tracer(SCOPE, version)
        )
        self._instruments = (
            None if isinstance(meters, metrics.NoOpMeterProvider) else _instruments_of(meters, version)
        )
        # The global providers, while nobody has configured them, are OpenTelemetry's
        # proxies: every span and measurement is dropped. A library may have
        # pulled in opentelemetry-api without any SDK, so then each attempt skips
        # its telemetry, looking again every second (a service may configure it later).
        self._global_tracer = tracer_provider is None
        self._global_meters = meter_provider is None
        self._idle = False
        self._recheck_at = 0.0
        self._limiter = limiter
        url = urlsplit(base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        self._server = (url.hostname or "", port)
        self._pending: list[_Attempt] = []
        # Storage PUT attempts, held the same way: (attributes, elapsed, context).
        self._puts: list[tuple[dict[str, Any], float, Context]] = []
        # (storage's host, port, status, error.type) -> attributes, as ``_shapes``.
        self._put_shapes: dict[tuple[str, int, int, str | None], dict[str, Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._thread = threading.get_ident()
        # (method, template, status, error.type) -> (span name, attributes): the same dict
        # for every attempt of one shape, never changed (the SDK copies what it keeps).
        self._shapes: dict[tuple[str, str | None, int, str | None], tuple[str, dict[str, Any]]] = {}
        if self._instruments is not None:
            self._instruments.watch(limiter, self)

    @property
    def enabled(self) -> bool:
        """False when both providers are OpenTelemetry's no-op ones: then nothing is recorded."""
        return self._tracer is not None or self._instruments is not None

    def close(self) -> None:
        """Hand over the attempts still held, and stop observing this client's limiter (it is closed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()
        if self._instruments is not None:
            self._instruments.unwatch(self._limiter, self)

    # -- the request pipeline ---------------------------------------------------

    def attempt(
        self,
        method: str,
        path: str,
        template: str | None,
        status: int,
        elapsed: float,
        retry: int,
        waited: float,
        error: BaseException | None,
        code: str | None,
    ) -> None:
        """Take one HTTP attempt that just ended (``status`` 0: no answer); ``flush`` records it.

        Only what the span and the metrics need is kept (never the error itself,
        which would keep its traceback and the request's frames alive).
        """
        if self._unconfigured():
            return
        error_type = None
        if error is not None:
            error_type = str(status) if status >= 400 else type(error).__name__
        pending = self._pending
        pending.append(
            (
                method,
                path,
                template,
                status,
                elapsed,
                retry,
                waited,
                error_type,
                code,
                time.time_ns(),
                get_current(),
            )
        )
        if len(pending) >= _BURST:
            self.flush()
        elif self._timer is None:
            self._hold()

    def _hold(self) -> None:
        """Make sure what is held now is recorded within ``_BURST_DELAY`` (a timer on this loop)."""
        self._thread = threading.get_ident()
        self._timer = asyncio.get_running_loop().call_later(_BURST_DELAY, self._flush_later)

    def flush(self) -> None:
        """Record every attempt taken and not yet recorded: its span and its measurements.

        Attempts are held, in order, until 64 are or 50 ms have passed since the
        first, until a metric reader collects on this thread, or until the client
        closes: the SDK's code then runs many times in a row, hot in the CPU's caches,
        at about 40% less CPU than interleaved with each call's HTTP work. Each span
        keeps the attempt's own start and end, and its parent is the span that was
        current when the attempt ended. Storage PUT attempts are held the same way.
        """
        instruments = self._instruments
        puts = self._puts
        if puts:
            self._puts = []
            if instruments is not None:
                duration = instruments.duration
                for attrs, elapsed, context in puts:
                    duration.record(elapsed, attrs, context)
        pending = self._pending
        if not pending:
            return
        self._pending = []
        tracer = self._tracer
        for method, path, template, status, elapsed, retry, waited, error_type, code, end, context in pending:
            name, attrs = self._shape(method, path, template, status, error_type)
            if instruments is not None:
                instruments.duration.record(elapsed, attrs, context)
                if waited:
                    # Only the attempts that waited: most calls under the quota wait 0.
                    instruments.limiter_wait.record(waited, {"http.request.method": method}, context)
                if status == 429:
                    instruments.rate_limited.add(1, attrs, context)
            if tracer is not None:
                span_attrs = attrs
                if waited or retry or code is not None:
                    span_attrs = dict(attrs)
                    if waited:
                        span_attrs["basicai.limiter.wait"] = waited
                    if retry:
                        span_attrs["http.request.resend_count"] = retry
                    if code is not None:
                        span_attrs["basicai.error.code"] = code
                span = tracer.start_span(
                    name,
                    context=context,
                    kind=SpanKind.CLIENT,
                    attributes=span_attrs,
                    start_time=end - int(elapsed * 1e9),
                )
                if error_type is not None:
                    span.set_status(_ERROR)
                span.end(end_time=end)

    def flush_here(self) -> None:
        """``flush`` if called on the thread the attempts are taken on (a metric reader's collection).

        A periodic reader collects on a thread of its own: the attempts then held go
        in the next collection (they are at most 50 ms old).
        """
        if (self._pending or self._puts) and threading.get_ident() == self._thread:
            self.flush()

    def _flush_later(self) -> None:
        self._timer = None
        self.flush()

    def _shape(
        self, method: str, path: str, template: str | None, status: int, error_type: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The span name and the attributes of an attempt, the same objects for every attempt alike."""
        key = (method, template or path, status, error_type)
        shape = self._shapes.get(key)
        if shape is not None:
            return shape
        if template is None and not _has_digit(path):
            # A path with no id in it (``/dataset/create``) is its own template; one
            # given whole to the escape hatch (``/dataset/info/7``) has none.
            template = path
        host, port = self._server
        attrs: dict[str, Any] = {"http.request.method": method, "server.address": host, "server.port": port}
        if template is not None:
            attrs["url.template"] = template
        if status:
            attrs["http.response.status_code"] = status
        if error_type is not None:
            attrs["error.type"] = error_type
        if len(self._shapes) >= _SHAPES:
            self._shapes.clear()  # escape-hatch paths without ids, each its own template
        shape = self._shapes[key] = (f"{method} {template}" if template is not None else method, attrs)
        return shape

    def stored(self, url: str, status: int, elapsed: float, error_type: str | None) -> None:
        """Take one storage PUT attempt for ``http.client.request.duration`` (no span: one per file).

        Only the storage's host and port are taken from ``url``: never its path or
        query. Held and recorded in bursts, as API attempts are (``flush``).
        """
        if self._instruments is None or self._unconfigured():
            return
        host, port = _host_port(url)
        key = (host, port, status, error_type)
        attrs = self._put_shapes.get(key)
        if attrs is None:
            attrs = {"http.request.method": "PUT", "server.address": host, "server.port": port}
            if status:
                attrs["http.response.status_code"] = status
            if error_type is not None:
                attrs["error.type"] = error_type
            if len(self._put_shapes) >= _SHAPES:
                self._put_shapes.clear()
            self._put_shapes[key] = attrs
        puts = self._puts
        puts.append((attrs, elapsed, get_current()))
        if len(puts) >= _BURST:
            self.flush()
        elif self._timer is None:
            self._hold()

    def _unconfigured(self) -> bool:
        """Whether both providers are the global ones and nobody has configured them yet."""
        if not (self._global_tracer and self._global_meters):
            return False
        now = time.monotonic()
        if now >= self._recheck_at:
            self._recheck_at = now + 1.0
            self._idle = isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider) and (
                # The API's proxy class is private: matched by name, so a rename only costs speed.
                type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
            )
        return self._idle

    def retried(self, method: str, reason: str) -> None:
        """Count one retry decided after an attempt failed for ``reason`` (a status or an error class)."""
        if self._instruments is not None:
            self._instruments.retries.add(1, {"http.request.method": method, "basicai.retry.reason": reason})

    # -- runs: uploads and exports ----------------------------------------------

    @contextmanager
    def run_span(self, name: str, attributes: dict[str, Any]) -> Iterator[Span | None]:
        """A span around a whole run, current inside the block (its calls and batches nest under it)."""
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
                raise

    def start_span(self, name: str, attributes: dict[str, Any]) -> Span | None:
        """A span under the current one, ended by the caller (an upload batch across its tasks)."""
        if self._tracer is None:
            return None
        return self._tracer.start_span(name, attributes=attributes)

    @staticmethod
    def within(span: Span) -> AbstractContextManager[Span]:
        """Make ``span`` current in this block (the calls of a batch nest under it)."""
        return trace.use_span(span, end_on_exit=False, record_exception=False)

    def file_ended(self, outcome: str, count: int = 1) -> None:
        """Count files that ended an upload: ``registered``, ``failed`` or ``maybe_registered``."""
        if self._instruments is not None:
            self._instruments.files.add(count, {"basicai.upload.outcome": outcome})

    def bytes_stored(self, nbytes: int) -> None:
        """Count the bytes of one completed PUT."""
        if self._instruments is not None:
            self._instruments.bytes.add(nbytes)

    def exported(self, results: int) -> None:
        """Count annotation results an export wrote."""
        if self._instruments is not None and results:
            self._instruments.exported.add(results)
