"""The two dialects the emulator speaks: how its records are written as plain JSON.

``guide`` writes the shapes of API.md's main section (the SDK's default
expectation). ``xtreme1`` writes the variants BasicAI's open-source platform is
known to send (API.md, "Variants the real server may send"): ``code: "ok"``,
nulls written out, ``version`` as a string, objects under ``objects``,
``type: SINGLE_DATA`` instead of ``itemType``, a data item's files in a
``content`` tree of folders (``type: directory``, named after the sensor) whose
leaves hold ``{@type, id, name, originalName, path (the object's key), type
(the MIME type), size, url, extraInfo, thumbnails}``, class ids as strings,
``classValues`` as ``null`` or ``{}``, ``presignedUrl`` with an ``accessUrl``
that is itself a signed URL (registered only exactly as sent), the platform's
error code names (``DATASET_NOT_FOUND``, ``PARAM_ERROR``, ...), updates
answered with ``data: null``, ``total`` on every page and ``list: null`` on an
empty one. The shapes follow answers the platform's own classes wrote
(``tests/fixtures/evidence/xtreme1-jackson``).

Everything here builds dicts and lists by hand, never through the SDK's
models: the emulator is a second opinion on the wire format, not a mirror.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from .._constants import EnvelopeCode, PlatformCode
from ._bodies import FileBody
from ._state import TOP, DatasetRec, FileInfo, ItemRec, SourceRec
from ._store import PresignedPut
from ._views import ResultRec
from ._wire import ApiError

__all__ = ["DIALECTS", "Dialect", "GuideDialect", "Xtreme1Dialect", "dialect_named"]

JSON = dict[str, Any]


def _info(rec: ItemRec, index: int) -> FileInfo | None:
    return rec.infos[index] if index < len(rec.infos) else None


def _parent(rec: ItemRec) -> int | None:
    return None if rec.parent_id == TOP else rec.parent_id


class Dialect:
    """The ``guide`` dialect (API.md's main section); subclasses override what differs."""

    name = "guide"
    ok_code = "OK"
    ok_message: str | None = ""
    # Where a registered file lives; the store accepts registrations under this prefix only.
    access_prefix = "/_store"
    # Whether the URL to register is itself signed (and must be registered exactly as sent).
    signed_access = False

    def error_code(self, error: ApiError) -> str:
        """The envelope code this dialect writes for ``error``."""
        return error.code

    def changed_dataset(self, rec: DatasetRec) -> JSON | None:
        """The ``data`` of an update or replace answer: the dataset as changed."""
        return self.dataset(rec)

    def dataset(self, rec: DatasetRec) -> JSON:
        """A dataset."""
        out: JSON = {"id": rec.id, "name": rec.name, "type": rec.type}
        if rec.description is not None:
            out["description"] = rec.description
        out.update(createdAt=rec.created_at, updatedAt=rec.updated_at, itemCount=rec.data_count)
        return out

    def file(self, rec: ItemRec, index: int) -> JSON:
        """File ``index`` of a data item."""
        file = rec.files[index]
        out: JSON = {"path": file.path, "size": file.size, "mimeType": file.mime_type}
        if file.device_name is not None:
            out["deviceName"] = file.device_name
        info = _info(rec, index)
        if info is not None:
            # A signed URL to read it, as BasicAI's export answers carry; no size: clients read the header.
            out["url"] = info.url
        return out

    def _files(self, rec: ItemRec) -> list[JSON]:
        return [self.file(rec, index) for index in range(len(rec.files))]

    def data(self, rec: ItemRec) -> JSON:
        """A data item with its files."""
        out: JSON = {"id": rec.id, "name": rec.name, "type": "SINGLE_DATA", "datasetId": rec.dataset_id}
        if _parent(rec) is not None:
            out["parentId"] = _parent(rec)
        out.update(files=self._files(rec), createdAt=rec.created_at)
        return out

    def scene(self, rec: ItemRec, frames: list[ItemRec]) -> JSON:
        """A scene with its frames."""
        out: JSON = {"id": rec.id, "name": rec.name, "datasetId": rec.dataset_id}
        if rec.batch_id is not None:
            out["batchId"] = rec.batch_id
        out.update(frames=[self.data(frame) for frame in frames], createdAt=rec.created_at)
        return out

    def batch(self, rec: ItemRec) -> JSON:
        """A batch."""
        return {"id": rec.id, "name": rec.name, "datasetId": rec.dataset_id, "createdAt": rec.created_at}

    def item(self, rec: ItemRec) -> JSON:
        """A listItem entry (files for data only)."""
        out: JSON = {"id": rec.id, "name": rec.name, "itemType": rec.kind}
        if _parent(rec) is not None:
            out["parentId"] = _parent(rec)
        if rec.kind == "DATA":
            out["files"] = self._files(rec)
        out["createdAt"] = rec.created_at
        return out

    def source(self, rec: SourceRec) -> JSON:
        """An annotation source."""
        return {"id": rec.id, "type": rec.type, "name": rec.name}

    def result(self, rec: ResultRec) -> JSON:
        """The results of one data item from one source."""
        instances = [
            {
                "id": one.id,
                "type": one.shape,
                "trackId": one.track_id,
                "trackName": one.track_name,
                "classId": one.class_id,
                "className": one.class_name,
                "classValues": [{"id": "occluded", "value": one.occluded}],
                "contour": one.contour,
            }
            for one in rec.instances
        ]
        return {
            "version": 1,
            "dataId": rec.data.id,
            "sourceId": rec.source.id,
            "sourceType": rec.source.type,
            "sourceName": rec.source.name,
            "validity": "VALID",
            "classificationValues": [{"id": "weather", "value": rec.weather}],
            "instances": instances,
        }

    def page(self, entries: list[Any], total: int, page_no: int, page_size: int) -> JSON:
        """One ``pageNo``/``pageSize`` page: ``total`` on page 1 only."""
        out: JSON = {"list": entries}
        if page_no == 1:
            out["total"] = total
        return out

    def id_page(self, entries: list[Any]) -> JSON:
        """One ``lastId``/``limit`` step."""
        return {"list": entries}

    def presigned(self, put: PresignedPut) -> JSON:
        """One pre-sign answer."""
        return {
            "preSignedUrl": put.signed_url,
            "path": put.access_url,
            "filename": put.filename,
            "expiresAt": put.expires_at,
        }


GuideDialect = Dialect

# The platform's names for the guide's codes (its UsecaseCode), each of the same meaning.
_PLATFORM_CODES = {
    EnvelopeCode.RESOURCE_NOT_FOUND: PlatformCode.NOT_FOUND,
    EnvelopeCode.RESOURCE_DUPLICATED: PlatformCode.DUPLICATED,
    EnvelopeCode.NAME_DUPLICATED: PlatformCode.DATASET_NAME_DUPLICATED,
    EnvelopeCode.ILLEGAL_PARAM: PlatformCode.PARAM_ERROR,
    EnvelopeCode.ILLEGAL_FORMAT: PlatformCode.DATASET_DATA_FILE_FORMAT_ERROR,
    EnvelopeCode.FILE_FORMAT_NOT_SUPPORTED: PlatformCode.FILE_TYPE_NOT_SUPPORT,
}


def _folder(file: FileBody) -> str:
    """The folder a file sits in: its device, else the platform's usual name for its kind."""
    if file.device_name:
        return file.device_name
    mime = file.mime_type.lower()
    if mime.startswith("image/"):
        return "image_0"
    if mime == "application/json":
        return "camera_config"
    return "lidar_point_cloud_0"


def _millis(when: datetime) -> str:
    # Jackson's usual ISO form: milliseconds and a literal Z.
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class Xtreme1Dialect(Dialect):
    """The variants column of API.md: BasicAI's open-source platform's shapes."""

    name = "xtreme1"
    ok_code = "ok"
    ok_message = None
    access_prefix = "/_files"

    def dataset(self, rec: DatasetRec) -> JSON:
        """A DatasetDTO: counts and ``createdBy``, every null written out."""
        return {
            "id": rec.id,
            "name": rec.name,
            "type": rec.type,
            "description": rec.description,
            "createdBy": 1,
            "createdAt": _millis(rec.created_at),
            "updatedAt": _millis(rec.updated_at),
            "itemCount": rec.data_count,
            "annotatedCount": rec.data_count,
            "notAnnotatedCount": 0,
            "invalidCount": 0,
        }

    signed_access = True

    def error_code(self, error: ApiError) -> str:
        """The platform's name: its own for this very case, else the one for the guide's code."""
        return error.platform_code or _PLATFORM_CODES.get(error.code, error.code)

    def changed_dataset(self, rec: DatasetRec) -> JSON | None:
        """The platform answers its updates with no data."""
        return None

    def file(self, rec: ItemRec, index: int) -> JSON:
        """A leaf of the content tree: the file (a FileBO) under ``file``, the MIME type under ``type``."""
        file = rec.files[index]
        name = PurePosixPath(urlsplit(file.path).path).name
        info = _info(rec, index)
        file_id = rec.id * 100 + index
        kind = (
            "imageFile"
            if file.mime_type.startswith("image/")
            else "pcdFile"
            if name.endswith(".pcd")
            else "file"
        )
        out: JSON = {
            "@type": kind,
            "id": file_id,
            "name": name,
            "originalName": name,
            "path": self._key(file.path),
            "zipPath": None,
            "type": file.mime_type,
            "size": file.size,
            "bucketName": "emulator",
            # As the platform's: a signed URL to read the file by.
            "url": file.path if info is None else info.url,
            # The platform's image files carry their size here.
            "extraInfo": None
            if info is None or info.size is None
            else {"width": info.size[0], "height": info.size[1]},
        }
        if kind == "imageFile":
            # Thumbnails hang off an image; they are not files of the item.
            thumb = f"thumb/large_{name}"
            out.update(
                largeThumbnail={
                    "@type": "file",
                    "id": -file_id,
                    "name": f"large_{name}",
                    "path": thumb,
                    "type": file.mime_type,
                    "size": 1,
                    "url": file.path,
                    "extraInfo": None,
                },
                mediumThumbnail=None,
                smallThumbnail=None,
            )
        return {"name": name, "fileId": file_id, "type": "file", "file": out}

    def _key(self, path: str) -> str:
        """A registered URL's object key (the platform lists a file's path that way), else the path."""
        url_path = urlsplit(path).path
        prefix = self.access_prefix + "/"
        return url_path[len(prefix) :] if url_path.startswith(prefix) else path

    def content(self, rec: ItemRec) -> list[JSON]:
        """A data item's files as the platform's tree: one folder per sensor, the files as its leaves."""
        folders: dict[str, list[JSON]] = {}
        for index, file in enumerate(rec.files):
            folders.setdefault(_folder(file), []).append(self.file(rec, index))
        return [{"name": name, "type": "directory", "files": leaves} for name, leaves in folders.items()]

    def data(self, rec: ItemRec) -> JSON:
        """A DataInfoDTO: its files in ``content``."""
        return {
            "id": rec.id,
            "datasetId": rec.dataset_id,
            "name": rec.name,
            "orderName": rec.name,
            "content": self.content(rec),
            "type": "SINGLE_DATA",
            "parentId": _parent(rec),
            "status": "VALID",
            "annotationStatus": "NOT_ANNOTATED",
            "splitType": None,
            "lockedBy": None,
            "createdAt": _millis(rec.created_at),
            "updatedAt": None,
        }

    def scene(self, rec: ItemRec, frames: list[ItemRec]) -> JSON:
        """A scene; ``frames`` is null when it has none."""
        return {
            "id": rec.id,
            "datasetId": rec.dataset_id,
            "name": rec.name,
            "type": "SCENE",
            "batchId": rec.batch_id,
            "frames": [self.data(frame) for frame in frames] or None,
            "createdAt": _millis(rec.created_at),
        }

    def batch(self, rec: ItemRec) -> JSON:
        """A batch, nulls written out."""
        return {
            "id": rec.id,
            "datasetId": rec.dataset_id,
            "name": rec.name,
            "description": None,
            "createdAt": _millis(rec.created_at),
        }

    def item(self, rec: ItemRec) -> JSON:
        """A listItem entry: ``type`` (``SINGLE_DATA``, ``SCENE``, ``BATCH``) for ``itemType``."""
        return {
            "id": rec.id,
            "datasetId": rec.dataset_id,
            "name": rec.name,
            "type": "SINGLE_DATA" if rec.kind == "DATA" else rec.kind,
            "parentId": _parent(rec),
            "content": self.content(rec) if rec.kind == "DATA" else [],
            "createdAt": _millis(rec.created_at),
        }

    def result(self, rec: ResultRec) -> JSON:
        """A DataResultExportBO: ``version`` a string, ``objects``, string class ids; a model's lists null."""
        by_model = rec.source.type == "MODEL"
        objects = []
        for k, one in enumerate(rec.instances):
            obj: JSON = {
                "id": one.id,
                "type": one.shape,
                "trackId": one.track_id,
                "trackName": one.track_name,
                "classId": str(one.class_id),
                "className": one.class_name,
                "contour": one.contour,
            }
            if by_model:
                obj.update(
                    classValues=None if k % 2 else {},
                    modelConfidence=one.confidence,
                    modelClass=one.class_name.upper(),
                )
            else:
                obj.update(classValues=[{"id": "occluded", "value": one.occluded}], modelConfidence=None)
            objects.append(obj)
        return {
            "version": "1.0",
            "dataId": rec.data.id,
            "sourceId": rec.source.id,
            "sourceType": rec.source.type,
            "sourceName": rec.source.name,
            "validity": "VALID",
            "classificationValues": None if by_model else [{"id": "weather", "value": rec.weather}],
            "objects": objects,
        }

    def page(self, entries: list[Any], total: int, page_no: int, page_size: int) -> JSON:
        """An Xtreme1 ``Page``: ``total`` every time, ``list`` null when empty."""
        return {"pageNo": page_no, "pageSize": page_size, "total": total, "list": entries or None}

    def id_page(self, entries: list[Any]) -> JSON:
        """One step; ``list`` null when empty."""
        return {"list": entries or None}

    def presigned(self, put: PresignedPut) -> JSON:
        """A PresignedUrlBO: ``presignedUrl`` and the ``accessUrl`` to register."""
        return {"presignedUrl": put.signed_url, "accessUrl": put.access_url}


DIALECTS: dict[str, type[Dialect]] = {"guide": GuideDialect, "xtreme1": Xtreme1Dialect}
"""The dialects by name (``Emulator(dialect=...)``, ``--dialect``)."""


def dialect_named(name: str) -> Dialect:
    """The dialect called ``name``; ValueError naming the choices otherwise."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ValueError(f"unknown emulator dialect {name!r}: choose one of {', '.join(DIALECTS)}") from None
