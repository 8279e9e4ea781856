"""Handler of ``/storage/batchGeneratePreSignedUploadUrl``: pre-signed PUT URLs on the emulator's store."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from .._constants import MAX_PRESIGNED_SIZE
from ._bodies import PresignBody
from ._context import context, reply
from ._wire import MAX_IDS, ApiError, Code, decode_body

__all__ = ["routes"]

routes = web.RouteTableDef()

_BAD_NAME_CHARS = frozenset('/\\?#%"<>\x00')


def _check_filename(name: str) -> str:
    if not name.strip() or name in (".", "..") or any(ch in _BAD_NAME_CHARS or ord(ch) < 32 for ch in name):
        raise ApiError(Code.ILLEGAL_PARAM, f"filename {name!r} is empty or has characters a key cannot hold")
    return name


@routes.post("/storage/batchGeneratePreSignedUploadUrl")
async def presign(request: web.Request) -> web.Response:
    """Body: ``[{"filename", "size", "deviceName"?}]``; data: one pre-signed upload each, in order."""
    body = await decode_body(request, list[PresignBody])
    if len(body) > MAX_IDS:
        raise ApiError(Code.ILLEGAL_PARAM, f"at most {MAX_IDS} files per call, got {len(body)}")
    for one in body:
        _check_filename(one.filename)
        if not 0 <= one.size <= MAX_PRESIGNED_SIZE:
            raise ApiError(
                Code.ILLEGAL_PARAM, f"size of {one.filename} must be 0 to {MAX_PRESIGNED_SIZE} bytes"
            )
    store = context(request).store
    # From the Host header, so the URLs work under whatever name the client used.
    origin = URL.build(scheme=request.scheme, authority=request.host)
    dialect = context(request).dialect
    return reply(
        request, [dialect.presigned(store.presign_put(origin, one.filename, one.size)) for one in body]
    )
