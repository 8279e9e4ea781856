"""Converters fed by hand: a box read back from each 2D format is the same box; clips and skips named."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basicai_async import AnnotationResult, ExportedData, ExportedFile, Instance
from basicai_async.formats import (
    FORMATS,
    CocoConverter,
    Converter,
    Tally,
    VocConverter,
    YoloConverter,
    converter_named,
)


def _rect(x: float, y: float, w: float, h: float, **fields: object) -> Instance:
    points = [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]
    return Instance(type="RECTANGLE", class_name="Car", contour={"points": points}, **fields)  # type: ignore[arg-type]


def _data(*instances: Instance, width: int = 640, height: int = 480, data_id: int = 7) -> ExportedData:
    image = ExportedFile(name="frame 1.jpg", width=width, height=height, mime_type="image/jpeg")
    return ExportedData(
        id=data_id,
        name="frame-1",
        files=[image],
        results=[AnnotationResult(data_id=data_id, instances=list(instances))],
    )


def _convert(kind: type[Converter], out: Path, *items: ExportedData) -> Tally:
    tally = Tally()
    converter = kind(out, tally)
    for item in items:
        converter.add(item)
    converter.close()
    return tally


def _read_coco(out: Path) -> list[float]:
    (annotation,) = json.loads((out / "annotations.json").read_text())["annotations"]
    x, y, w, h = annotation["bbox"]
    return [x, y, w, h]


def _read_yolo(out: Path, width: int, height: int) -> list[float]:
    (line,) = (out / "labels" / "frame_1.txt").read_text().splitlines()
    _, cx, cy, w, h = (float(v) for v in line.split())
    return [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]


def _read_voc(out: Path) -> list[float]:
    box = ET.parse(out / "Annotations" / "frame_1.xml").getroot().find("object/bndbox")
    assert box is not None
    xmin, ymin, xmax, ymax = (int(box.findtext(tag) or "") for tag in ("xmin", "ymin", "xmax", "ymax"))
    return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]


@st.composite
def _boxes(draw: st.DrawFn) -> tuple[int, int, float, float, float, float]:
    width = draw(st.integers(8, 4000))
    height = draw(st.integers(8, 4000))
    x = draw(st.floats(0, width - 2, allow_nan=False))
    y = draw(st.floats(0, height - 2, allow_nan=False))
    w = draw(st.floats(1, width - x, allow_nan=False))
    h = draw(st.floats(1, height - y, allow_nan=False))
    return width, height, x, y, w, h


@settings(max_examples=60, deadline=None)
@given(_boxes())
def test_a_box_survives_every_2d_format_within_half_a_pixel(
    box: tuple[int, int, float, float, float, float],
) -> None:
    width, height, x, y, w, h = box
    item = _data(_rect(x, y, w, h), width=width, height=height)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, read in (
            (CocoConverter, _read_coco),
            (YoloConverter, lambda out: _read_yolo(out, width, height)),
            (VocConverter, _read_voc),
        ):
            out = Path(tmp) / kind.name
            out.mkdir()
            tally = _convert(kind, out, item)
            assert (tally.objects, tally.clipped, sum(tally.skipped.values())) == (1, 0, 0)
            back = read(out)
            # Edges, not just corner and size: VOC rounds each edge once.
            for got, want in zip(
                (back[0], back[1], back[0] + back[2], back[1] + back[3]), (x, y, x + w, y + h), strict=True
            ):
                assert abs(got - want) <= 0.5, (kind.name, back, (x, y, w, h))


def test_boxes_past_the_edge_are_clipped_and_named_and_those_outside_are_skipped_and_named(
    tmp_path: Path,
) -> None:
    item = _data(
        _rect(600, 400, 100, 100, id="past-the-corner"),
        _rect(700, 10, 20, 20, id="outside"),
        _rect(10, 10, 20, 20, id="inside"),
        width=640,
        height=480,
    )
    tally = _convert(CocoConverter, tmp_path, item)
    assert (tally.objects, tally.clipped) == (2, 1)
    assert [(c.data_id, c.data_name, c.object_id) for c in tally.clipped_named] == [
        (7, "frame-1", "past-the-corner")
    ]
    assert "640x480" in tally.clipped_named[0].reason
    assert dict(tally.skipped) == {"nothing of it lies inside the image": 1}
    assert [(s.object_id, s.reason) for s in tally.skipped_named] == [
        ("outside", "nothing of it lies inside the image")
    ]
    coco = json.loads((tmp_path / "annotations.json").read_text())
    assert [a["bbox"] for a in coco["annotations"]] == [[600, 400, 40, 80], [10, 10, 20, 20]]


def test_what_a_format_cannot_hold_is_counted_by_reason(tmp_path: Path) -> None:
    triangle = {"points": [{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 1, "y": 9}]}
    box3d = {
        "center3D": {"x": 1, "y": 2, "z": 0},
        "size3D": {"x": 4, "y": 2, "z": 1.5},
        "rotation3D": {"x": 0, "y": 0, "z": 0},
    }
    item = _data(
        Instance(id="poly", type="POLYGON", class_name="Lane", contour=triangle),
        Instance(id="line", type="POLYLINE", class_name="Lane", contour={"points": triangle["points"][:2]}),
        Instance(id="cube", type="3D_BOX", class_name="Car", contour=box3d),
        Instance(id="bad", type="RECTANGLE", class_name="Car", contour={"points": []}),
        Instance(id="nameless", type="RECTANGLE", contour={"x": 1, "y": 1, "width": 2, "height": 2}),
    )
    tally = _convert(VocConverter, tmp_path, item)
    assert tally.objects == 0
    assert dict(tally.skipped) == {
        "voc holds no Polygon objects": 1,
        "voc holds no Polyline objects": 1,
        "voc holds no Box3D objects": 1,
        "unreadable geometry: a box needs contour.points or contour.x/y/width/height": 1,
        "the object has no class name": 1,
    }
    assert {s.object_id for s in tally.skipped_named} == {"poly", "line", "cube", "bad", "nameless"}
    # The image is still written: a negative example.
    assert (tmp_path / "Annotations" / "frame_1.xml").is_file()


def test_an_image_without_a_size_skips_its_objects_naming_why(tmp_path: Path) -> None:
    item = _data(_rect(1, 1, 5, 5, id="a"))
    item.files[0].width = None
    item.problems["frame 1.jpg"] = "reading http://store/frame%201.jpg failed: HTTP 403"
    tally = _convert(YoloConverter, tmp_path, item)
    assert dict(tally.skipped) == {
        "size of image frame 1.jpg unknown: reading http://store/frame%201.jpg failed: HTTP 403": 1
    }
    assert not (tmp_path / "labels").exists()


def test_the_registry_names_every_format_and_refuses_others() -> None:
    assert list(FORMATS) == ["jsonl", "coco", "yolo", "voc", "pcd-boxes", "kitti"]
    assert converter_named("coco") is CocoConverter
    with pytest.raises(ValueError, match="jsonl, coco, yolo, voc, pcd-boxes, kitti"):
        converter_named("nuscenes")


def test_an_exported_files_repr_hides_its_signature() -> None:
    file = ExportedFile(name="a.png", url="https://bucket.s3/a.png?X-Amz-Signature=c2VjcmV0&X-Amz-Expires=60")
    assert "c2VjcmV0" not in repr(file)
    assert "a.png" in repr(file)
