"""Redaction of credentials: pre-signed query strings and the API key, wherever text can carry them.

A pre-signed URL is a credential: whoever holds its query string may write (or
read) the object until it expires. aiohttp and yarl quote URLs in their
messages and reprs, re-encoded their own way (``%2F`` becomes ``/``), so an
exact-string replacement of the URL we sent misses them. Redaction here works
on the *parameters* instead: every ``name=value`` pair whose name, once
percent-decoded (any number of times) and folded to lower case without ``-``
and ``_``, is a signing parameter has its value replaced by ``REDACTED``. The
separators may themselves be percent-encoded (a URL inside another URL's
query), so ``%3F``/``%26``/``%3D`` and their double encodings count too.

What stays readable: scheme, host, path and the parameters that are not
signing ones, so an error still says which object failed.

The helpers, one rule each (every module redacts through these, none by hand):

- :func:`redact_text`: the per-parameter scrubber, for any text (a message, a
  repr, a log line) that may quote a URL or a key;
- :func:`redact_url`: one URL *for display* (a repr, a message naming the URL):
  scheme, host, port and path kept; credentials, fragment and the whole query
  (where pre-signed URLs keep their signature, under names no list can know
  in advance) dropped;
- :func:`query_secrets`: a URL's query string as a secret, for ``secrets=`` of
  the scrubber when text may quote that URL (a storage PUT's aiohttp errors);
- :func:`scrub_exception`: an exception and its ``__cause__``/``__context__``
  chain, rewritten in place where that is safe, otherwise replaced by
  :class:`RedactedException` carrying only the redacted text;
- :func:`chain_scrubbed`: our own error, its message redacted, chained to a
  scrubbed copy of a third-party exception (raise it outside the ``except``).

Redaction is idempotent: redacting redacted text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

E = TypeVar("E", bound=BaseException)

__all__ = [
    "REDACTED",
    "RedactedException",
    "chain_scrubbed",
    "query_secrets",
    "redact_text",
    "redact_url",
    "scrub_exception",
]

REDACTED = "REDACTED"
"""What a secret value is replaced with."""

# Signing parameters, folded (lower case, no '-' or '_'). Long names are redacted
# wherever they appear as name=value; the short Azure ones only right after a query
# separator, where they cannot be an ordinary word of a message.
_LONG_NAMES = frozenset(
    {
        "signature",
        "credential",
        "securitytoken",
        "expires",
        "awsaccesskeyid",
        "ossaccesskeyid",
        "policy",
        "keypairid",
        "accesstoken",
        "token",
        "googleaccessid",
        "qsignature",
        "qak",
        "qkeytime",
        "qsigntime",
        "skoid",
        "sktid",
        "skt",
        "ske",
        "sks",
        "skv",
        "apikey",
    }
)
_SHORT_NAMES = frozenset({"sig", "se", "sv", "st", "sp", "sr", "spr", "ss", "srt", "si"})
_PREFIXES = ("xamz", "xgoog", "xoss", "xcos", "xms", "xobs")

# A query separator, plain or percent-encoded once or more (%3F ?, %26 &, %3B ;).
_QSEP = r"[?&;]|%(?:25)*(?:3[Ff]|26|3[Bb])"
# An encoded character a parameter name can hold: a letter, a digit, '-', '.' or '_'
# (never an encoded separator, or a name would swallow the URL before it).
_ENC = r"%(?:25)*(?:2[DEde]|5[Ff]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa])"
_PAIR = re.compile(
    r"(?P<sep>" + _QSEP + r"|(?<![A-Za-z0-9_.%-]))"
    r"(?P<name>(?:[A-Za-z0-9_.\-]|" + _ENC + r")+)"
    r"(?P<eq>=|%(?:25)*3[Dd])"
    # The value ends where the query ends: a separator (plain or encoded), a quote,
    # whitespace, a bracket or a comma (header lists such as AWS's Authorization).
    r"(?P<value>(?:(?!%(?:25)*(?:26|23|3[Bb]|3[Ff]|2[02]|27))[^?&#;\s'\"<>()\[\]{},])*)"
)
# A URL redact_url would give back as it is: a lower-case http(s) scheme, and no credentials,
# query, fragment, brackets or characters urlsplit strips.
_PLAIN_URL = re.compile(r"https?://[^?#@\[\]\s]*\Z")
# The API key: in an Authorization header value ("ApiKey xyz"), quoted or not.
_KEY_HEADER = re.compile(r"(?i)\b(ApiKey|Bearer)(\s+|%20|\+)(?!" + REDACTED + r"\b)[^\s'\",;}&)\]>]+")


def _fold(name: str) -> str:
    for _ in range(4):
        decoded = unquote(name)
        if decoded == name:
            break
        name = decoded
    return name.lower().replace("-", "").replace("_", "")


def _is_signing(name: str, after_separator: bool) -> bool:
    folded = _fold(name)
    if folded in _LONG_NAMES or folded.startswith(_PREFIXES):
        return True
    return after_separator and folded in _SHORT_NAMES


def _redact_pair(match: re.Match[str]) -> str:
    sep, name = match["sep"], match["name"]
    if not match["value"] or not _is_signing(name, after_separator=bool(sep)):
        return match[0]
    return f"{sep}{name}{match['eq']}{REDACTED}"


def _secret_forms(secret: str) -> set[str]:
    """A secret as text may carry it: raw, percent-encoded (fully or as a URL would), twice."""
    once = quote(secret, safe="")
    return {secret, once, quote(secret), quote(once, safe="")} - {""}


def redact_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with every signing parameter's value, ``ApiKey``/``Bearer`` token and ``secrets`` replaced.

    Example::

        >>> redact_text("PUT https://s3/b/k?X-Amz-Signature=abc&x=1 failed")
        'PUT https://s3/b/k?X-Amz-Signature=REDACTED&x=1 failed'
    """
    if not secrets and "=" not in text and "%" not in text:
        # Neither pattern can match (a pair needs "=" or its encoding, a key its header word):
        # the common case of an object path shown in every file's result, at a fraction of the cost.
        lower = text.lower()
        if "apikey" not in lower and "bearer" not in lower:
            return text
    # Longest first: a short secret inside a longer encoded form must not leave its tail.
    for form in sorted({f for s in secrets if s for f in _secret_forms(s)}, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    text = _KEY_HEADER.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return _PAIR.sub(_redact_pair, text)


def redact_url(url: object) -> str:
    """``url`` for display: scheme, host, port and path; no credentials, fragment or query.

    The query goes as a whole: a pre-signed URL's signature may sit under any
    parameter name. ``url`` may be a ``str`` or a ``yarl.URL``;
    text that is no URL at all comes back as ``<unparsable URL>``.

    Example::

        >>> redact_url("https://user:pw@bucket.s3/k.jpg?Expires=1&Signature=c2ln#x")
        'https://bucket.s3/k.jpg'
    """
    if isinstance(url, str) and _PLAIN_URL.match(url):
        # Nothing to drop (no credentials, query or fragment): what urlsplit would give back,
        # without its cost (an object path is shown in every file's result).
        return redact_text(url)
    try:
        parts = urlsplit(str(url))
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "<unparsable URL>"
    shown = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
    return redact_text(shown)


def query_secrets(url: str) -> tuple[str, ...]:
    """``url``'s query string, a secret as a whole whatever its parameters are called.

    For :func:`redact_text`'s ``secrets`` when text may quote the URL (and so its
    signature under a name the per-parameter rule does not know).
    """
    _, _, query = url.partition("?")
    query = query.partition("#")[0]
    return (query,) if query else ()


class RedactedException(Exception):
    """Stands in a scrubbed exception chain for an exception that could not be cleaned in place.

    ``original_type`` is the qualified name of the exception it replaces (e.g.
    ``aiohttp.client_exceptions.ClientResponseError``); its message is the
    original's ``str``, redacted. None of the original's attributes are kept:
    aiohttp's carry the request's headers (the API key) and URLs.
    """

    def __init__(self, message: str, *, original_type: str) -> None:
        super().__init__(message)
        self.original_type = original_type

    def __str__(self) -> str:
        return f"{self.original_type}: {self.args[0]}"

    @classmethod
    def standing_in(
        cls, exc: BaseException, message: str, *, secrets: Iterable[str] = ()
    ) -> RedactedException:
        """The stand-in for ``exc``: ``message`` (its text, or the part worth keeping) redacted."""
        kind = type(exc)
        return cls(
            redact_text(message, secrets=secrets), original_type=f"{kind.__module__}.{kind.__qualname__}"
        )


_PLAIN = (str, bytes, int, float, bool, type(None))


def _plain(value: object) -> bool:
    if isinstance(value, (tuple, list)):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def _clean(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return redact_text(value, secrets=secrets)
    if isinstance(value, (tuple, list)):
        return type(value)(_clean(v, secrets) for v in value)
    return value


def _rewrite(exc: BaseException, secrets: tuple[str, ...]) -> BaseException:
    """``exc`` cleaned in place if it holds only plain data, else a ``RedactedException`` for it."""
    attrs = vars(exc) if hasattr(exc, "__dict__") else {}
    if all(_plain(v) for k, v in attrs.items() if not k.startswith("__")) and all(
        _plain(a) for a in exc.args
    ):
        try:
            exc.args = tuple(_clean(a, secrets) for a in exc.args)
            for name, value in list(attrs.items()):
                if isinstance(value, (str, tuple, list)) and not name.startswith("__"):
                    setattr(exc, name, _clean(value, secrets))
            notes = getattr(exc, "__notes__", None)
            if isinstance(notes, list):
                exc.__notes__ = [redact_text(str(n), secrets=secrets) for n in notes]
            text, shown = str(exc), repr(exc)
        except Exception:
            pass
        else:
            if redact_text(text, secrets=secrets) == text and redact_text(shown, secrets=secrets) == shown:
                return exc
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    return RedactedException.standing_in(exc, message, secrets=secrets).with_traceback(exc.__traceback__)


def scrub_exception(exc: BaseException, *, secrets: Iterable[str] = ()) -> BaseException:
    """``exc`` with nothing secret left in it or in its ``__cause__``/``__context__`` chain.

    Each exception of the chain is cleaned in place when it holds only plain
    data (str, numbers, tuples of them) and its ``str`` and ``repr`` come out
    clean; any other (aiohttp's, with request info, headers and history) is
    replaced by a :class:`RedactedException` with the redacted message. Returns
    the head of the cleaned chain: ``exc`` itself when it could be cleaned in place.
    """
    keys = tuple(s for s in secrets if s)
    done: dict[int, BaseException] = {}

    def walk(one: BaseException) -> BaseException:
        if id(one) in done:
            return done[id(one)]
        new = _rewrite(one, keys)
        done[id(one)] = new
        cause, context = one.__cause__, one.__context__
        new.__cause__ = walk(cause) if cause is not None else None
        new.__context__ = walk(context) if context is not None else None
        new.__suppress_context__ = one.__suppress_context__
        return new

    return walk(exc)


def chain_scrubbed(error: E, cause: BaseException, *, secrets: Iterable[str] = ()) -> E:
    """``error`` with its message redacted, chained to a scrubbed copy of ``cause``, and no context.

    The one way our errors wrap a third-party exception (aiohttp's carry the
    request's headers and URLs). Raise the result *outside* the ``except`` block
    that caught ``cause``: raised inside it, Python would chain the original as
    ``__context__`` again::

        try:
            ...
        except aiohttp.ClientError as exc:
            failure = chain_scrubbed(OurError(f"failed: {exc}"), exc, secrets=keys)
        raise failure
    """
    keys = tuple(s for s in secrets if s)
    error.args = tuple(redact_text(a, secrets=keys) if isinstance(a, str) else a for a in error.args)
    error.__cause__ = scrub_exception(cause, secrets=keys)
    error.__context__ = None
    return error
