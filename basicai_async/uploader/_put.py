"""The storage PUT of one file: streamed, renewed when its URL is refused, retried on 5xx.

PUTs go to object storage, not the API, so this module is the edge where
aiohttp's errors of a PUT become ``PutFailed`` (and then the public
``UploadError``). Its retries take their delays from the client's
``RetryPolicy``, honouring storage's ``Retry-After`` (S3 sends one with
``503 SlowDown``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from .._constants import BODY_SNIPPET
from .._retry import parse_retry_after
from .._sources import UploadSource
from ..models import PresignedUpload
from ._run import UploadRun

__all__ = ["PutFailed", "put_file"]


class PutFailed(Exception):
    """A PUT failed; ``retryable`` for 5xx and dropped connections, ``refused`` for a 403."""

    def __init__(
        self, message: str, *, retryable: bool, refused: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.refused = refused
        self.retry_after = retry_after


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
        sent = 0
        read_error: BaseException | None = None

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent, read_error
            try:
                async for chunk in source.open():
                    sent += len(chunk)
                    run.progress.advanced(len(chunk))
                    yield chunk
            except Exception as exc:
                read_error = exc
                raise

        try:
            await _put_once(run, source, upload.pre_signed_url, body())
            return upload
        except PutFailed as exc:
            run.progress.advanced(-sent)
            if read_error is not None:
                # aiohttp reports a failing body as a connection error; it is a local
                # one (file gone, unreadable stream) that a retry would only repeat.
                message = f"cannot read {source.name}: {type(read_error).__name__}: {read_error}"
                raise PutFailed(message, retryable=False) from read_error
            if exc.refused and not renewed:
                # Storage refused the signature (expired in flight, clock skew): one fresh URL.
                (upload,) = await run.presign([source])
                renewed = True
                continue
            if not exc.retryable or not await run.retry.wait(retry + 1, exc.retry_after):
                raise
            retry += 1


async def _put_once(run: UploadRun, source: UploadSource, url: str, body: AsyncIterator[bytes]) -> None:
    # Explicit Content-Length keeps aiohttp from chunked encoding, which S3 refuses;
    # only these two headers go to storage, never the API key.
    headers = {"Content-Length": str(source.size), "Content-Type": source.mime_type}
    try:
        async with run.session.put(url, data=body, headers=headers, timeout=run.put_timeout) as resp:
            text = (await resp.read())[:BODY_SNIPPET].decode("utf-8", errors="replace")
            status = resp.status
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    except (aiohttp.ClientError, TimeoutError) as exc:
        # aiohttp's messages quote the URL; its signature is a credential, keep it out.
        reason = str(exc).replace(url, url.split("?", 1)[0])
        raise PutFailed(f"PUT failed: {type(exc).__name__}: {reason}", retryable=True) from exc
    if 200 <= status < 300:
        return
    raise PutFailed(
        f"storage answered HTTP {status}: {text}",
        retryable=status >= 500,
        refused=status == 403,
        retry_after=retry_after,
    )
