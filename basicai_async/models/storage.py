"""Pre-signed upload URLs.

The answer comes as ``{preSignedUrl, ...}`` or, in the Xtreme1 form, as
``{presignedUrl, accessUrl}``; ``accessUrl`` is the path storage wants
registered, and need not be the signed URL minus its query: BasicAI's platform
answers with an ``accessUrl`` that is itself a signed URL (on the store's
internal host, with ``X-Amz-Signature=...``). It is registered exactly as
received and, like the PUT URL, never shown: a repr prints both without
their query (``redact_url``), and upload results and manifests hold
:attr:`PresignedUpload.display_path`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl, urlsplit

import msgspec

from .._redact import redact_url
from ._base import Model, RequestModel

__all__ = ["PresignRequest", "PresignedUpload", "expiry_of"]


def expiry_of(url: str) -> datetime | None:
    """When a pre-signed URL expires, read from its standard query parameters, if it has them.

    S3 SigV4 (and MinIO, GCS): ``X-Amz-Date`` plus ``X-Amz-Expires`` seconds (``X-Goog-*``);
    S3 SigV2 and Aliyun OSS: ``Expires``, in epoch seconds.
    """
    query = _query(urlsplit(url).query)
    try:
        for vendor in ("X-Amz-", "X-Goog-"):
            start, seconds = query.get(vendor + "Date"), query.get(vendor + "Expires")
            if start is not None and seconds is not None:
                signed_at = datetime.strptime(start, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
                return signed_at + timedelta(seconds=int(seconds))
        if "Expires" in query:
            return datetime.fromtimestamp(int(query["Expires"]), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _query(query: str) -> dict[str, str]:
    """``dict(parse_qsl(query))``, without its cost when nothing in ``query`` is encoded.

    Every pre-signed URL of a batch is read here (a few µs a file with ``parse_qsl``):
    with no ``%`` or ``+`` to decode, splitting the pairs gives exactly what it gives.
    """
    if "%" in query or "+" in query:
        return dict(parse_qsl(query))
    params: dict[str, str] = {}
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value:  # parse_qsl drops a pair with no "=" and one with an empty value
            params[name] = value
    return params


class PresignRequest(RequestModel):
    """One element of the ``/storage/batchGeneratePreSignedUploadUrl`` body."""

    filename: str
    size: int
    device_name: str | None = None


class PresignedUpload(Model):
    """Where to PUT one file (``pre_signed_url``) and what to register afterwards (:attr:`register_path`).

    ``pre_signed_url`` is read from ``preSignedUrl`` or ``presignedUrl``; an
    answer with neither fails to decode. ``access_url`` (or ``path``) is what
    the server says to register, when it says. ``expires_at`` is the answer's,
    else read off the signed URL (:func:`expiry_of`), so that stale URLs are
    renewed before their PUT whichever form the answer took.
    """

    if TYPE_CHECKING:
        pre_signed_url: str
    else:
        # Optional for the decoder only: __post_init__ fills it from the other spelling or refuses.
        pre_signed_url: str | None = None
    access_url: str | None = None
    path: str | None = None
    filename: str | None = None
    expires_at: datetime | None = None
    _presigned_url: str | None = msgspec.field(default=None, name="presignedUrl")

    def __post_init__(self) -> None:
        if cast("str | None", self.pre_signed_url) is None:
            if self._presigned_url is None:
                raise ValueError("pre-signed upload has neither `preSignedUrl` nor `presignedUrl`")
            self.pre_signed_url = self._presigned_url
        self._presigned_url = None
        if self.expires_at is None:
            self.expires_at = expiry_of(self.pre_signed_url)

    def __repr__(self) -> str:
        # The signature in the query is a credential: never in a repr, so never in a log line.
        # URLs are shown by the one display rule (``access_url`` may be signed too).
        fields = [f"pre_signed_url={redact_url(self.pre_signed_url)!r}"]
        for name in ("access_url", "path", "filename", "expires_at"):
            value = getattr(self, name)
            if value is not None:
                shown = redact_url(value) if name in ("access_url", "path") else value
                fields.append(f"{name}={shown!r}")
        return f"PresignedUpload({', '.join(fields)})"

    @property
    def register_path(self) -> str:
        """The path to register the upload under, exactly as the answer gave it.

        ``access_url`` when the answer has one (a signed URL included: the server
        checks it whole), else ``path``, else the signed URL without its query.
        It may hold a signature: what is shown or recorded is :attr:`display_path`.
        """
        return self.access_url or self.path or self.pre_signed_url.split("?", 1)[0]

    @property
    def display_path(self) -> str:
        """:attr:`register_path` for display: scheme, host and path, without the query a signature sits in.

        What upload results, manifests and log lines hold: it still names the
        object (host and path), which is what the uploader matches a data item's
        files against when it looks up what a failed registration did.
        """
        return redact_url(self.register_path)
