"""Typed geometry views of ``Instance.contour``: evidence shapes read, bad ones named, none raising."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from basicai_async import AnnotationResult, Box2D, Box3D, Instance, KeyPoints, Polygon, Polyline, Unreadable
from basicai_async.geometry import class_name_of, shape_of

EVIDENCE = Path(__file__).parent / "fixtures" / "evidence" / "xtreme1-jackson"


def _instance(**fields: Any) -> Instance:
    """An instance decoded from JSON, as the API's answer would be."""
    return msgspec.json.decode(msgspec.json.encode(fields), type=Instance)


def _square(x: float, y: float, w: float, h: float) -> list[dict[str, float]]:
    return [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]


@pytest.mark.parametrize("kind", ["RECTANGLE", "BOUNDING_BOX", "2D_RECT", "rectangle"])
def test_a_box_reads_from_its_corner_points(kind: str) -> None:
    shape = shape_of(_instance(type=kind, contour={"points": _square(10.5, 20, 30, 40.25)}))
    assert shape == Box2D(10.5, 20, 30, 40.25)
    assert isinstance(shape, Box2D)
    assert shape.area == 30 * 40.25


def test_a_box_reads_from_x_y_width_height_and_from_any_point_order() -> None:
    assert shape_of(
        _instance(type="BOUNDING_BOX", contour={"x": 1, "y": 2, "width": 3, "height": 4})
    ) == Box2D(1, 2, 3, 4)
    # Two opposite corners, given bottom-right first; a projected cuboid's eight points.
    two = [{"x": 50, "y": 60}, {"x": 10, "y": 20}]
    assert shape_of(_instance(type="RECTANGLE", contour={"points": two})) == Box2D(10, 20, 40, 40)
    cuboid = [{"x": 5 + (i % 2) * 10, "y": 7 + (i // 4) * 3} for i in range(8)]
    assert shape_of(_instance(type="2D_BOX", contour={"points": cuboid, "viewIndex": 1})) == Box2D(
        5, 7, 10, 3, 1
    )


def test_polygons_lines_and_key_points() -> None:
    triangle = [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 0, "y": 3}]
    polygon = shape_of(_instance(type="POLYGON", contour={"points": triangle}))
    assert polygon == Polygon(((0, 0), (4, 0), (0, 3)))
    assert isinstance(polygon, Polygon)
    assert polygon.area == 6
    assert polygon.bbox == Box2D(0, 0, 4, 3)
    assert shape_of(_instance(type="POLYLINE", contour={"points": triangle[:2]})) == Polyline(
        ((0, 0), (4, 0))
    )
    assert shape_of(_instance(type="KEY_POINT", contour={"points": triangle[:1]})) == KeyPoints(((0, 0),))
    assert shape_of(_instance(type="KEY_POINT", contour={"x": 1.5, "y": 2})) == KeyPoints(((1.5, 2),))


def test_3d_boxes_from_the_evidence_and_the_older_top_level_shape() -> None:
    exported = msgspec.json.decode(
        (EVIDENCE / "export_result_file.json").read_bytes(), type=list[AnnotationResult]
    )
    box = shape_of(exported[0].instances[0])
    assert box == Box3D((12.41, -3.07, 0.82), (4.52, 1.91, 1.64), (0, 0, 1.5707963), points_inside=412)
    assert isinstance(box, Box3D)
    assert box.yaw == 1.5707963
    # Xtreme1 issue 85: the box's fields on the object, objType "3d", the class as classType.
    older = _instance(
        objType="3d",
        classType="Pedestrian",
        center3D={"x": 47.5, "y": 8.6, "z": 1.0},
        size3D={"x": 0.84, "y": 0.89, "z": 1.78},
        rotation3D={"x": 0, "y": 0, "z": -2.97},
    )
    assert shape_of(older) == Box3D((47.5, 8.6, 1.0), (0.84, 0.89, 1.78), (0, 0, -2.97))
    assert class_name_of(older) == "Pedestrian"
    assert class_name_of(_instance(modelClass="CAR")) == "CAR"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"type": "CIRCLE", "contour": {"points": []}}, "unknown shape type 'CIRCLE'"),
        ({"type": None, "contour": {}}, "unknown shape type None"),
        ({"type": "RECTANGLE", "contour": None}, "contour is NoneType"),
        ({"type": "RECTANGLE", "contour": "0,0,1,1"}, "contour is str"),
        ({"type": "RECTANGLE", "contour": {"points": [{"x": 1, "y": 1}]}}, "1 point(s), at least 2"),
        ({"type": "RECTANGLE", "contour": {"points": [{"x": 1, "y": 1}, {"x": 1, "y": 5}]}}, "no area"),
        ({"type": "RECTANGLE", "contour": {"x": 1, "y": 1, "width": -3, "height": 2}}, "negative size"),
        ({"type": "RECTANGLE", "contour": {"points": [{"x": "1", "y": 1}, {"x": 2, "y": 2}]}}, "points[0].x"),
        ({"type": "RECTANGLE", "contour": {"points": [[1, 1], [2, 2]]}}, "points[0] is not"),
        ({"type": "POLYGON", "contour": {"points": [{"x": 0, "y": 0}, {"x": 1, "y": 1}]}}, "at least 3"),
        ({"type": "POLYGON", "contour": {"points": "many"}}, "not a list"),
        ({"type": "RECTANGLE", "contour": {"points": _square(0, 0, 1, 1), "viewIndex": -1}}, "viewIndex"),
        ({"type": "3D_BOX", "contour": {"center3D": {"x": 0, "y": 0, "z": 0}}}, "size3D is missing"),
        (
            {"type": "3D_BOX", "contour": {"center3D": {"x": 0, "y": 0}, "size3D": {"x": 1, "y": 1, "z": 1}}},
            "center3D.z",
        ),
        (
            {
                "type": "3D_BOX",
                "contour": {"center3D": {"x": 0, "y": 0, "z": 0}, "size3D": {"x": 0, "y": 1, "z": 1}},
            },
            "<= 0",
        ),
    ],
)
def test_unknown_and_malformed_shapes_are_unreadable_with_a_reason(
    fields: dict[str, Any], reason: str
) -> None:
    shape = shape_of(_instance(**fields))
    assert isinstance(shape, Unreadable)
    assert reason in shape.reason


def test_a_nan_coordinate_is_unreadable_not_a_box() -> None:
    instance = Instance(type="RECTANGLE", contour={"points": [{"x": float("nan"), "y": 0}, {"x": 1, "y": 1}]})
    shape = shape_of(instance)
    assert isinstance(shape, Unreadable)
    assert "finite" in shape.reason


def test_clipping_a_box_and_a_polygon_to_the_image() -> None:
    assert Box2D(-5, 10, 20, 100).clipped(64, 48) == Box2D(0, 10, 15, 38)
    inside = Box2D(1, 1, 2, 2)
    assert inside.clipped(64, 48) is inside
    assert Box2D(70, 10, 5, 5).clipped(64, 48) is None
    polygon = Polygon(((-2, 0), (10, 0), (10, 60)))
    assert polygon.clipped(64, 48) == Polygon(((0, 0), (10, 0), (10, 48)))
    assert Polygon(((70, 0), (80, 0), (80, 5))).clipped(64, 48) is None
