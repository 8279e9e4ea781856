"""Pre-signed upload URLs."""

from __future__ import annotations

from datetime import datetime

from ._base import Model, RequestModel

__all__ = ["PresignRequest", "PresignedUpload"]


class PresignRequest(RequestModel):
    """One element of the ``/storage/batchGeneratePreSignedUploadUrl`` body."""

    filename: str
    size: int
    device_name: str | None = None


class PresignedUpload(Model):
    """Where to PUT one file: ``pre_signed_url``; ``path`` to register it under, when given."""

    pre_signed_url: str
    path: str | None = None
    filename: str | None = None
    expires_at: datetime | None = None
