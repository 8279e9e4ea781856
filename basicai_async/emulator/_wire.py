"""The emulator's side of the wire: the envelope, business errors and parameter parsing.

Every handler answers through ``_context.reply`` or raises :class:`ApiError`; the app's
middleware turns the error into the documented HTTP 200 envelope. Parsing
helpers raise ``ILLEGAL_PARAM`` / ``ILLEGAL_FORMAT`` so that no bad input can
reach the state as a Python exception (and so never as a 500).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from aiohttp import web

from .._constants import MAX_IDS, MAX_PAGE_SIZE, EnvelopeCode

__all__ = [
    "MAX_IDS",
    "MAX_PAGE",
    "ApiError",
    "Code",
    "decode_body",
    "envelope_bytes",
    "http_error",
    "path_id",
    "query_bool",
    "query_id_list",
    "query_int",
    "raw",
]

T = TypeVar("T")

MAX_PAGE = MAX_PAGE_SIZE

_encoder = msgspec.json.Encoder()


Code = EnvelopeCode


class ApiError(Exception):
    """A business error: answered as HTTP ``status`` (200 unless auth) with ``code``.

    ``code`` is the guide's name; a dialect may write another
    (``Dialect.error_code``), ``platform_code`` when the platform's name for
    this very case is more precise than its name for the guide's code.
    """

    def __init__(
        self, code: str, message: str, status: int = 200, *, platform_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.platform_code = platform_code


def envelope_bytes(code: str, message: str | None, data: Any) -> bytes:
    """The JSON envelope ``{"code", "message", "data"}`` as bytes."""
    return _encoder.encode({"code": code, "message": message, "data": data})


def raw(data: Any) -> msgspec.Raw:
    """``data`` encoded once, to be embedded as is in later answers."""
    return msgspec.Raw(_encoder.encode(data))


def http_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A non-200 answer; it still carries an envelope-like JSON body for humans."""
    return web.Response(
        status=status,
        body=envelope_bytes(code, message, None),
        content_type="application/json",
        headers=headers,
    )


async def decode_body(request: web.Request, type_: type[T]) -> T:
    """Read the JSON body and convert it to ``type_`` (strict: no str-to-int coercion)."""
    raw = await request.read()
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError(Code.ILLEGAL_FORMAT, f"malformed JSON body: {exc}") from exc
    try:
        return msgspec.convert(obj, type_)
    except msgspec.ValidationError as exc:
        raise ApiError(Code.ILLEGAL_PARAM, f"invalid body: {exc}") from exc


def _parse_int(name: str, raw: str) -> int:
    # int() accepts "+1", " 1" and "1_000"; the server wants plain digits.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ApiError(Code.ILLEGAL_PARAM, f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def path_id(request: web.Request, name: str) -> int:
    """The integer id in the path segment ``{name}``."""
    return _parse_int(name, request.match_info[name])


def query_int(request: web.Request, name: str, default: int | None, low: int, high: int | None) -> int | None:
    """An optional integer query parameter within ``[low, high]``."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    value = _parse_int(name, raw)
    if value < low or (high is not None and value > high):
        bound = f"{low}-{high}" if high is not None else f">= {low}"
        raise ApiError(Code.ILLEGAL_PARAM, f"{name} must be in {bound}, got {value}")
    return value


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """An optional ``true``/``false`` query parameter."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ApiError(Code.ILLEGAL_PARAM, f"{name} must be true or false, got {raw!r}")
    return lowered == "true"


def query_id_list(request: web.Request, name: str) -> list[int]:
    """A required comma-separated id list of 1..MAX_IDS ids (order kept)."""
    raw = request.query.get(name)
    if raw is None or raw.strip() == "":
        raise ApiError(Code.ILLEGAL_PARAM, f"{name} is required")
    ids = [_parse_int(name, part.strip()) for part in raw.split(",")]
    if len(ids) > MAX_IDS:
        raise ApiError(Code.ILLEGAL_PARAM, f"at most {MAX_IDS} ids in {name}, got {len(ids)}")
    return ids
