"""The checks of one upload, all before its first request: the target's ids, then each source alone.

Arguments that are wrong for the whole upload (a dataset id of 0, -5 or
``"7"``) raise ``TypeError``/``ValueError`` at once. A source that cannot be
uploaded (missing, unreadable, a directory, empty, a name that is not UTF-8,
over 1 GB, a name already given) never raises: it becomes that file's result,
failed at ``validate``, and its neighbours go on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .._errors import FileTooLargeError, InvalidSourceError
from .._sources import UploadSource, check_path, check_source, display_name
from .._validate import check_file_size, check_id
from ._report import UploadResult

__all__ = ["check_sources", "check_target"]

Source = UploadSource | str | os.PathLike[str] | InvalidSourceError
"""What a source iterable may hold: a source, a path, or the reason an item could not be one
(``url_sources`` yields that for a URL it cannot read, so the file fails alone)."""


def check_target(dataset_id: object, batch_id: object, scene_id: object) -> None:
    """Raise ``TypeError``/``ValueError`` for an id that no request should carry."""
    check_id("dataset_id", dataset_id)
    if batch_id is not None:
        check_id("batch_id", batch_id)
    if scene_id is not None:
        check_id("scene_id", scene_id)


def check_sources(
    sources: Iterable[Source],
) -> tuple[list[UploadResult], list[tuple[UploadSource, UploadResult]]]:
    """Every source's result, in order, and the sources that passed with theirs.

    Blocking (stat and open of each path): run it in a worker thread.
    """
    results: list[UploadResult] = []
    todo: list[tuple[UploadSource, UploadResult]] = []
    seen: set[str] = set()
    for item in sources:
        source, result = _check_one(item, seen)
        results.append(result)
        if source is not None:
            todo.append((source, result))
    return results, todo


def _check_one(item: object, seen: set[str]) -> tuple[UploadSource | None, UploadResult]:
    if isinstance(item, UploadSource):
        checked: UploadSource | InvalidSourceError = check_source(item) or item
    elif isinstance(item, InvalidSourceError):
        checked = item
    elif isinstance(item, (str, os.PathLike)):
        checked = check_path(item)
    else:
        shown = display_name(repr(item))
        checked = InvalidSourceError(
            f"{shown} is not a path or an UploadSource", filename=shown, reason="not_a_file"
        )
    if isinstance(checked, InvalidSourceError):
        size = item.size if isinstance(item, UploadSource) else 0
        return None, _failed(UploadResult(checked.filename, size), checked)
    result = UploadResult(checked.name, checked.size)
    try:
        check_file_size(checked.name, checked.size)
    except FileTooLargeError as too_large:
        return None, _failed(result, too_large)
    if checked.name in seen:
        result.stage, result.error = "validate", f"duplicate file name {checked.name!r} in this upload"
        return None, result
    seen.add(checked.name)
    return checked, result


def _failed(result: UploadResult, exc: Exception) -> UploadResult:
    result.stage, result.error, result.exception = "validate", str(exc), exc
    return result
