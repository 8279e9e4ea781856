"""One batch of up to 100 files: pre-sign together, PUT concurrently, register together."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from .._errors import BasicAIError, UploadError
from .._sources import UploadSource
from ._put import PutFailed, put_file
from ._register import TARGET_REFUSALS, register
from ._report import UploadResult
from ._run import UploadRun
from ._urls import BatchUrls

__all__ = ["run_batch"]


async def run_batch(run: UploadRun, batch: Sequence[tuple[UploadSource, UploadResult]]) -> None:
    """Pre-sign, PUT and register one batch; a refused pre-sign fails the whole batch."""
    if run.aborted is not None:
        for _, result in batch:
            run.fail(result, "aborted", run.aborted)
        return
    try:
        uploads = await run.presign([s for s, _ in batch])
    except BasicAIError as exc:
        if isinstance(exc, TARGET_REFUSALS):
            run.abort(exc)
        for _, result in batch:
            run.fail(result, "presign", exc)
        return
    urls = BatchUrls(run, [s for s, _ in batch], uploads)
    uploaded: list[tuple[UploadSource, UploadResult]] = []
    async with anyio.create_task_group() as tg:
        for source, result in batch:
            tg.start_soon(_put_one, run, source, result, urls, uploaded)
    if uploaded:
        await register(run, uploaded)


async def _put_one(
    run: UploadRun,
    source: UploadSource,
    result: UploadResult,
    urls: BatchUrls,
    uploaded: list[tuple[UploadSource, UploadResult]],
) -> None:
    async with run.put_slots:
        if run.aborted is not None:
            # The target was refused as a whole: no PUT of this file could be registered.
            run.fail(result, "aborted", run.aborted)
            return
        try:
            upload, renewed = await urls.take(source)
            upload = await put_file(run, source, upload, renewed=renewed)
        except PutFailed as exc:
            # Users get the public error type, never the PUT's private one.
            failed = UploadError(str(exc), filename=source.name, stage="put")
            failed.__cause__ = exc.__cause__
            run.fail(result, "put", failed)
            return
        except BasicAIError as exc:
            # The only API call inside a PUT is renewing its URL.
            run.fail(result, "presign", exc)
            return
        except OSError as exc:
            run.fail(result, "put", exc)
            return
    result.path = upload.path or upload.pre_signed_url.split("?", 1)[0]
    uploaded.append((source, result))
