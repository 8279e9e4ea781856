"""The emulator's in-memory world: datasets and the items (batches, scenes, data) inside them.

Ids come from counters that only grow, one for datasets and one shared by all
items of all datasets, so that ID-order traversal over a level that mixes
batches, scenes and data is a plain ascending walk. Every operation checks
everything first and mutates last: a call that fails leaves the state as it
was, which is what lets the emulator promise atomic batch calls.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import msgspec

from .._constants import DATASET_TYPES, PlatformCode
from ._bodies import FileBody
from ._wire import ApiError, Code

__all__ = [
    "DATASET_TYPES",
    "TOP",
    "DatasetRec",
    "FileInfo",
    "ItemRec",
    "NewDataRec",
    "SourceRec",
    "State",
    "check_name",
]

"""The dataset types the emulator accepts on create/update."""

TOP = 0
"""The parent key of a dataset's top level."""

_MAX_NAME = 255


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_name(name: str, what: str = "name") -> str:
    """A non-blank name of at most 255 characters, stripped."""
    stripped = name.strip()
    if not stripped:
        raise ApiError(Code.ILLEGAL_PARAM, f"{what} must not be empty")
    if len(stripped) > _MAX_NAME:
        raise ApiError(Code.ILLEGAL_PARAM, f"{what} is longer than {_MAX_NAME} characters")
    return stripped


@dataclass(frozen=True, slots=True)
class SourceRec:
    """One annotation source of a dataset."""

    id: int
    type: str
    name: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the store knows of a registered file: a signed GET URL, and an image's size from its header."""

    url: str
    size: tuple[int, int] | None


@dataclass(slots=True, eq=False)
class ItemRec:
    """One batch, scene or data item; ``parent_id`` is ``TOP`` at the top level."""

    id: int
    dataset_id: int
    kind: str
    name: str
    parent_id: int
    batch_id: int | None
    files: list[FileBody]
    created_at: datetime
    # Its listItem entry, encoded once: an item never changes after it is made, and
    # listings are the emulator's hottest path (a benchmark's server must not be its bottleneck).
    wire: msgspec.Raw | None = None
    # Per file, when it was registered through the API: its readable URL and image size.
    infos: tuple[FileInfo | None, ...] = ()

    def canvas(self) -> tuple[int, int] | None:
        """The size of the item's first image (from its bytes' header), if it has one."""
        return next((info.size for info in self.infos if info is not None and info.size), None)


@dataclass(slots=True, eq=False)
class DatasetRec:
    """One dataset, its team, and the tree of its items."""

    id: int
    team: str
    name: str
    type: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    sources: list[SourceRec]
    items: dict[int, ItemRec] = field(default_factory=dict)
    # parent id -> ascending child ids; ids only grow, so append keeps it sorted.
    children: dict[int, list[int]] = field(default_factory=dict)
    data_count: int = 0

    def level(self, parent_id: int) -> list[int]:
        """The ascending ids of the items directly under ``parent_id``."""
        return self.children.get(parent_id, [])

    def item(self, item_id: int, kind: str) -> ItemRec:
        """The item ``item_id`` of kind ``kind`` or RESOURCE_NOT_FOUND."""
        rec = self.items.get(item_id)
        if rec is None or rec.kind != kind:
            raise ApiError(
                Code.RESOURCE_NOT_FOUND,
                f"{kind.lower()} {item_id} not found in dataset {self.id}",
                platform_code=PlatformCode.DATA_NOT_FOUND if kind == "DATA" else None,
            )
        return rec


@dataclass(slots=True)
class NewDataRec:
    """A validated data item to add: its name, files and wanted parents."""

    name: str
    files: list[FileBody]
    batch_id: int | None = None
    scene_id: int | None = None
    infos: tuple[FileInfo | None, ...] = ()


class State:
    """Every team's datasets. Handlers check the team, then call these methods."""

    def __init__(self) -> None:
        self.datasets: dict[int, DatasetRec] = {}
        self._dataset_ids = itertools.count(1)
        self._item_ids = itertools.count(1)
        self._source_ids = itertools.count(1)

    # -- datasets -------------------------------------------------------------

    def dataset(self, team: str, dataset_id: int) -> DatasetRec:
        """The dataset, RESOURCE_NOT_FOUND if unknown, HTTP 403 if another team's."""
        rec = self.datasets.get(dataset_id)
        if rec is None:
            raise ApiError(
                Code.RESOURCE_NOT_FOUND,
                f"dataset {dataset_id} not found",
                platform_code=PlatformCode.DATASET_NOT_FOUND,
            )
        if rec.team != team:
            raise ApiError("FORBIDDEN", f"dataset {dataset_id} belongs to another team", status=403)
        return rec

    def datasets_of(self, team: str, ids: Sequence[int]) -> list[DatasetRec]:
        """Several datasets in the order asked; all must exist and be the team's."""
        return [self.dataset(team, dataset_id) for dataset_id in ids]

    def team_datasets(self, team: str) -> list[DatasetRec]:
        """The team's datasets in ascending id order."""
        return [rec for rec in self.datasets.values() if rec.team == team]

    def _check_unique(self, team: str, name: str, exclude: int | None = None) -> None:
        for rec in self.datasets.values():
            if rec.team == team and rec.name == name and rec.id != exclude:
                raise ApiError(Code.NAME_DUPLICATED, f"a dataset named {name!r} already exists")

    @staticmethod
    def _check_type(type_: str) -> str:
        if type_ not in DATASET_TYPES:
            raise ApiError(Code.ILLEGAL_PARAM, f"type must be one of {', '.join(DATASET_TYPES)}")
        return type_

    def create_dataset(self, team: str, name: str, type_: str, description: str | None) -> DatasetRec:
        """A new dataset with two annotation sources."""
        name = check_name(name)
        self._check_type(type_)
        self._check_unique(team, name)
        dataset_id = next(self._dataset_ids)
        now = _now()
        sources = [
            SourceRec(next(self._source_ids), "MODEL", "Emulator Model"),
            SourceRec(next(self._source_ids), "EXTERNAL_GROUND_TRUTH", "Ground Truth"),
        ]
        rec = DatasetRec(dataset_id, team, name, type_, description, now, now, sources)
        self.datasets[dataset_id] = rec
        return rec

    def update_dataset(
        self, rec: DatasetRec, name: str | None, type_: str | None, description: str | None, replace: bool
    ) -> DatasetRec:
        """Change a dataset; ``replace`` clears what is not given."""
        new_name = check_name(name) if name is not None else rec.name
        new_type = self._check_type(type_) if type_ is not None else rec.type
        self._check_unique(rec.team, new_name, exclude=rec.id)
        if new_type != rec.type and rec.data_count:
            raise ApiError(Code.OPERATION_FAILED, "the type of a dataset with data cannot change")
        rec.name, rec.type = new_name, new_type
        if replace or description is not None:
            rec.description = description
        rec.updated_at = _now()
        return rec

    def delete_datasets(self, recs: Iterable[DatasetRec]) -> None:
        """Delete datasets (already checked) and everything in them."""
        for rec in recs:
            self.datasets.pop(rec.id, None)

    # -- items ----------------------------------------------------------------

    def _insert(self, ds: DatasetRec, rec: ItemRec) -> None:
        ds.items[rec.id] = rec
        ds.children.setdefault(rec.parent_id, []).append(rec.id)
        if rec.kind == "DATA":
            ds.data_count += 1

    def _drop(self, ds: DatasetRec, rec: ItemRec) -> None:
        for child_id in list(ds.children.get(rec.id, [])):
            self._drop(ds, ds.items[child_id])
        ds.children.pop(rec.id, None)
        del ds.items[rec.id]
        siblings = ds.children[rec.parent_id]
        del siblings[bisect.bisect_left(siblings, rec.id)]
        if rec.kind == "DATA":
            ds.data_count -= 1

    def _parent_of(
        self, ds: DatasetRec, batch_id: int | None, scene_id: int | None
    ) -> tuple[int, int | None]:
        """(parent id, batch id) for an item placed under a batch and/or scene."""
        if scene_id is not None:
            scene = ds.item(scene_id, "SCENE")
            if batch_id is not None and scene.batch_id != batch_id:
                raise ApiError(Code.ILLEGAL_PARAM, f"scene {scene_id} is not in batch {batch_id}")
            return scene.id, scene.batch_id
        if batch_id is not None:
            return ds.item(batch_id, "BATCH").id, batch_id
        return TOP, None

    def add_data(self, ds: DatasetRec, new: Sequence[NewDataRec]) -> list[ItemRec]:
        """Add data items (all or none) under their batch/scene."""
        parents = [self._parent_of(ds, one.batch_id, one.scene_id) for one in new]
        names = [check_name(one.name) for one in new]
        now = _now()
        created = []
        for one, name, (parent_id, batch_id) in zip(new, names, parents, strict=True):
            rec = ItemRec(
                next(self._item_ids),
                ds.id,
                "DATA",
                name,
                parent_id,
                batch_id,
                one.files,
                now,
                infos=one.infos,
            )
            self._insert(ds, rec)
            created.append(rec)
        return created

    def add_scene(
        self, ds: DatasetRec, name: str, batch_id: int | None, frames: Sequence[NewDataRec]
    ) -> tuple[ItemRec, list[ItemRec]]:
        """Add a scene and its frames (all or none)."""
        name = check_name(name)
        parent_id, _ = self._parent_of(ds, batch_id, None)
        frame_names = [check_name(frame.name, "frame name") for frame in frames]
        now = _now()
        scene = ItemRec(next(self._item_ids), ds.id, "SCENE", name, parent_id, batch_id, [], now)
        self._insert(ds, scene)
        created = []
        for frame, frame_name in zip(frames, frame_names, strict=True):
            rec = ItemRec(
                next(self._item_ids),
                ds.id,
                "DATA",
                frame_name,
                scene.id,
                batch_id,
                frame.files,
                now,
                infos=frame.infos,
            )
            self._insert(ds, rec)
            created.append(rec)
        return scene, created

    def add_batch(self, ds: DatasetRec, name: str) -> ItemRec:
        """Add an (empty) batch at the top level."""
        rec = ItemRec(next(self._item_ids), ds.id, "BATCH", check_name(name), TOP, None, [], _now())
        self._insert(ds, rec)
        return rec

    def remove(self, ds: DatasetRec, ids: Sequence[int], kind: str) -> None:
        """Remove items of one kind (all must exist); a scene takes its frames along."""
        recs = [ds.item(item_id, kind) for item_id in ids]
        if kind == "BATCH":
            for rec in recs:
                if ds.level(rec.id):
                    raise ApiError(Code.OPERATION_FAILED, f"batch {rec.id} is not empty")
        for rec in recs:
            if rec.id in ds.items:  # the same id twice in one call
                self._drop(ds, rec)
