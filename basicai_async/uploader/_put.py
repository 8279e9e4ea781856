"""The storage PUT of one file: streamed, renewed when its URL is refused, retried on 5xx.

PUTs go to object storage, not the API, so this module is the edge where
aiohttp's errors of a PUT become ``PutFailed`` (and then the public
``UploadError``). Its retries take their delays from the client's
``RetryPolicy``, honouring storage's ``Retry-After`` (S3 sends one with
``503 SlowDown``).

The body is a :class:`~basicai_async._sources.SizedBody`: exactly the declared
size is sent, and a file that grew or shrank since it was checked fails with
``SourceChangedError`` at once (never stored truncated, never waiting out a
socket timeout). A pre-signed URL's signature never reaches a message: aiohttp's
messages are redacted parameter by parameter (it re-encodes the URL its own
way) and with the whole query as a secret (``query_secrets``), and its
exception is chained only as a scrubbed copy (``chain_scrubbed``).
"""

from __future__ import annotations

import time

import aiohttp

from .._constants import BODY_SNIPPET
from .._errors import BasicAIError, ObjectStoreError
from .._redact import chain_scrubbed, query_secrets, redact_text
from .._retry import parse_retry_after
from .._sources import SMALL_BODY, SizedBody, UploadSource
from ..models import PresignedUpload
from ..telemetry._events import BytesSent
from ._run import UploadRun

__all__ = ["PutFailed", "put_file"]


class PutFailed(Exception):
    """A PUT failed; ``retryable`` for 5xx and dropped connections, ``refused`` for a 403."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        refused: bool = False,
        retry_after: float | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.refused = refused
        self.retry_after = retry_after
        self.reason = reason
        """The status (``"503"``) or the error class: what telemetry counts a retry under."""


async def put_file(
    run: UploadRun, source: UploadSource, upload: PresignedUpload, *, renewed: bool = False
) -> PresignedUpload:
    """PUT one file, renewing its URL when stale or refused; returns the URL that took it.

    ``renewed`` says the URL was just issued again, so a refusal will not renew it once more.
    """
    retry = 0
    first = True
    while True:
        if not first and run.stale(upload):
            # A retry's backoff outlived the URL.
            (upload,) = await run.presign([source])
            renewed = True
        first = False
        body = SizedBody(source, on_chunk=run.bytes_counter())
        try:
            # A small body goes as one payload write instead of a stream of chunks: most of a small
            # file's CPU otherwise. Either way a failing read sets ``body.error``.
            data: bytes | SizedBody = body
            if source.size <= SMALL_BODY:
                # A file on disk or bytes in memory are read without a coroutine (``read_now``).
                now = body.read_now()
                data = now if now is not None else await body.read_all()
            await _put_once(run, source, upload.pre_signed_url, data)
            return upload
        except Exception as exc:
            if body.sent and run.on_event is not None:
                run.on_event(BytesSent(-body.sent))
            if body.error is not None:
                # The source's own failure (aiohttp reports a failing body as a connection error):
                # the file changed size, vanished or cannot be read, which a retry would repeat,
                # unless the source's object store failed for a moment: a retry re-opens the object.
                retryable = _transient(body.error)
                if not retryable or not await run.retry.wait(retry + 1):
                    raise PutFailed(_reason(source, body.error), retryable=retryable) from body.error
                if run.telemetry is not None:
                    run.telemetry.retried("PUT", type(body.error).__name__)
                retry += 1
                continue
            if not isinstance(exc, PutFailed):
                raise
            if exc.refused and not renewed:
                # Storage refused the signature (expired in flight, clock skew): one fresh URL.
                (upload,) = await run.presign([source])
                renewed = True
                continue
            if not exc.retryable or not await run.retry.wait(retry + 1, exc.retry_after):
                raise
            if run.telemetry is not None:
                run.telemetry.retried("PUT", exc.reason)
            retry += 1


def _transient(error: Exception) -> bool:
    """Whether a source's read error may pass: its object store was unreachable or failing."""
    return isinstance(error, ObjectStoreError) and error.transient


def _reason(source: UploadSource, error: Exception) -> str:
    if isinstance(error, BasicAIError):
        return str(error)
    return f"cannot read {source.name}: {type(error).__name__}: {error}"


async def _put_once(run: UploadRun, source: UploadSource, url: str, body: bytes | SizedBody) -> None:
    # Explicit Content-Length keeps aiohttp from chunked encoding, which S3 refuses;
    # only these two headers go to storage, never the API key.
    headers = {"Content-Length": str(source.size), "Content-Type": source.mime_type}
    started = time.perf_counter()
    status = 0
    try:
        timeout = run.small_put_timeout if isinstance(body, bytes) else run.put_timeout
        async with run.session.put(url, data=body, headers=headers, timeout=timeout) as resp:
            answer = await resp.read()
            status = resp.status
            if 200 <= status < 300:
                text, retry_after = "", None  # read only when it failed: this is every file's path
            else:
                text = answer[:BODY_SNIPPET].decode("utf-8", errors="replace")
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    except (aiohttp.ClientError, TimeoutError) as exc:
        failure = chain_scrubbed(
            PutFailed(f"PUT failed: {type(exc).__name__}: {exc}", retryable=True, reason=type(exc).__name__),
            exc,
            secrets=query_secrets(url),
        )
    else:
        if 200 <= status < 300:
            if run.telemetry is not None:
                run.telemetry.stored(url, status, time.perf_counter() - started, None)
            return
        failure = PutFailed(
            redact_text(f"storage answered HTTP {status}: {text}", secrets=query_secrets(url)),
            retryable=status >= 500,
            refused=status == 403,
            retry_after=retry_after,
            reason=str(status),
        )
    if run.telemetry is not None:
        run.telemetry.stored(url, status, time.perf_counter() - started, failure.reason)
    # Raised outside the except block, so aiohttp's exception is not chained as the context.
    raise failure
