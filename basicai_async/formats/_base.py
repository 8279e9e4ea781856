"""The one interface every converter implements, and the bookkeeping they share.

A converter is fed the export's data items one at a time, in order
(:meth:`Converter.add`), and finishes its files in :meth:`Converter.close`. It
holds no more than one item's objects plus what its format must keep to the
end (a class list; COCO's categories), so memory stays flat in the dataset's
size. Whatever it cannot convert it tells the :class:`Tally`: counted by
reason, and the first ``NAMED`` of them named (data item, object, reason).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from .._exported import ExportedData, ExportedFile
from ..geometry import Box2D, Box3D, Polygon, Shape, Unreadable, class_name_of, shape_of
from ..models import Instance

__all__ = ["NAMED", "Converter", "Placed", "SkippedObject", "Tally"]

NAMED = 1000
"""How many skipped (and clipped) objects a summary names; all of them are counted."""

_UNSAFE = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True, slots=True)
class SkippedObject:
    """An object an export did not write (or wrote clipped): whose, which, and why."""

    data_id: int
    data_name: str | None
    object_id: str | int | None
    reason: str


@dataclass(slots=True)
class Tally:
    """What a conversion wrote and left out."""

    objects: int = 0
    clipped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_named: list[SkippedObject] = field(default_factory=list)
    clipped_named: list[SkippedObject] = field(default_factory=list)

    def skip(self, data: ExportedData, instance: Instance | None, reason: str) -> None:
        """Count (and name, while under ``NAMED``) an object left out."""
        self.skipped[reason] += 1
        if len(self.skipped_named) < NAMED:
            object_id = None if instance is None else instance.id
            self.skipped_named.append(SkippedObject(data.id, data.name, object_id, reason))

    def clip(self, data: ExportedData, instance: Instance, image: ExportedFile) -> None:
        """Count (and name) an object cut to its image's edges."""
        self.clipped += 1
        if len(self.clipped_named) < NAMED:
            reason = f"clipped to the {image.width}x{image.height} image {image.name}"
            self.clipped_named.append(SkippedObject(data.id, data.name, instance.id, reason))


Planar = Box2D | Polygon
"""The 2D shapes image formats hold (lines and key points have no place in COCO detection, YOLO or VOC)."""


@dataclass(slots=True)
class Placed:
    """One image of a data item and the 2D objects drawn on it (clipped to it)."""

    view: int
    image: ExportedFile
    width: int
    height: int
    objects: list[tuple[Instance, Planar, str]]
    """Each object with its shape (clipped) and its class name."""


def stem_of(data: ExportedData, file: ExportedFile | None) -> str:
    """A file-system-safe base name for a data item's output: its file's name, else the item's."""
    for name in (None if file is None else file.name, data.name):
        if name:
            # String operations, not PurePosixPath: pathlib interns every part it parses.
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            dot = base.rfind(".")
            stem = base[:dot] if dot > 0 else base
            safe = _UNSAFE.sub("_", stem).strip("._")
            if safe:
                return safe
    return f"data-{data.id}"


class Converter:
    """One training format: fed data items in order, finishing its files on close.

    Subclasses set ``name`` and ``description``, ``needs_image_sizes`` (the
    export then reads missing sizes from image headers) or ``needs_calibration``
    (it reads each item's camera configuration), and implement :meth:`add` and
    :meth:`close`. ``out`` is a directory (created, and empty) unless
    ``writes_file`` says the format is one file (or an open binary stream).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    writes_file: ClassVar[bool] = False
    needs_image_sizes: ClassVar[bool] = False
    needs_calibration: ClassVar[bool] = False
    # The 2D shapes the format holds; a converter of 2D formats sets it.
    planar: ClassVar[tuple[type, ...]] = ()

    def __init__(self, out: Path | IO[bytes], tally: Tally) -> None:
        self.out = out
        self.tally = tally
        self.bytes_written = 0
        self.files_written = 0
        self._made: set[str] = set()

    @property
    def directory(self) -> Path:
        """The output directory (directory formats only)."""
        assert isinstance(self.out, Path)
        return self.out

    def add(self, data: ExportedData) -> None:
        """Convert one data item's results."""
        raise NotImplementedError

    def close(self) -> None:
        """Write what the format keeps to the end; the files are then complete."""

    def abort(self) -> None:
        """Release what is open after a failed export, writing no closing parts.

        Whatever was written stays, visibly incomplete (COCO writes no
        ``annotations.json``, YOLO no ``data.yaml``), never passing for a whole export.
        """

    # -- shared reading ------------------------------------------------------------

    def shapes(self, data: ExportedData) -> Iterator[tuple[Instance, Shape]]:
        """Every object of every result of ``data`` with its shape; unreadable ones are tallied."""
        for result in data.results:
            for instance in result.instances:
                shape = shape_of(instance)
                if isinstance(shape, Unreadable):
                    self.tally.skip(data, instance, f"unreadable geometry: {shape.reason}")
                else:
                    yield instance, shape

    def class_of(self, data: ExportedData, instance: Instance) -> str | None:
        """The object's class name, or None (tallied) when it has none."""
        name = class_name_of(instance)
        if not name:
            self.tally.skip(data, instance, "the object has no class name")
        return name

    def place(self, data: ExportedData) -> list[Placed]:
        """The item's images with the 2D objects this format holds, clipped; the rest tallied.

        Every image comes, with or without objects (a training set needs its
        negatives), once its size is known.
        """
        images = data.images
        placed: dict[int, Placed] = {}
        for view, image in enumerate(images):
            if image.width and image.height:
                placed[view] = Placed(view, image, image.width, image.height, [])
        for instance, shape in self.shapes(data):
            if not isinstance(shape, self.planar):
                kind = type(shape).__name__
                self.tally.skip(data, instance, f"{self.name} holds no {kind} objects")
                continue
            assert isinstance(shape, Box2D | Polygon)
            view = shape.view or 0
            if view >= len(images):
                self.tally.skip(data, instance, f"no image for camera {view} in the data item")
                continue
            target = placed.get(view)
            if target is None:
                image = images[view]
                why = data.problems.get(image.name or "?", "the server sent no size")
                self.tally.skip(data, instance, f"size of image {image.name} unknown: {why}")
                continue
            inside = shape.clipped(target.width, target.height)
            if inside is None:
                self.tally.skip(data, instance, "nothing of it lies inside the image")
                continue
            if inside is not shape:
                self.tally.clip(data, instance, target.image)
            name = self.class_of(data, instance)
            if name is not None:
                target.objects.append((instance, inside, name))
        return [placed[view] for view in sorted(placed)]

    def boxes3d(self, data: ExportedData) -> Iterator[tuple[Instance, Box3D, str]]:
        """The item's 3D boxes with their class names; other shapes are tallied."""
        for instance, shape in self.shapes(data):
            if not isinstance(shape, Box3D):
                self.tally.skip(data, instance, f"{self.name} holds no {type(shape).__name__} objects")
                continue
            name = self.class_of(data, instance)
            if name is not None:
                yield instance, shape, name

    # -- writing -----------------------------------------------------------------

    def write_new(self, folder: Path, stem: str, suffix: str, text: str, *, data_id: int) -> str:
        """Write ``text`` to ``folder/stem+suffix``, or ``stem-<data id>`` when that name is taken.

        Returns the name written. Plain strings and ``os.path``, not ``Path``: pathlib
        interns every part it parses, and a label file a frame would grow that table.
        """
        where = os.fspath(folder)
        if where not in self._made:
            os.makedirs(where, exist_ok=True)
            self._made.add(where)
        body = text.encode()
        for name in (f"{stem}{suffix}", f"{stem}-{data_id}{suffix}"):
            try:
                with open(os.path.join(where, name), "xb") as out:
                    out.write(body)
            except FileExistsError:
                continue
            self.bytes_written += len(body)
            self.files_written += 1
            return name
        raise FileExistsError(f"{where}/{stem}{suffix} and {stem}-{data_id}{suffix} both exist")
