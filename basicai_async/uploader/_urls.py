"""One batch's pre-signed URLs, handed out as PUTs start and renewed together when stale."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import anyio

from .._sources import UploadSource
from ..models import PresignedUpload
from ._run import UploadRun

__all__ = ["BatchUrls"]


class BatchUrls:
    """One batch's pre-signed URLs, handed out as PUTs start and renewed together.

    PUTs wait for a free slot, so a URL can go stale before its turn. The first
    PUT to find its URL stale renews every stale URL still waiting in one call,
    rather than each file paying a call of its own. A URL is renewed here once at
    most: one that is stale again at once (a server clock far off) goes to its PUT,
    and storage's answer says what is wrong.
    """

    __slots__ = ("_fresh_until", "_lock", "_run", "_waiting")

    def __init__(
        self, run: UploadRun, sources: Sequence[UploadSource], uploads: Sequence[PresignedUpload]
    ) -> None:
        self._run = run
        self._waiting = {s.name: (s, u, False) for s, u in zip(sources, uploads, strict=True)}
        self._lock = anyio.Lock()
        # Until then no URL of the batch is stale: each PUT checks one float, not a datetime.
        expiries = [u.expires_at for u in uploads if u.expires_at is not None]
        self._fresh_until = (min(expiries) - run.expiry_margin).timestamp() if expiries else math.inf

    def take_now(self, source: UploadSource) -> tuple[PresignedUpload, bool] | None:
        """``take`` without a call: the URL while the batch's are all fresh, else None (call ``take``)."""
        if time.time() < self._fresh_until:
            _, upload, renewed = self._waiting.pop(source.name)
            return upload, renewed
        return None

    async def take(self, source: UploadSource) -> tuple[PresignedUpload, bool]:
        """The URL for ``source`` and whether it was renewed."""
        taken = self.take_now(source)
        if taken is not None:
            return taken
        stale = self._run.stale
        _, upload, renewed = self._waiting[source.name]
        if renewed or not stale(upload):
            # The common case takes no lock (anyio's yields to the loop on every acquire).
            del self._waiting[source.name]
            return upload, renewed
        async with self._lock:
            # Still listed while it waited: a renewal just before may have covered it.
            _, upload, renewed = self._waiting.pop(source.name)
            if renewed or not stale(upload):
                return upload, renewed
            others = [s for s, u, r in self._waiting.values() if not r and stale(u)]
            fresh = await self._run.presign([source, *others])
            for other, new in zip(others, fresh[1:], strict=True):
                self._waiting[other.name] = (other, new, True)
            return fresh[0], True
