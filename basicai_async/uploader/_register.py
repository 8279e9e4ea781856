"""Registration: ``batchAddData`` per batch, split in halves until a refused file fails alone."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import APIConnectionError, APIResponseError, BasicAIError, ServerError, UploadError
from .._manifest import ManifestEntry
from .._sources import UploadSource
from ..models import FileRef, NewData
from ._report import UploadResult
from ._run import UploadRun

__all__ = ["register"]


async def register(run: UploadRun, uploaded: Sequence[tuple[UploadSource, UploadResult]]) -> None:
    """Register PUT files in one call; every result ends registered or failed at ``register``."""
    items = [
        NewData(
            name=source.name,
            files=[
                FileRef(
                    path=result.path or "",
                    size=source.size,
                    mime_type=source.mime_type,
                    device_name=source.device_name,
                )
            ],
            batch_id=run.batch_id,
            scene_id=run.scene_id,
        )
        for source, result in uploaded
    ]
    for source, result in uploaded:
        run.record(ManifestEntry(name=source.name, size=source.size, status="registering", path=result.path))
    try:
        created = await run.client.data.add_many(run.dataset_id, items)
    except APIResponseError as exc:
        # The server refused the batch as a whole (batchAddData is all or none):
        # split it so one bad file (an unsupported format, say) fails alone.
        if len(uploaded) > 1:
            half = len(uploaded) // 2
            await register(run, uploaded[:half])
            await register(run, uploaded[half:])
            return
        run.fail(uploaded[0][1], "register", exc)
        return
    except BasicAIError as exc:
        # After an ambiguous failure the files may be registered: leave them
        # "registering" so a resumed run looks them up instead of adding twice.
        ambiguous = isinstance(exc, (APIConnectionError, ServerError))
        for _, result in uploaded:
            run.fail(result, "register", exc, journal=not ambiguous)
        return
    if len(created) != len(uploaded):
        # Never guess which file an answer belongs to: a mismatch fails the batch loudly.
        mismatch = UploadError(
            f"batchAddData answered {len(created)} items for {len(uploaded)} files",
            filename=uploaded[0][0].name,
            stage="register",
        )
        for _, result in uploaded:
            run.fail(result, "register", mismatch, journal=False)
        return
    for (source, result), item in zip(uploaded, created, strict=True):
        run.registered(source, result, item.id)
