"""The emulator's object store: pre-signed, expiring PUT/GET URLs on files under a directory.

It behaves like S3 where clients can tell the difference: a bad or expired
signature is 403, a PUT without ``Content-Length`` is 411 and a chunked one 501
(S3 does not take ``Transfer-Encoding: chunked``), a PUT that also carries an
``Authorization`` header is 400 (only one auth mechanism at a time), and a body
whose size differs from the signed one is 400. Errors have S3's XML body.
Bodies are streamed to disk in chunks, never held whole in memory; an object
exists only once its last byte is written (written to a temporary file, then
renamed), so a half-uploaded file can never be registered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import anyio
from aiohttp import web
from yarl import URL

from ._faults import STORE_ENDPOINT, Faults, drop_connection

__all__ = ["STORE_PREFIX", "ObjectStore", "PresignedPut", "StoredObject"]

STORE_PREFIX = "/_store"
"""Where the object store is served, outside ``/api/v1``, auth and rate limits."""

_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One uploaded object: its key, size and file on disk."""

    key: str
    size: int
    file: Path


@dataclass(frozen=True, slots=True)
class PresignedPut:
    """A pre-signed upload: the signed PUT URL, and the URL to register the object under."""

    signed_url: str
    access_url: str
    filename: str
    expires_at: datetime


def _s3_error(status: int, code: str, message: str, resource: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{uuid.uuid4().hex[:16]}</RequestId></Error>"
    )
    response = web.Response(status=status, text=body, content_type="application/xml")
    # The body of a refused PUT may still be on the wire; S3 closes too.
    response.force_close()
    return response


class ObjectStore:
    """Objects on disk under ``root``, reachable through HMAC-signed URLs valid ``ttl`` seconds."""

    def __init__(
        self,
        root: Path,
        secret: bytes,
        ttl: float,
        faults: Faults,
        access_prefix: str = STORE_PREFIX,
        *,
        signed_access: bool = False,
    ) -> None:
        self.root = root
        self.access_prefix = access_prefix
        """The path prefix of the URLs objects are registered under (the PUT URLs use ``STORE_PREFIX``)."""
        self.signed_access = signed_access
        """Whether the URL to register is itself signed (as BasicAI's platform's ``accessUrl`` is).

        Then only that exact URL registers its object (:meth:`registrable`): one
        stripped of its query or with its signature redacted is refused.
        """
        self._issued: dict[str, str] = {}
        self.ttl = ttl
        """Seconds a new pre-signed URL stays valid (0 = already expired); change it any time."""
        self._secret = secret
        self._faults = faults
        self.objects: dict[str, StoredObject] = {}

    # -- signing ----------------------------------------------------------------

    def _sign(self, method: str, key: str, size: int | None, expires: int) -> str:
        message = f"{method}\n{key}\n{'' if size is None else size}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def presign_put(self, origin: URL, filename: str, size: int) -> PresignedPut:
        """A pre-signed upload of ``size`` bytes named ``filename``."""
        key = f"{uuid.uuid4().hex}/{filename}"
        # Whole epoch seconds, as S3's and OSS's `Expires`: clients can read the expiry off the URL.
        expires = int(time.time() + self.ttl)
        url = origin.with_path(f"{STORE_PREFIX}/{key}")
        query = {
            "Expires": str(expires),
            "Size": str(size),
            "Signature": self._sign("PUT", key, size, expires),
        }
        access = origin.with_path(f"{self.access_prefix}/{key}")
        if self.signed_access:
            access = access.with_query(self._access_query(key))
            self._issued[key] = str(access)
        return PresignedPut(
            signed_url=str(url.with_query(query)),
            access_url=str(access),
            filename=filename,
            expires_at=datetime.fromtimestamp(expires, timezone.utc),
        )

    def _access_query(self, key: str) -> dict[str, str]:
        # S3 SigV4's parameters, as the platform's MinIO writes them on its accessUrl (a week's GET).
        now = datetime.now(timezone.utc)
        return {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"emulator/{now:%Y%m%d}/us-east-1/s3/aws4_request",
            "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
            "X-Amz-Expires": "604800",
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._sign("ACCESS", key, None, int(now.timestamp())),
        }

    def registrable(self, path: str) -> StoredObject | None:
        """The uploaded object ``path`` may register, if any: with signed access, only its exact URL."""
        found = self.lookup(path)
        if found is None or not self.signed_access:
            return found
        return found if self._issued.get(found.key) == path else None

    def presign_get(self, path: str, ttl: float | None = None) -> str:
        """A signed GET URL for an object given by its registered URL."""
        url = URL(path)
        key = self.key_of(path)
        if key is not None:
            url = url.with_path(f"{STORE_PREFIX}/{key}")
        expires = int(time.time() + (self.ttl if ttl is None else ttl))
        query = {"Expires": str(expires), "Signature": self._sign("GET", key or "", None, expires)}
        return str(url.with_query(query))

    def key_of(self, path: str) -> str | None:
        """The object key in a registered URL (or path), or None when it is not one of ours."""
        try:
            url_path = URL(path).path
        except (ValueError, TypeError):
            return None
        prefix = self.access_prefix + "/"
        if url_path.startswith(prefix):
            return url_path[len(prefix) :]
        # The platform lists a registered file's `path` as the object's key alone.
        return path if path in self.objects else None

    def lookup(self, path: str) -> StoredObject | None:
        """The uploaded object at ``path`` (an object URL), if any."""
        key = self.key_of(path)
        return None if key is None else self.objects.get(key)

    def read(self, path: str) -> bytes:
        """The bytes of an uploaded object (for tests); KeyError if there is none."""
        found = self.lookup(path)
        if found is None:
            raise KeyError(path)
        return found.file.read_bytes()

    def _check_signature(self, request: web.Request, key: str, size: int | None) -> web.Response | None:
        query = request.query
        resource = f"{STORE_PREFIX}/{key}"
        expires, signature = query.get("Expires", ""), query.get("Signature", "")
        if not expires.isdigit() or not signature:
            return _s3_error(403, "AccessDenied", "Query-string authentication is required", resource)
        if size is not None and query.get("Size") != str(size):
            return _s3_error(403, "SignatureDoesNotMatch", "The signed size does not match", resource)
        expected = self._sign(request.method, key, size, int(expires))
        if not hmac.compare_digest(expected, signature):
            message = "The request signature we calculated does not match the signature you provided"
            return _s3_error(403, "SignatureDoesNotMatch", message, resource)
        if time.time() >= int(expires):
            return _s3_error(403, "AccessDenied", "Request has expired", resource)
        return None

    # -- HTTP -------------------------------------------------------------------

    async def handle_put(self, request: web.Request) -> web.StreamResponse:
        """``PUT /_store/{key}``: store the body if the pre-signed URL allows it."""
        key = request.match_info["key"]
        resource = f"{STORE_PREFIX}/{key}"
        fault = self._faults.decide(STORE_ENDPOINT)
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.kind == "drop_before":
            return drop_connection(request)
        if fault.kind in ("error", "rate_limit"):
            status = fault.status or 503
            code = "SlowDown" if status == 503 else "InternalError"
            return _s3_error(status, code, "injected fault", resource)
        if "Authorization" in request.headers:
            message = "Only one auth mechanism allowed; the query signature or the Authorization header"
            return _s3_error(400, "InvalidArgument", message, resource)
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            message = "A header you provided implies functionality that is not implemented"
            return _s3_error(501, "NotImplemented", message + " (Transfer-Encoding)", resource)
        length = request.content_length
        if length is None:
            return _s3_error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header.", resource
            )
        size_param = request.query.get("Size", "")
        if not size_param.isdigit():
            return _s3_error(403, "AccessDenied", "Query-string authentication is required", resource)
        refused = self._check_signature(request, key, int(size_param))
        if refused is not None:
            return refused
        if length != int(size_param):
            code = "EntityTooLarge" if length > int(size_param) else "EntityTooSmall"
            message = f"Content-Length {length} differs from the pre-signed size {size_param}"
            return _s3_error(400, code, message, resource)
        stored = await self._write(request, key, length)
        if stored is None:
            return _s3_error(
                400, "IncompleteBody", "You did not provide the number of bytes specified", resource
            )
        if fault.kind == "drop_after":
            return drop_connection(request)
        return web.Response(status=200, headers={"ETag": f'"{stored}"'})

    async def _write(self, request: web.Request, key: str, length: int) -> str | None:
        """Stream the body to disk; the object's MD5 hex, or None if the body fell short."""
        final = self.root / uuid.uuid4().hex
        partial = final.with_suffix(".part")
        digest = hashlib.md5(usedforsecurity=False)
        written = 0
        try:
            async with await anyio.open_file(partial, "wb") as out:
                async for chunk in request.content.iter_chunked(_CHUNK):
                    digest.update(chunk)
                    written += len(chunk)
                    await out.write(chunk)
        except (ConnectionError, OSError):
            written = -1
        if written != length:
            partial.unlink(missing_ok=True)
            return None
        os.replace(partial, final)
        previous = self.objects.get(key)
        self.objects[key] = StoredObject(key, length, final)
        if previous is not None:
            previous.file.unlink(missing_ok=True)
        return digest.hexdigest()

    async def handle_get(self, request: web.Request) -> web.StreamResponse:
        """``GET /_store/{key}`` with a signed GET URL: the object's bytes, streamed."""
        key = request.match_info["key"]
        refused = self._check_signature(request, key, None)
        if refused is not None:
            return refused
        found = self.objects.get(key)
        if found is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.", f"{STORE_PREFIX}/{key}")
        return web.FileResponse(found.file, headers={"Content-Type": "application/octet-stream"})
