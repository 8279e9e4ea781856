"""The one request pipeline: limiter -> send -> decode envelope -> map errors -> retry.

Every API call of the SDK, the escape hatch included, goes through
``Pipeline.request``. It is the only place that builds API URLs, sets the
``Authorization`` header, encodes JSON bodies, and maps aiohttp and msgspec
exceptions of API calls to ``basicai_async`` ones. (The uploader's PUTs go to
object storage, not the API: ``uploader/_put.py`` maps their errors, and retries
them with the same ``RetryPolicy``.)

Retry policy (``RetryPolicy`` in ``_retry.py`` decides the delays):

- Every attempt first takes a slot from the rate limiter, retries included,
  and is counted from when it leaves: the slot is reserved at admission and
  stamped (``Reservation.sent()``) when aiohttp hands the request's headers to
  the connection (the client's own session's ``StampingRequest``, or a session's
  ``send_trace``), or when the attempt ends if the session has neither. A
  burst admitted at once but sent over tens of milliseconds is counted as the
  server sees it, not as it was admitted.
- Idempotent calls (GET, and the POSTs that update, replace, delete or remove)
  retry on connection errors, timeouts, 429, 500, 502, 503 and 504.
- Pre-signing creates nothing a retry could duplicate (unused URLs expire), so
  it is retried like the idempotent calls.
- Creating calls (create, addData, batchAddData, addScene, addBatch)
  retry only where the server cannot have acted: the connection could not be
  opened, 429 (rejected before processing) or 503 (not processing). After an
  ambiguous failure (a reset mid-request, a timeout, 500, 502, 504, a truncated
  answer: :func:`is_ambiguous`) they raise, because a retry could create the
  same thing twice; the caller reconciles (the uploader and ``datasets.create``
  look up what the call may have created).
- aiohttp's exceptions never reach the caller as they are: they carry the
  request's headers (the key) and URLs. The error raised here chains a scrubbed
  copy (``chain_scrubbed``), and its message is redacted.
- Backoff is exponential from 0.5 s, capped at 8 s, with jitter. A
  ``Retry-After`` header (seconds or an HTTP date) is honoured up to
  ``max_retry_after`` seconds; a longer one is raised to the caller. A 429 also
  pauses the limiter, so every task sharing it slows down, not just this one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin, overload

import aiohttp
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from ._constants import BODY_SNIPPET
from ._errors import (
    APIConnectionError,
    APIDecodeError,
    APIError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    BadGatewayError,
    GatewayTimeoutError,
    InternalServerError,
    RateLimitError,
    error_for_code,
    error_for_status,
)
from ._redact import chain_scrubbed, redact_text
from ._retry import RetryPolicy, parse_retry_after
from .models.envelope import Envelope
from .ratelimit import ExactLimiter, Limiter, Reservation, ReservingLimiter
from .telemetry._events import limiter_waited

if TYPE_CHECKING:
    from .telemetry._otel import Telemetry

__all__ = [
    "Pipeline",
    "decode_answer",
    "encode_params",
    "is_ambiguous",
    "is_send_trace",
    "send_trace",
    "with_query",
]

T = TypeVar("T")

logger = logging.getLogger("basicai_async")

_USER_AGENT = "basicai-async"
_IDEMPOTENT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CREATE_RETRY_STATUSES = frozenset({429, 503})


class _CodeOnly(msgspec.Struct):
    """Enough of an envelope to tell an error answer whose ``data`` has another shape."""

    code: str
    message: str | None = None


_CODE_DECODER = msgspec.json.Decoder(_CodeOnly)
# msgspec raises a bare RecursionError for JSON nested past its depth guard (~ thousands of levels).
_UNDECODABLE = (msgspec.MsgspecError, RecursionError)
# Types whose `data` may legitimately be null (deletes, the escape hatch); `X | None` too.
_NULLABLE: frozenset[Any] = frozenset({object, Any, type(None)})


@lru_cache(maxsize=256)
def _decoder(response_type: Any) -> msgspec.json.Decoder[Envelope[Any]]:
    # One reusable decoder per response type: building one costs far more than a decode.
    return msgspec.json.Decoder(Envelope[response_type])


# The decoders of the response types seen, by the type object itself: a generic alias
# (``Page[Item]``) hashes in Python, which the lru_cache above pays on every look-up.
# Each entry holds its type, so the id cannot be reused while the entry lives.
_DECODERS: dict[int, tuple[Any, msgspec.json.Decoder[Envelope[Any]]]] = {}


def _decoder_for(response_type: Any) -> msgspec.json.Decoder[Envelope[Any]]:
    entry = _DECODERS.get(id(response_type))
    if entry is not None and entry[0] is response_type:
        return entry[1]
    decoder = _decoder(response_type)
    if len(_DECODERS) < 256:  # the types a client uses are a fixed few; past that, the lru_cache
        _DECODERS[id(response_type)] = (response_type, decoder)
    return decoder


def encode_params(params: Mapping[str, object] | None) -> dict[str, str]:
    """Query parameters as the API wants them: None dropped, bools lowercase, lists comma-joined."""
    if not params:
        return {}
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            query[name] = ",".join(str(v) for v in value)
        else:
            query[name] = str(value)
    return query


# A query whose names and values hold only these characters travels as it is (yarl escapes none of them).
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9._~,=&\-]*").fullmatch


def with_query(url: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    """``url`` with ``query`` written in, when no name or value needs escaping; else both as they were.

    The same URL aiohttp would build from ``params=query`` (``extend_query``), built
    as text: aiohttp then meets a string it has seen before (a listing's pages,
    the same info call) and reuses its parsed URL instead of building and
    re-analysing a new one on every call. Anything to escape is left to aiohttp.
    """
    if not query or "?" in url:
        return url, query
    text = "&".join([f"{name}={value}" for name, value in query.items()])
    # One `=` per pair and one `&` between pairs: no name or value holds either.
    if _PLAIN_QUERY(text) and text.count("=") == len(query) and text.count("&") == len(query) - 1:
        return f"{url}?{text}", {}
    return url, query


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed creating call may have acted all the same (so it must be looked up, not retried).

    True for a connection lost after the request went out, a timeout waiting for
    the answer, 500, 502, 504, and an answer that does not decode (truncated).
    False for refusals (the server said no) and for failures where it cannot have
    acted (no connection, 429, 503).
    """
    if isinstance(exc, APIConnectionError):
        return exc.sent
    return isinstance(exc, (InternalServerError, BadGatewayError, GatewayTimeoutError, APIDecodeError))


async def _on_headers_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    slot = context.trace_request_ctx
    if isinstance(slot, Reservation):
        slot.sent()


# The slot of the call this task is sending, for StampingRequest (set around the exchange only).
_SENDING: ContextVar[Reservation | None] = ContextVar("basicai_sending", default=None)


class StampingRequest(aiohttp.ClientRequest):
    """The client's own session's request class: stamps the call's limiter slot once its headers are written.

    The same moment ``send_trace`` stamps, without aiohttp's trace machinery:
    a session with trace configs dispatches every trace signal of every request
    (their parameters built, each awaited), which cost about a sixth of a small
    call's client CPU. The slot travels in a context variable set around the
    exchange by the pipeline, so storage PUTs (no slot) stamp nothing.
    """

    async def send(self, conn: Any) -> aiohttp.ClientResponse:
        response = await super().send(conn)
        slot = _SENDING.get()
        if slot is not None:
            slot.sent()
        return response


def send_trace() -> aiohttp.TraceConfig:
    """An aiohttp ``TraceConfig`` that stamps each API call's limiter slot as its headers go out.

    ``AsyncBasicAI``'s own session carries one. Give one to a session you pass
    in (``aiohttp.ClientSession(trace_configs=[send_trace()])``) so that its calls
    are counted from when they leave; without it they are counted from when
    their answer (or failure) came, which is safe but holds each slot longer.
    """
    config = aiohttp.TraceConfig()
    config.on_request_headers_sent.append(_on_headers_sent)
    return config


def is_send_trace(config: aiohttp.TraceConfig) -> bool:
    """Whether ``config`` is one :func:`send_trace` made (what a session for storage leaves out)."""
    return _on_headers_sent in config.on_request_headers_sent


async def _acquired(limiter: Limiter) -> Reservation:
    """A limiter without ``reserve``: its admission is counted at once, nothing left to stamp."""
    return Reservation(await limiter.acquire())


def _snippet(raw: bytes) -> str:
    # An answer may quote what was sent (a signed accessUrl registered as a file's path).
    return redact_text(raw[:BODY_SNIPPET].decode("utf-8", errors="replace"))


class Pipeline:
    """Sends API calls: one per ``request``, with limiting, decoding, errors and retries.

    Not public: ``AsyncBasicAI`` owns one, and resources call it through the client.
    """

    __slots__ = (
        "_base_url",
        "_headers",
        "_json_headers",
        "_limiter",
        "_reserve",
        "_reserve_nowait",
        "_retry",
        "_secrets",
        "_session_factory",
        "_session_now",
        "_telemetry",
        "_timeout",
    )

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        limiter: Limiter,
        retry: RetryPolicy,
        session: Callable[[], Awaitable[aiohttp.ClientSession]],
        session_now: Callable[[], aiohttp.ClientSession | None] | None = None,
        timeout: float | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        # The key lives only in these headers: never logged, never in a repr or an error.
        # Built once as aiohttp's own (read-only) header type: a plain dict would be
        # converted into one on every call, about 1.3 us of a small call's CPU.
        headers = {
            "Authorization": f"ApiKey {api_key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        self._headers = CIMultiDictProxy(CIMultiDict(headers))
        self._json_headers = CIMultiDictProxy(CIMultiDict({**headers, "Content-Type": "application/json"}))
        # What the scrub of aiohttp's exceptions looks for besides signing parameters.
        self._secrets = (api_key, api_key.strip())
        self._limiter = limiter
        # Resolved once: a runtime protocol check costs microseconds per call.
        self._reserve: Callable[[], Awaitable[Reservation]] = (
            limiter.reserve if isinstance(limiter, ReservingLimiter) else lambda: _acquired(limiter)
        )
        # A slot free now, taken without a coroutine: ExactLimiter's, unless a subclass changed
        # what reserve() does (then every slot is asked of its reserve()).
        self._reserve_nowait: Callable[[], Reservation | None] | None = (
            limiter.reserve_nowait
            if isinstance(limiter, ExactLimiter) and type(limiter).reserve is ExactLimiter.reserve
            else None
        )
        self._retry = retry
        self._session_factory = session
        # The session when it is open and usable without awaiting anything; None: ask ``session``.
        self._session_now = session_now
        # Per request, so a session the user passed in gets the client's timeout too.
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # None without OpenTelemetry: then each attempt pays one `is None` test for it.
        self._telemetry = telemetry

    @property
    def limiter(self) -> Limiter:
        """The limiter every attempt passes through."""
        return self._limiter

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every call."""
        return self._retry

    @property
    def telemetry(self) -> Telemetry | None:
        """The spans and metrics every attempt records, or None."""
        return self._telemetry

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, int] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        response_type: type[T],
        idempotent: bool | None = None,
    ) -> T: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, int] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        response_type: None = None,
        idempotent: bool | None = None,
    ) -> None: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, int] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
        response_type: type[T] | None = None,
        idempotent: bool | None = None,
    ) -> T | None:
        """Call the API and return the envelope's ``data`` decoded as ``response_type``.

        With ``path_params``, ``path`` is the endpoint's template
        (``"/dataset/info/{datasetId}"``, filled in here): spans name the call by it.

        Without ``response_type`` the call returns None, whatever ``data`` holds (the
        paths that only act); ``response_type=object`` gives plain data (the escape hatch).

        ``idempotent`` defaults to True for GET and False for POST: pass True for
        POSTs that update, replace, delete or remove (see the module docstring).
        """
        method = method.upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"BasicAI's API uses only GET and POST, not {method!r}")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        if idempotent is None:
            idempotent = method == "GET"
        template: str | None = None
        if path_params:
            template, path = path, path.format_map(path_params)
        url = self._base_url + path
        query: dict[str, str] | None = None
        if params:
            url, query = with_query(url, encode_params(params))
        headers = self._headers
        body: bytes | None = None
        if json is not None:
            try:
                body = msgspec.json.encode(json)
            except (msgspec.EncodeError, TypeError) as exc:
                raise TypeError(f"{method} {path}: the JSON body cannot be encoded: {exc}") from None
            headers = self._json_headers
        session = self._session_now() if self._session_now is not None else None
        if session is None:
            session = await self._session_factory()

        telemetry = self._telemetry
        retry = 0
        while True:
            slot = self._reserve_nowait() if self._reserve_nowait is not None else None
            if slot is None:
                slot = await self._reserve()
            waited = slot.waited
            if waited:
                limiter_waited(waited)
            started = time.perf_counter()
            # One HTTP exchange; aiohttp's exceptions become ours here and nowhere else. The slot
            # is stamped as the headers go out (StampingRequest or send_trace), and here at the
            # latest, whatever the outcome: no reservation outlives its attempt.
            failure: APIConnectionError | None = None
            sending = _SENDING.set(slot)
            try:
                async with session.request(
                    method,
                    url,
                    params=query,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    trace_request_ctx=slot,
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    # Only a refusal's Retry-After is read (429, 503): an answer is not a wait.
                    retry_after = None
                    if status != 200:
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = self._connection_failure(exc, method, path)
            finally:
                # Failed or cancelled, sent or not, or a session without send_trace (its answer is
                # read, so it left): counted from now at the latest.
                slot.sent()
                _SENDING.reset(sending)
            if failure is not None:
                if logger.isEnabledFor(logging.DEBUG):
                    _log(method, path, "error", started, retry, waited)
                if telemetry is not None:
                    elapsed = time.perf_counter() - started
                    telemetry.attempt(method, path, template, 0, elapsed, retry, waited, failure, None)
                if (idempotent or not failure.sent) and await self._retry.wait(retry + 1):
                    if telemetry is not None:
                        telemetry.retried(method, type(failure).__name__)
                    retry += 1
                    continue
                # Raised here, outside the except block: Python does not chain aiohttp's
                # exception (with the request's headers) as its __context__.
                raise failure
            if logger.isEnabledFor(logging.DEBUG):
                _log(method, path, status, started, retry, waited)
            if status == 200:
                try:
                    data: T = decode_answer(raw, response_type or object, method, path)
                except APIError as exc:
                    if telemetry is not None:
                        elapsed = time.perf_counter() - started
                        code = exc.code if isinstance(exc, APIResponseError) else None
                        telemetry.attempt(method, path, template, status, elapsed, retry, waited, exc, code)
                    raise
                if telemetry is not None:
                    elapsed = time.perf_counter() - started
                    telemetry.attempt(method, path, template, status, elapsed, retry, waited, None, None)
                return data if response_type is not None else None

            error = self._status_error(status, raw, retry_after, method, path)
            if telemetry is not None:
                elapsed = time.perf_counter() - started
                code = _envelope_code(raw)
                telemetry.attempt(method, path, template, status, elapsed, retry, waited, error, code)
            retryable = _IDEMPOTENT_RETRY_STATUSES if idempotent else _CREATE_RETRY_STATUSES
            # The server says the key is over its quota: hold every caller, not just this one.
            pause = self._limiter.pause if status == 429 else None
            if status not in retryable or not await self._retry.wait(retry + 1, retry_after, pause=pause):
                raise error
            if telemetry is not None:
                telemetry.retried(method, str(status))
            retry += 1

    def _connection_failure(self, exc: BaseException, method: str, path: str) -> APIConnectionError:
        """The typed error for an exchange aiohttp could not complete, its cause scrubbed of secrets."""
        error: APIConnectionError
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            error = APITimeoutError("timed out connecting", method=method, path=path, sent=False)
        elif isinstance(exc, aiohttp.ClientConnectorError):
            error = APIConnectionError(
                f"could not connect: {exc.os_error}", method=method, path=path, sent=False
            )
        elif isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
            error = APITimeoutError("timed out waiting for the answer", method=method, path=path)
        else:
            error = APIConnectionError(
                f"connection failed: {type(exc).__name__}: {exc}", method=method, path=path
            )
        return chain_scrubbed(error, exc, secrets=self._secrets)

    @staticmethod
    def _status_error(
        status: int, raw: bytes, retry_after: float | None, method: str, path: str
    ) -> APIStatusError:
        cls = error_for_status(status)
        body = _snippet(raw)
        reason = _status_reason(raw)
        if cls is RateLimitError:
            return RateLimitError(reason, method=method, path=path, body=body, retry_after=retry_after)
        return cls(reason, method=method, path=path, status=status, body=body)


def _log(method: str, path: str, status: int | str, started: float, retry: int, waited: float) -> None:
    """The DEBUG line of one attempt (the caller checks that DEBUG is on: no call per attempt otherwise)."""
    logger.debug(
        "%s %s -> %s in %.3fs (attempt %d, limiter wait %.3fs)",
        method,
        path,
        status,
        time.perf_counter() - started,
        retry + 1,
        waited,
    )


def decode_answer(raw: bytes, response_type: Any, method: str, path: str) -> Any:
    """The ``data`` of an HTTP 200 answer decoded as ``response_type``, or the typed error it means.

    A non-OK code raises its ``APIResponseError``; anything that is not the envelope
    with that type (bad JSON, wrong shape, nesting past msgspec's depth guard, null
    data where data is needed) raises ``APIDecodeError`` naming the field and place.
    """
    try:
        envelope = _decoder_for(response_type).decode(raw)
    except _UNDECODABLE as exc:
        # An error answer may carry `data` of another shape: look at its code first.
        try:
            head = _CODE_DECODER.decode(raw)
        except _UNDECODABLE:
            raise _decode_error(
                f"answer is not the expected JSON envelope ({exc})", raw, method, path
            ) from exc
        if head.code.upper() != "OK":
            raise _code_error(head.code, head.message, method, path) from None
        expected = _type_name(response_type)
        raise _decode_error(f"answer's data does not match {expected} ({exc})", raw, method, path) from exc
    if envelope.code.upper() != "OK":
        raise _code_error(envelope.code, envelope.message, method, path)
    if envelope.data is None and not _may_be_null(response_type):
        expected = _type_name(response_type)
        raise _decode_error(f"answer's data is null, expected {expected}", raw, method, path)
    return envelope.data


def _may_be_null(response_type: Any) -> bool:
    """Whether ``data: null`` is an answer of this type: ``Any``/``object``, or a type that admits None.

    A method whose answer may be empty says so in its type (``Dataset | None``).
    """
    return response_type in _NULLABLE or type(None) in get_args(response_type)


def _decode_error(message: str, raw: bytes, method: str, path: str) -> APIDecodeError:
    """The exception for an answer that is not the JSON the endpoint promises."""
    return APIDecodeError(message, method=method, path=path, body=_snippet(raw))


def _code_error(code: str, message: str | None, method: str, path: str) -> APIResponseError:
    """The exception for a non-OK envelope code; a URL the server's message quotes shows no signature."""
    return error_for_code(code)(redact_text(message or ""), method=method, path=path, code=code)


def _envelope_code(raw: bytes) -> str | None:
    """The envelope code of a non-200 answer that has one (``TOO_MANY_REQUESTS``), else None."""
    try:
        return _CODE_DECODER.decode(raw).code
    except _UNDECODABLE:
        return None


def _status_reason(raw: bytes) -> str:
    """A short reason from a non-200 body: its envelope message if it has one."""
    try:
        head = _CODE_DECODER.decode(raw)
    except _UNDECODABLE:
        return ""
    return redact_text(f"{head.code}: {head.message}") if head.message else head.code


def _type_name(tp: Any) -> str:
    """``list[Dataset]``, ``Page[DataItem]``: generic aliases keep their arguments in error messages."""
    args = get_args(tp)
    name = getattr(get_origin(tp) or tp, "__name__", None) or repr(tp)
    return f"{name}[{', '.join(_type_name(a) for a in args)}]" if args else name
