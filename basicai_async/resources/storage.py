"""``client.storage``: pre-signed URLs to upload files to object storage."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import APIDecodeError
from .._validate import check_file_size, check_name
from ..models import PresignedUpload, PresignRequest
from ._base import Resource, check_models

__all__ = ["Storage"]

_PRESIGN_PATH = "/storage/batchGeneratePreSignedUploadUrl"


def _check_request(name: str, file: PresignRequest) -> None:
    check_name(f"{name}.filename", file.filename)
    size = file.size
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{name}.size must be an int number of bytes, got {type(size).__name__}")
    if size < 1:
        raise ValueError(f"{name}.size must be at least 1 byte, got {size}")
    check_file_size(file.filename, size)


class Storage(Resource):
    """Ask for the URLs that files are PUT to before they are registered as data."""

    __slots__ = ()

    async def presign_uploads(self, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        """One pre-signed upload URL per file, in order (``POST /storage/batchGeneratePreSignedUploadUrl``).

        Each ``size`` must be 1 byte to 1 GiB; a larger file raises
        ``FileTooLargeError`` before any call. PUT the bytes to
        ``pre_signed_url`` (without the API key), then register the file with
        ``client.data.add``. Retried like an idempotent call (5xx, dropped
        connections, truncated answers): pre-signing creates nothing a retry
        could duplicate, and the URLs of a lost answer simply expire unused.

        Example::

            [upload] = await client.storage.presign_uploads([PresignRequest(filename="a.jpg", size=1234)])
        """
        body = check_models("files", files, PresignRequest, _check_request)
        result = await self._pipeline.request(
            "POST", _PRESIGN_PATH, json=body, response_type=list[PresignedUpload], idempotent=True
        )
        if len(result) != len(body):
            # A URL matched to the wrong file would upload bytes under another name.
            raise APIDecodeError(
                f"asked for {len(body)} upload URLs, got {len(result)}", method="POST", path=_PRESIGN_PATH
            )
        return result
