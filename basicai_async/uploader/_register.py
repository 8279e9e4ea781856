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
  with a wrong number of items: by the rule of :mod:`basicai_async._exactly_once`
  (shared with ``datasets.create``) the files are looked up in the target
  (:mod:`._reconcile`, at ``target.parent_id``) one backoff step later; those
  found are registered, the rest (certainly not registered, since the call is
  all or none) are registered again. A look-up that fails leaves the files
  ``maybe_registered``, never plain failed;
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
from .._exactly_once import Unsettled, create_once
from .._halves import in_halves
from .._http import is_ambiguous
from .._manifest import ManifestStatus
from .._sources import UploadSource
from ..models import DataItem, FileRef, NewData
from ._reconcile import find_registered
from ._report import UploadResult
from ._run import RunAborted, UploadRun

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

Uploaded = Sequence[tuple[UploadSource, UploadResult]]


class _CountMismatch(UploadError):
    """``batchAddData`` answered another number of items than files sent: treated as ambiguous."""


def _ambiguous(exc: BaseException) -> bool:
    # Never guess which file an answer belongs to: look them up instead.
    return isinstance(exc, _CountMismatch) or is_ambiguous(exc)


async def register(run: UploadRun, uploaded: Uploaded) -> None:
    """Register PUT files; every result ends registered, failed or maybe registered.

    A batch refused for one file is split in halves (:func:`~basicai_async._halves.in_halves`)
    until the refused file fails alone.
    """
    await in_halves(
        uploaded,
        lambda part: _register_part(run, part),
        refused=PER_FILE_REFUSALS,
        alone=lambda file, exc: run.fail(file[0], file[1], "register", exc),
    )


async def _register_part(run: UploadRun, part: Uploaded) -> None:
    """Register ``part`` exactly once (:func:`~basicai_async._exactly_once.create_once`).

    A per-file refusal of all of ``part`` propagates, for :func:`register` to halve.
    """
    pending = list(part)
    # The high-water mark each call is sent with: whatever it creates lies past it (``_highwater``).
    sent: int | None = None

    async def add() -> list[DataItem]:
        nonlocal sent
        if run.aborted is not None:
            raise RunAborted(run.aborted)
        sent = run.high_water.mark
        run.journal_files(pending, ManifestStatus.REGISTERING, after=sent)
        created = await run.client.data.add_many(run.dataset_id, [_new_data(run, s, r) for s, r in pending])
        if len(created) != len(pending):
            raise _CountMismatch(
                f"batchAddData answered {len(created)} items for {len(pending)} files",
                filename=pending[0][0].name,
                stage="register",
            )
        return created

    async def look_up() -> list[DataItem] | None:
        found = await find_registered(
            run.client.items,
            run.target,
            [(source.name, result.path) for source, result in pending],
            after=sent,
            high_water=run.high_water,
        )
        for index, (source, result) in enumerate(pending):
            if index in found:
                run.registered(source, result, found[index])
        # Looked up and not there: certainly not registered (the call is all or none), safe to send again.
        pending[:] = [file for index, file in enumerate(pending) if index not in found]
        return [] if not pending else None

    try:
        created = await create_once(add, look_up, retry=run.retry, ambiguous=_ambiguous)
    except RunAborted as exc:
        for source, result in pending:
            run.fail(source, result, "aborted", exc.reason)
        return
    except TARGET_REFUSALS as exc:
        run.abort(exc)
        for source, result in pending:
            run.fail(source, result, "register", exc)
        return
    except PER_FILE_REFUSALS:
        if len(pending) == len(part):
            raise
        # A later round, some files already found: halve only those still to register.
        await register(run, pending)
        return
    except Unsettled as unsettled:
        for source, result in pending:
            run.maybe(source, result, unsettled.error)
        return
    except BasicAIError as exc:
        for source, result in pending:
            run.fail(source, result, "register", exc)
        return
    if created:
        ids = [item.id for item in created]
        run.high_water.answered(sent, ids)
        run.batch_registered(len(created))
        run.registered_many(pending, ids)


def _new_data(run: UploadRun, source: UploadSource, result: UploadResult) -> NewData:
    ref = FileRef(
        path=run.register_path(result),
        size=source.size,
        mime_type=source.mime_type,
        device_name=source.device_name,
    )
    return NewData(name=source.name, files=[ref], batch_id=run.batch_id, scene_id=run.scene_id)
