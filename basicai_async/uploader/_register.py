"""Registration: ``batchAddData`` per batch, reconciled after an ambiguous failure.

How each answer is handled:

- the items: every file is registered;
- a refusal of a file (``FILE_FORMAT_NOT_SUPPORTED``, ``ILLEGAL_PARAM``,
  ``ILLEGAL_FORMAT``, ``RESOURCE_DUPLICATED``): the call is all or none, so the
  batch is split in halves until the refused file fails alone;
- a refusal of the target as a whole (the dataset, batch or scene not found,
  401, 403, a 404 path, an expired licence): no file can succeed, so the run is
  aborted (:meth:`UploadRun.abort`): these files fail with the refusal and every
  file not yet sent fails at ``aborted``, without a further call;
- an ambiguous failure (:func:`~basicai_async._http.is_ambiguous`), or an answer
  with a wrong number of items: the files are looked up in the target
  (:mod:`._reconcile`); those found are registered, the rest (certainly not
  registered, since the call is all or none) are registered again. A look-up
  that fails leaves the files ``maybe_registered``, never plain failed;
- any other refusal: these files fail at ``register``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import (
    AuthenticationError,
    BasicAIError,
    FileFormatNotSupportedError,
    IllegalFormatError,
    IllegalParamError,
    LicenseExpiredError,
    NotFoundError,
    PermissionDeniedError,
    ResourceDuplicatedError,
    ResourceNotFoundError,
    UploadError,
)
from .._http import is_ambiguous
from .._manifest import ManifestStatus
from .._sources import UploadSource
from ..models import FileRef, NewData
from ._reconcile import find_registered
from ._report import UploadResult
from ._run import UploadRun

__all__ = ["PER_FILE_REFUSALS", "TARGET_REFUSALS", "register"]

PER_FILE_REFUSALS = (
    FileFormatNotSupportedError,
    IllegalParamError,
    IllegalFormatError,
    ResourceDuplicatedError,
)
"""Refusals that name one file of a batch: the batch is halved until it fails alone."""

TARGET_REFUSALS = (
    ResourceNotFoundError,
    LicenseExpiredError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
)
"""Refusals of the dataset, batch or scene as a whole: the run stops."""

_ROUNDS = 3
"""Registrations of one batch after ambiguous failures whose look-up found nothing."""

Uploaded = Sequence[tuple[UploadSource, UploadResult]]


async def register(run: UploadRun, uploaded: Uploaded, *, rounds: int = 0) -> None:
    """Register PUT files; every result ends registered, failed or maybe registered."""
    if run.aborted is not None:
        for _, result in uploaded:
            run.fail(result, "aborted", run.aborted)
        return
    # The mark before the call: whatever the call creates lies past it (if ids ascend, see ``_highwater``).
    sent = run.high_water.mark
    run.journal_files(uploaded, ManifestStatus.REGISTERING, after=run.high_water.after(sent))
    try:
        created = await run.client.data.add_many(run.dataset_id, [_new_data(run, s, r) for s, r in uploaded])
    except TARGET_REFUSALS as exc:
        run.abort(exc)
        for _, result in uploaded:
            run.fail(result, "register", exc)
        return
    except PER_FILE_REFUSALS as exc:
        if len(uploaded) > 1:
            half = len(uploaded) // 2
            await register(run, uploaded[:half])
            await register(run, uploaded[half:])
            return
        run.fail(uploaded[0][1], "register", exc)
        return
    except BasicAIError as exc:
        if is_ambiguous(exc):
            await _reconcile(run, uploaded, exc, rounds, sent)
        else:
            for _, result in uploaded:
                run.fail(result, "register", exc)
        return
    if len(created) != len(uploaded):
        # Never guess which file an answer belongs to: look them up instead.
        mismatch = UploadError(
            f"batchAddData answered {len(created)} items for {len(uploaded)} files",
            filename=uploaded[0][0].name,
            stage="register",
        )
        await _reconcile(run, uploaded, mismatch, rounds, sent)
        return
    ids = [item.id for item in created]
    run.high_water.answered(sent, ids)
    run.batch_registered(len(created))
    run.registered_many(uploaded, ids)


async def _reconcile(
    run: UploadRun, uploaded: Uploaded, exc: BaseException, rounds: int, sent: int | None
) -> None:
    """Look the files up after an ambiguous failure; register again only those certainly not there."""
    # A moment for a server still finishing the call (a timeout) before its result is looked for:
    # one backoff step, also when the PUTs' policy allows no retries (``wait`` would return at once).
    await run.retry.sleep(run.retry.backoff(1, run.retry.random()))
    try:
        found = await find_registered(
            run.client.items,
            run.target,
            [(source.name, result.path) for source, result in uploaded],
            after=run.high_water.after(sent),
            high_water=run.high_water,
        )
    except BasicAIError:
        for _, result in uploaded:
            run.maybe(result, exc)
        return
    rest = []
    for index, (source, result) in enumerate(uploaded):
        data_id = found.get(index)
        if data_id is None:
            rest.append((source, result))
        else:
            run.registered(source, result, data_id)
    if not rest:
        return
    if rounds + 1 >= _ROUNDS:
        # Looked up and not there: certainly not registered, safe to upload again.
        for _, result in rest:
            run.fail(result, "register", exc)
        return
    await register(run, rest, rounds=rounds + 1)


def _new_data(run: UploadRun, source: UploadSource, result: UploadResult) -> NewData:
    ref = FileRef(
        path=result.path or "",
        size=source.size,
        mime_type=source.mime_type,
        device_name=source.device_name,
    )
    return NewData(name=source.name, files=[ref], batch_id=run.batch_id, scene_id=run.scene_id)
