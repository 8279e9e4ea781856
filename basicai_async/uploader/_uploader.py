"""``Uploader``: checks the sources, resumes from a manifest, and runs the batches of one upload."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterable, Iterable
from datetime import timedelta

import aiohttp
import anyio

from .._concurrency import DEFAULT_API_CONCURRENCY, check_api_concurrency
from .._manifest import Manifest, ManifestTarget
from .._manifest_db import ManifestStore, SqliteManifest, open_manifest
from .._shard import ShardSpec, as_shard, shard_sources, shard_sources_async
from ._batch import upload_batches
from ._checks import Source, check_target
from ._feed import batches
from ._report import NoProgress, ResultCallback, Tally, UploadProgress, UploadReport
from ._resume import settle_unsure
from ._run import UploadClient, UploadRun

__all__ = ["Uploader"]


class Uploader:
    """Uploads files into a dataset: pre-sign, PUT concurrently, register.

    Args:
        client: the client whose limiter, retries and session the API calls use.
        concurrency: PUTs in flight at once (default 16, sized for one machine).
        api_concurrency: API calls in flight at once (pre-signs, registrations,
            lookups; default 20, enough for BasicAI's 100 calls/s at 200 ms round
            trips). It only caps the calls outstanding: the client's rate limiter
            decides when each may go.
        put_retries: retries of one PUT after a 5xx or a connection error (with the
            client's ``RetryPolicy`` backoff).
        expiry_margin: a pre-signed URL expiring within this many seconds is renewed first.
        put_timeout: seconds one PUT may go without reading or writing a byte.
        progress: callbacks for progress display.
    """

    def __init__(
        self,
        client: UploadClient,
        *,
        concurrency: int = 16,
        put_retries: int = 3,
        expiry_margin: float = 30.0,
        put_timeout: float = 120.0,
        progress: UploadProgress | None = None,
        api_concurrency: int = DEFAULT_API_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if put_retries < 0:
            raise ValueError(f"put_retries must be >= 0, got {put_retries}")
        self._client = client
        self._concurrency = concurrency
        self._api_concurrency = check_api_concurrency(api_concurrency)
        self._retry = dataclasses.replace(client.retry, max_retries=put_retries)
        self._expiry_margin = timedelta(seconds=expiry_margin)
        self._put_timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=put_timeout)
        self._progress: UploadProgress = progress or NoProgress()

    async def upload(
        self,
        dataset_id: int,
        sources: Iterable[Source] | AsyncIterable[Source],
        *,
        batch_id: int | None = None,
        scene_id: int | None = None,
        manifest: str | os.PathLike[str] | Manifest | SqliteManifest | None = None,
        shard: ShardSpec | None = None,
        on_result: ResultCallback | None = None,
    ) -> UploadReport:
        """Upload and register every source into ``dataset_id`` (or one of its batches or scenes).

        Returns the run's report: for up to ``KEEP_RESULTS`` (10,000) files one
        result per source, in order; past that the counts and the files not
        registered, so memory stays flat however many files go (each result also
        goes to ``on_result`` as it is final, and to the manifest). Sources are
        taken lazily, a window at a time (``_feed``): a generator, a directory walk
        or a bucket listing of any length is never listed whole. Ids are checked before any request
        (``TypeError``/``ValueError``). A source that cannot be uploaded (missing,
        unreadable, a directory, empty, a name that is not UTF-8, over 1 GB, a
        duplicate name) fails alone at ``validate``, without any call.

        ``sources`` may be an async iterable (``object_sources("s3://bucket/prefix/")``).
        An item may also be an ``InvalidSourceError`` (what ``url_sources`` yields for
        a URL it cannot read): that file fails at ``validate``.

        ``shard=(i, n)`` (or ``Shard(i, n)``, ``"i/n"``) uploads only the sources whose
        name hashes to shard ``i`` of ``n`` (see ``Shard``): run ``n`` workers over the
        same sources, each with its own shard and manifest, to split one job.

        ``manifest`` is bound to this target (the client's base URL, the dataset and
        the batch or scene, and the shard): one written for another target raises
        ``ManifestMismatchError`` before any request. A path ending in ``.jsonl``
        keeps JSON lines (its records in memory); any other is an SQLite manifest
        (``SqliteManifest``: indexed, for millions of files), which adopts a
        JSON-lines manifest found at that path.

        ``on_result`` is called with each file's result as soon as it is final
        (registered, failed, maybe registered, or found done by the manifest).
        """
        check_target(dataset_id, batch_id, scene_id)
        part = as_shard(shard)
        target = ManifestTarget(
            base_url=self._client.base_url,
            dataset_id=dataset_id,
            batch_id=batch_id,
            scene_id=scene_id,
            shard=None if part is None else str(part),
        )
        journal: ManifestStore | None = None
        if isinstance(manifest, (Manifest, SqliteManifest)):
            manifest.bind(target)
            journal = manifest
        elif manifest:
            journal = open_manifest(manifest, target=target)
        if part is not None:
            sources = (
                shard_sources_async(sources, part)
                if isinstance(sources, AsyncIterable)
                else shard_sources(sources, part)
            )
        api_slots = anyio.Semaphore(self._api_concurrency)
        run = UploadRun(
            client=self._client,
            session=await self._client.http_session(),
            target=target,
            journal=journal,
            progress=self._progress,
            tally=Tally(self._progress, on_result),
            retry=self._retry,
            put_timeout=self._put_timeout,
            expiry_margin=self._expiry_margin,
            api_slots=api_slots,
        )
        try:
            if journal is not None:
                async with api_slots:  # its lookups go one call at a time
                    await settle_unsure(journal, self._client.items, target)
            await upload_batches(
                run,
                batches(run, sources),
                concurrency=self._concurrency,
                api_concurrency=self._api_concurrency,
            )
        finally:
            if journal is not None and manifest is not journal:
                journal.close()
        return run.tally.report()
