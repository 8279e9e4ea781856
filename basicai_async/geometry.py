"""Typed views of an object's geometry (``Instance.contour``), read tolerantly.

``Instance.contour`` stays as the server sent it; :func:`shape_of` reads it as
one of the shapes below, or as :class:`Unreadable` with a reason. It never
raises: an unknown or malformed shape is a value a converter counts and names.

What it relies on (API.md, "Object geometry"; BasicAI's open-source platform
Xtreme1: its export objects, its point-cloud tool's types, its Python SDK's
converters, its issue 85):

- ``RECTANGLE`` / ``BOUNDING_BOX`` (also the camera projections ``2D_RECT`` /
  ``2D_BOX``): ``contour.points`` (any number >= 2 of ``{x, y}``; the box is
  their extent) or ``contour.{x, y, width, height}``. Pixels, edges: ``x = 0``
  is the image's left edge, ``x + width`` the box's right edge.
- ``POLYGON``, ``POLYLINE``: ``contour.points``; ``KEY_POINT``: ``contour.points``
  (or a single ``{x, y}``).
- ``3D_BOX``: ``contour.center3D``, ``size3D`` (length along the heading,
  width, height: Xtreme1's KITTI converter reads it so), ``rotation3D``
  (radians; the yaw is ``z``, counter-clockwise seen from above); or the older
  shape with those three on the object itself and ``objType: "3d"``.
- ``contour.viewIndex`` says which camera a 2D shape belongs to (None: the first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .models import Instance

__all__ = [
    "Box2D",
    "Box3D",
    "KeyPoints",
    "Polygon",
    "Polyline",
    "Shape",
    "Unreadable",
    "class_name_of",
    "shape_of",
]

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Box2D:
    """An axis-aligned image box in pixels: ``(x, y)`` its top-left corner, ``x + width`` its right edge."""

    x: float
    y: float
    width: float
    height: float
    view: int | None = None

    @property
    def area(self) -> float:
        """``width * height``."""
        return self.width * self.height

    def clipped(self, width: float, height: float) -> Box2D | None:
        """This box inside a ``width`` x ``height`` image; None when nothing of it is left."""
        x1, y1 = max(0.0, self.x), max(0.0, self.y)
        x2, y2 = min(float(width), self.x + self.width), min(float(height), self.y + self.height)
        if x2 <= x1 or y2 <= y1:
            return None
        if (x1, y1, x2, y2) == (self.x, self.y, self.x + self.width, self.y + self.height):
            return self
        return Box2D(x1, y1, x2 - x1, y2 - y1, self.view)


def _extent(points: tuple[Point, ...], view: int | None) -> Box2D:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x, y = min(xs), min(ys)
    return Box2D(x, y, max(xs) - x, max(ys) - y, view)


@dataclass(frozen=True, slots=True)
class Polygon:
    """A closed outline in pixels (at least three points)."""

    points: tuple[Point, ...]
    view: int | None = None

    @property
    def area(self) -> float:
        """The enclosed area (shoelace formula)."""
        pts = self.points
        twice = sum(pts[i - 1][0] * p[1] - p[0] * pts[i - 1][1] for i, p in enumerate(pts))
        return abs(twice) / 2

    @property
    def bbox(self) -> Box2D:
        """The smallest box holding every point."""
        return _extent(self.points, self.view)

    def clipped(self, width: float, height: float) -> Polygon | None:
        """Every point moved inside the image; None when nothing of the outline is left."""
        inside = tuple(
            (min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))) for x, y in self.points
        )
        if inside == self.points:
            return self
        clipped = Polygon(inside, self.view)
        return clipped if clipped.area > 0 else None


@dataclass(frozen=True, slots=True)
class Polyline:
    """An open line in pixels (at least two points)."""

    points: tuple[Point, ...]
    view: int | None = None


@dataclass(frozen=True, slots=True)
class KeyPoints:
    """One or more points in pixels."""

    points: tuple[Point, ...]
    view: int | None = None


@dataclass(frozen=True, slots=True)
class Box3D:
    """A box in the point cloud's frame: ``center`` and ``size`` ``(length, width, height)`` in its units.

    ``rotation`` is ``(x, y, z)`` in radians; :attr:`yaw` is the rotation about
    the up axis, counter-clockwise seen from above, 0 along +x.
    """

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation: tuple[float, float, float]
    points_inside: int | None = None

    @property
    def yaw(self) -> float:
        """The heading: ``rotation3D.z``."""
        return self.rotation[2]


Shape = Box2D | Polygon | Polyline | KeyPoints | Box3D
"""Any shape :func:`shape_of` reads."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An object whose geometry could not be read, and why."""

    reason: str


class _Malformed(Exception):
    pass


def _number(value: Any, what: str) -> float:
    # bool is an int in Python, never a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Malformed(f"{what} is not a finite number: {value!r}")
    return float(value)


_REAL = frozenset({int, float})


def _points(contour: dict[str, Any], least: int) -> tuple[Point, ...]:
    raw = contour.get("points")
    if not isinstance(raw, list):
        raise _Malformed("contour.points is missing or not a list")
    # The common case in one pass (an export reads millions of points); anything
    # odd falls through to the checked loop below, which names the bad point.
    try:
        fast = [
            (float(p["x"]), float(p["y"])) for p in raw if type(p["x"]) in _REAL and type(p["y"]) in _REAL
        ]
    except (KeyError, TypeError, IndexError):
        fast = []
    # x - x is 0 for every finite number, NaN for infinities and NaN.
    if raw and len(fast) == len(raw) and len(fast) >= least and all(x - x == 0 == y - y for x, y in fast):
        return tuple(fast)
    return _checked_points(raw, least)


def _checked_points(raw: list[Any], least: int) -> tuple[Point, ...]:
    points: list[Point] = []
    for index, point in enumerate(raw):
        if not isinstance(point, dict):
            raise _Malformed(f"contour.points[{index}] is not an {{x, y}} object")
        points.append(
            (_number(point.get("x"), f"points[{index}].x"), _number(point.get("y"), f"points[{index}].y"))
        )
    if len(points) < least:
        raise _Malformed(f"contour.points has {len(points)} point(s), at least {least} needed")
    return tuple(points)


def _xyz(value: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(value, dict):
        raise _Malformed(f"{what} is missing or not an {{x, y, z}} object")
    return (
        _number(value.get("x"), f"{what}.x"),
        _number(value.get("y"), f"{what}.y"),
        _number(value.get("z"), f"{what}.z"),
    )


def _view(contour: dict[str, Any]) -> int | None:
    view = contour.get("viewIndex")
    if view is None:
        return None
    if isinstance(view, bool) or not isinstance(view, int) or view < 0:
        raise _Malformed(f"contour.viewIndex is not a camera index: {view!r}")
    return view


def _box2d(contour: dict[str, Any]) -> Box2D:
    view = _view(contour)
    if contour.get("points"):
        box = _extent(_points(contour, 2), view)
    elif "width" in contour or "height" in contour:
        box = Box2D(
            _number(contour.get("x"), "contour.x"),
            _number(contour.get("y"), "contour.y"),
            _number(contour.get("width"), "contour.width"),
            _number(contour.get("height"), "contour.height"),
            view,
        )
        if box.width < 0 or box.height < 0:
            raise _Malformed(f"a negative size {box.width} x {box.height}")
    else:
        raise _Malformed("a box needs contour.points or contour.x/y/width/height")
    if box.width <= 0 or box.height <= 0:
        raise _Malformed("the box has no area")
    return box


def _box3d(holder: dict[str, Any]) -> Box3D:
    size = _xyz(holder.get("size3D"), "size3D")
    if min(size) <= 0:
        raise _Malformed(f"size3D has a side <= 0: {size}")
    rotation = holder.get("rotation3D")
    count = holder.get("pointN")
    return Box3D(
        center=_xyz(holder.get("center3D"), "center3D"),
        size=size,
        rotation=(0.0, 0.0, 0.0) if rotation is None else _xyz(rotation, "rotation3D"),
        points_inside=count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


_BOXES = frozenset({"RECTANGLE", "BOUNDING_BOX", "2D_RECT", "2D_BOX", "RECT", "BOX"})
_KEY_POINTS = frozenset({"KEY_POINT", "KEYPOINT", "KEY_POINTS", "POINT", "POINTS"})
_BOXES_3D = frozenset({"3D_BOX", "CUBOID", "BOX3D", "3D"})


def _read(instance: Instance) -> Shape:
    kind = (instance.type or "").upper()
    if kind in _BOXES_3D or (instance.obj_type or "").lower() == "3d" or (not kind and instance.center3d):
        if instance.center3d is not None or not isinstance(instance.contour, dict):
            # The older shape: the box's fields on the object itself.
            return _box3d(
                {"center3D": instance.center3d, "size3D": instance.size3d, "rotation3D": instance.rotation3d}
            )
        return _box3d(instance.contour)
    contour = instance.contour
    if not isinstance(contour, dict):
        raise _Malformed(f"contour is {type(contour).__name__}, not an object")
    if kind in _BOXES:
        return _box2d(contour)
    if kind == "POLYGON":
        return Polygon(_points(contour, 3), _view(contour))
    if kind == "POLYLINE":
        return Polyline(_points(contour, 2), _view(contour))
    if kind in _KEY_POINTS:
        if "points" not in contour and "x" in contour:
            return KeyPoints(((_number(contour["x"], "contour.x"), _number(contour.get("y"), "contour.y")),))
        return KeyPoints(_points(contour, 1), _view(contour))
    raise _Malformed(f"unknown shape type {instance.type!r}")


def shape_of(instance: Instance) -> Shape | Unreadable:
    """The typed shape of ``instance``, or :class:`Unreadable` saying why not (never raises).

    Example::

        shape = shape_of(instance)
        if isinstance(shape, Box2D):
            print(shape.x, shape.y, shape.width, shape.height)
    """
    try:
        return _read(instance)
    except _Malformed as exc:
        return Unreadable(str(exc))


def class_name_of(instance: Instance) -> str | None:
    """The object's class: ``className``, else the older ``classType``, else a model's ``modelClass``."""
    return instance.class_name or instance.class_type or instance.model_class or None
