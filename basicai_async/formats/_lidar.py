"""LiDAR box formats: OpenPCDet's custom ``x y z dx dy dz yaw class`` and KITTI ``label_2``.

``pcd-boxes``: one ``labels/<frame stem>.txt`` per data item (empty for a frame
without boxes), a line per ``3D_BOX`` in the point cloud's own frame:
``center3D.x y z``, ``size3D.x y z`` as ``dx dy dz`` (length along the
heading, width, height: Xtreme1's reading of ``size3D``), ``rotation3D.z`` as
the yaw (radians, counter-clockwise from +x seen from above), then the class
name (spaces made ``_``: the format splits on whitespace). ``ImageSets/all.txt``
lists the frames, as OpenPCDet's custom dataset reads them.

``kitti``: for data items with a camera configuration (Xtreme1's: a JSON list,
one entry per camera, ``camera_internal {fx, fy, cx, cy}``, ``camera_external``
the 16 numbers of the LiDAR-to-camera matrix, row-major unless ``rowMajor`` is
false), ``label_2/<stem>.txt`` for camera 0 and ``calib/<stem>.txt``. A box's
location is its bottom centre in camera coordinates; dimensions are ``h w l``;
``rotation_y`` is the heading turned into the camera frame (KITTI's sign: about
the camera's y axis, pointing down); ``alpha = rotation_y - atan2(x, z)``. The
2D box is the object's own ``2D_RECT``/``2D_BOX`` on camera 0 when it has one
(same ``trackId``), else the projection of its eight corners, clipped to the
image. Every 3D box is written, with or without a 2D one (unlike Xtreme1's own
converter, its issue 208); one behind the camera is counted as skipped.
"""

from __future__ import annotations

import math
from typing import Any

from .._exported import ExportedData, ExportedFile
from ..geometry import Box2D, Box3D, Unreadable, shape_of
from ._base import Converter, Tally, stem_of

__all__ = ["KittiConverter", "PcdBoxesConverter"]

_POINT_SUFFIXES = (".pcd", ".bin", ".ply", ".las", ".laz", ".npy")
Matrix = list[list[float]]


def _cloud(data: ExportedData) -> ExportedFile | None:
    for file in data.files:
        if (file.name or "").lower().endswith(_POINT_SUFFIXES):
            return file
    return None


def _f(value: float) -> str:
    return f"{value:.4f}"


class _Frames(Converter):
    """One label file per frame, and the frames listed in ``ImageSets/all.txt``."""

    label_dir = "labels"

    def __init__(self, out: Any, tally: Tally) -> None:
        super().__init__(out, tally)
        self._labels = self.directory / self.label_dir
        self._calib = self.directory / "calib"
        (self.directory / "ImageSets").mkdir(parents=True, exist_ok=True)
        self._list = (self.directory / "ImageSets" / "all.txt").open("w", encoding="utf-8")

    def frame(self, data: ExportedData, text: str) -> str:
        name = self.write_new(self._labels, stem_of(data, _cloud(data)), ".txt", text, data_id=data.id)
        self._list.write(name.rsplit(".", 1)[0] + "\n")
        return name.rsplit(".", 1)[0]

    def abort(self) -> None:
        self._list.close()

    def close(self) -> None:
        self._list.close()
        self.bytes_written += (self.directory / "ImageSets" / "all.txt").stat().st_size
        self.files_written += 1


class PcdBoxesConverter(_Frames):
    """OpenPCDet custom labels: ``labels/*.txt`` with ``x y z dx dy dz yaw class`` lines."""

    name = "pcd-boxes"
    description = "LiDAR boxes as OpenPCDet's custom dataset reads them: x y z dx dy dz yaw class"

    def add(self, data: ExportedData) -> None:
        lines = []
        for _, box, name in self.boxes3d(data):
            fields = [*box.center, *box.size, box.yaw]
            lines.append(" ".join(_f(v) for v in fields) + " " + "_".join(name.split()) + "\n")
            self.tally.objects += 1
        self.frame(data, "".join(lines))


def _matmul(m: Matrix, v: list[float]) -> list[float]:
    return [sum(row[k] * v[k] for k in range(len(v))) for row in m]


def _normal(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class _Camera:
    """Camera 0 of a configuration: the LiDAR-to-camera matrix and the intrinsics."""

    def __init__(self, config: Any) -> None:
        cameras = config if isinstance(config, list) else [config]
        if not cameras or not isinstance(cameras[0], dict):
            raise ValueError("the camera configuration holds no camera")
        camera = cameras[0]
        internal = camera.get("camera_internal") or camera.get("cameraInternal")
        external = camera.get("camera_external") or camera.get("cameraExternal")
        if not isinstance(internal, dict) or not isinstance(external, list) or len(external) != 16:
            raise ValueError("camera 0 lacks camera_internal {fx, fy, cx, cy} or a 16-number camera_external")
        self.fx, self.fy = float(internal["fx"]), float(internal["fy"])
        self.cx, self.cy = float(internal["cx"]), float(internal["cy"])
        numbers = [float(v) for v in external]
        rows = [numbers[r * 4 : r * 4 + 4] for r in range(4)]
        if camera.get("rowMajor") is False:
            rows = [list(col) for col in zip(*rows, strict=True)]
        self.external: Matrix = rows

    def to_camera(self, point: tuple[float, float, float]) -> list[float]:
        return _matmul(self.external, [*point, 1.0])[:3]

    def project(self, point: list[float]) -> tuple[float, float]:
        x, y, z = point
        return self.fx * x / z + self.cx, self.fy * y / z + self.cy

    def calib(self) -> str:
        p = [self.fx, 0.0, self.cx, 0.0, 0.0, self.fy, self.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        projection = " ".join(f"{v:.12e}" for v in p)
        velo = " ".join(f"{v:.12e}" for row in self.external[:3] for v in row)
        identity3 = " ".join(f"{v:.12e}" for v in (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
        identity34 = " ".join(f"{v:.12e}" for v in (1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0))
        lines = [f"P{k}: {projection}" for k in range(4)]
        lines += [f"R0_rect: {identity3}", f"Tr_velo_to_cam: {velo}", f"Tr_imu_to_velo: {identity34}"]
        return "\n".join(lines) + "\n"


def _corners(box: Box3D) -> list[tuple[float, float, float]]:
    (x, y, z), (length, width, height), yaw = box.center, box.size, box.yaw
    cos, sin = math.cos(yaw), math.sin(yaw)
    out = []
    for dx in (length / 2, -length / 2):
        for dy in (width / 2, -width / 2):
            for dz in (height / 2, -height / 2):
                out.append((x + dx * cos - dy * sin, y + dx * sin + dy * cos, z + dz))
    return out


class KittiConverter(_Frames):
    """KITTI: ``label_2/*.txt`` (camera 0) and ``calib/*.txt`` for items with a camera configuration."""

    name = "kitti"
    description = "KITTI label_2 and calib for point clouds with a camera configuration (camera 0)"
    needs_image_sizes = True
    needs_calibration = True
    label_dir = "label_2"

    def add(self, data: ExportedData) -> None:
        if data.calibration is None:
            why = "; ".join(f"{name}: {reason}" for name, reason in data.problems.items()) or "none sent"
            for result in data.results:
                for instance in result.instances:
                    self.tally.skip(data, instance, f"no camera configuration ({why})")
            return
        try:
            camera = _Camera(data.calibration)
        except (ValueError, KeyError, TypeError) as exc:
            for result in data.results:
                for instance in result.instances:
                    self.tally.skip(data, instance, f"unusable camera configuration: {exc}")
            return
        images = data.images
        image = images[0] if images else None
        rects: dict[str, Box2D] = {}
        for result in data.results:
            for instance in result.instances:
                shape = shape_of(instance)
                if isinstance(shape, Box2D) and not shape.view and instance.track_id:
                    rects[instance.track_id] = shape
        lines = []
        for result in data.results:
            for instance in result.instances:
                shape = shape_of(instance)
                if isinstance(shape, Box2D) and instance.track_id in rects and not shape.view:
                    continue  # drawn as its 3D box's 2D box below
                if isinstance(shape, Unreadable):
                    self.tally.skip(data, instance, f"unreadable geometry: {shape.reason}")
                    continue
                if not isinstance(shape, Box3D):
                    self.tally.skip(data, instance, f"kitti holds no {type(shape).__name__} objects")
                    continue
                name = self.class_of(data, instance)
                if name is None:
                    continue
                line = self._line(camera, shape, name, rects.get(instance.track_id or ""), image)
                if not line.endswith("\n"):
                    self.tally.skip(data, instance, line)
                    continue
                lines.append(line)
                self.tally.objects += 1
        stem = self.frame(data, "".join(lines))
        self.write_new(self._calib, stem, ".txt", camera.calib(), data_id=data.id)

    @staticmethod
    def _line(camera: _Camera, box: Box3D, name: str, rect: Box2D | None, image: ExportedFile | None) -> str:
        """The box's label line (ending in a newline), or the reason it has none."""
        (x, y, z), (length, width, height) = box.center, box.size
        bottom = camera.to_camera((x, y, z - height / 2))
        if bottom[2] <= 0:
            return "behind camera 0"
        ahead = camera.to_camera((x + math.cos(box.yaw), y + math.sin(box.yaw), z - height / 2))
        ry = _normal(-math.atan2(ahead[2] - bottom[2], ahead[0] - bottom[0]))
        alpha = _normal(ry - math.atan2(bottom[0], bottom[2]))
        if rect is not None:
            x1, y1, x2, y2 = rect.x, rect.y, rect.x + rect.width, rect.y + rect.height
        else:
            corners = [camera.to_camera(c) for c in _corners(box)]
            seen = [camera.project(c) for c in corners if c[2] > 0.1]
            if not seen:
                return "behind camera 0"
            x1, y1 = min(p[0] for p in seen), min(p[1] for p in seen)
            x2, y2 = max(p[0] for p in seen), max(p[1] for p in seen)
            if image is not None and image.width and image.height:
                x1, x2 = max(0.0, x1), min(float(image.width), x2)
                y1, y2 = max(0.0, y1), min(float(image.height), y2)
                if x2 <= x1 or y2 <= y1:
                    return "outside camera 0's image"
        label = "_".join(name.split())
        return (
            f"{label} 0.00 0 {alpha:.2f} {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} {height:.2f} {width:.2f} "
            f"{length:.2f} {bottom[0]:.2f} {bottom[1]:.2f} {bottom[2]:.2f} {ry:.2f}\n"
        )
