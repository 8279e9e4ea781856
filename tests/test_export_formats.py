"""Training formats against the emulator (both dialects): read by readers that are not ours, golden files.

A small hand-made dataset: images of known, non-square sizes at the top level
and in a batch; a LiDAR-fusion dataset whose first frame has a point cloud,
an image and a camera configuration, and whose second has a point cloud
alone. The emulator's results are deterministic in the ids, so the outputs
are compared byte for byte with ``tests/fixtures/golden`` (the same files for
both dialects: the format's output must not depend on the server's dialect).
Run with ``UPDATE_GOLDEN=1`` to rewrite them after an intended change.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import aiohttp
import msgspec
import pytest
import yaml
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from basicai_async import (
    AsyncBasicAI,
    Box2D,
    Box3D,
    FileRef,
    Limits,
    Polygon,
    PresignRequest,
    Window,
    shape_of,
)
from basicai_async._errors import ServerError
from basicai_async.emulator import DIALECT_ENV, Emulator
from basicai_async.emulator._faults import FaultRule
from basicai_async.emulator._samples import sample_png
from basicai_async.export import export_results, iter_exported

pytestmark = pytest.mark.integration

KEY = "formats-key"
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
IMAGES = {"a.png": (64, 48), "b.png": (40, 80)}
IN_BATCH = {"c.png": (120, 90), "d.png": (30, 30)}
# LiDAR x forward, y left, z up -> camera x right, y down, z forward (row-major).
EXTERNAL = [0, -1, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
CAMERA = [{"camera_internal": {"fx": 40.0, "fy": 40.0, "cx": 32.0, "cy": 24.0}, "camera_external": EXTERNAL}]


class Ranged:
    """Every storage GET: its Range header, its status and the length of its answer."""

    def __init__(self) -> None:
        self.ranges: list[str | None] = []
        self.received = 0
        self.statuses: list[int] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)

    async def _start(
        self, session: object, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if params.method == "GET" and "/_store/" in str(params.url):
            self.ranges.append(params.headers.get("Range"))

    async def _end(
        self, session: object, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.method == "GET" and "/_store/" in str(params.url):
            # What storage answered: 206 and the range's length, not the whole object.
            self.received += params.response.content_length or 0
            self.statuses.append(params.response.status)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def ranged() -> Ranged:
    return Ranged()


@pytest.fixture
async def client(emu: Emulator, ranged: Ranged) -> AsyncIterator[AsyncBasicAI]:
    async with (
        aiohttp.ClientSession(trace_configs=[ranged.config]) as session,
        AsyncBasicAI(KEY, base_url=emu.base_url, session=session, limits=Limits((Window(10**6, 1.0),))) as c,
    ):
        yield c


async def _add(
    client: AsyncBasicAI, dataset_id: int, name: str, files: dict[str, bytes], **where: int
) -> int:
    """One data item of ``files``, uploaded and registered in order (ids stay predictable)."""
    session = await client.http_session()
    refs = []
    for filename, body in files.items():
        (upload,) = await client.storage.presign_uploads([PresignRequest(filename=filename, size=len(body))])
        async with session.put(
            upload.pre_signed_url, data=body, headers={"Content-Length": str(len(body))}
        ) as put:
            assert put.status == 200, await put.text()
        mime = {"png": "image/png", "pcd": "application/octet-stream", "json": "application/json"}
        refs.append(
            FileRef(path=upload.register_path, size=len(body), mime_type=mime[filename.rsplit(".", 1)[1]])
        )
    return (await client.data.add(dataset_id, name=name, files=refs, **where)).id


async def _images_dataset(client: AsyncBasicAI) -> int:
    ds = await client.datasets.create(name="golden-images", type="IMAGE")
    for seed, (name, (w, h)) in enumerate(IMAGES.items()):
        await _add(client, ds.id, name, {name: sample_png(seed, w, h)})
    batch = await client.batches.add(ds.id, name="batch-1")
    for seed, (name, (w, h)) in enumerate(IN_BATCH.items()):
        await _add(client, ds.id, name, {name: sample_png(seed, w, h)}, batch_id=batch.id)
    return ds.id


async def _lidar_dataset(client: AsyncBasicAI) -> int:
    ds = await client.datasets.create(name="golden-lidar", type="LIDAR_FUSION")
    camera = json.dumps(CAMERA).encode()
    await _add(
        client,
        ds.id,
        "frame-1",
        {"frame-1.pcd": b"# .PCD v0.7", "frame-1.png": sample_png(1, 64, 48), "frame-1.json": camera},
    )
    await _add(client, ds.id, "frame-2", {"frame-2.pcd": b"# .PCD v0.7"})
    return ds.id


async def _ground_truth(client: AsyncBasicAI, dataset_id: int) -> int:
    sources = await client.annotations.list_sources(dataset_id)
    return next(s.id for s in sources if s.type == "EXTERNAL_GROUND_TRUTH")


def _dialect() -> str:
    return os.environ.get(DIALECT_ENV) or "guide"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_outputs_match_the_golden_files_in_either_dialect(client: AsyncBasicAI, tmp_path: Path) -> None:
    images = await _images_dataset(client)
    lidar = await _lidar_dataset(client)
    for fmt, dataset_id in (
        ("coco", images),
        ("yolo", images),
        ("voc", images),
        ("pcd-boxes", lidar),
        ("kitti", lidar),
    ):
        out = tmp_path / fmt
        source = await _ground_truth(client, dataset_id)
        summary = await export_results(client, dataset_id, out, format=fmt, source_id=source)
        golden = GOLDEN / fmt
        if os.environ.get("UPDATE_GOLDEN"):
            for name, body in _tree(out).items():
                (golden / name).parent.mkdir(parents=True, exist_ok=True)
                (golden / name).write_bytes(body)
        assert _tree(out) == _tree(golden), fmt
        assert summary.format == fmt
        assert summary.files_written == len(_tree(out))
    # The KITTI summary names the frame without a camera configuration.
    kitti = await export_results(client, lidar, tmp_path / "kitti-again", format="kitti")
    no_camera = [s for s in kitti.skipped_objects if s.reason.startswith("no camera configuration")]
    assert {s.data_name for s in no_camera} == {"frame-2"}


async def test_pycocotools_reads_the_coco_file_and_it_matches_the_source_objects(
    client: AsyncBasicAI, tmp_path: Path, ranged: Ranged
) -> None:
    dataset_id = await _images_dataset(client)
    summary = await export_results(client, dataset_id, tmp_path, format="coco")

    coco = COCO(str(tmp_path / "annotations.json"))
    expected = []
    async for data in iter_exported(client, dataset_id):
        for result in data.results:
            expected += [(data.id, i.class_name, shape_of(i)) for i in result.instances]
    assert len(coco.getAnnIds()) == len(expected) == summary.objects > 0
    assert (summary.skipped, summary.clipped) == (0, 0)
    assert {cat["name"] for cat in coco.loadCats(coco.getCatIds())} == {name for _, name, _ in expected}
    images = {img["basicai_data_id"]: img for img in coco.loadImgs(coco.getImgIds())}
    assert {(img["file_name"], img["width"], img["height"]) for img in images.values()} == {
        (name, w, h) for name, (w, h) in (IMAGES | IN_BATCH).items()
    }
    annotations = coco.loadAnns(coco.getAnnIds())
    for annotation, (data_id, class_name, shape) in zip(annotations, expected, strict=True):
        assert annotation["image_id"] == images[data_id]["id"]
        assert coco.loadCats(annotation["category_id"])[0]["name"] == class_name
        if isinstance(shape, Box2D):
            assert annotation["bbox"] == [shape.x, shape.y, shape.width, shape.height]
            assert annotation["area"] == shape.area
        else:
            assert isinstance(shape, Polygon)
            box = shape.bbox
            assert annotation["bbox"] == [box.x, box.y, box.width, box.height]
            assert annotation["area"] == pytest.approx(shape.area)
            # pycocotools' own rasterisation of the polygon agrees with its area within its outline's pixels.
            rasterised = float(mask_utils.area(coco.annToRLE(annotation)))
            assert abs(rasterised - shape.area) <= 2 * (box.width + box.height)
    # The guide dialect sends no sizes: each image's came from a ranged read of its first bytes.
    # The platform's sends them (extraInfo): nothing is read.
    assert len(ranged.ranges) == (len(IMAGES | IN_BATCH) if _dialect() == "guide" else 0)
    assert all(r == f"bytes=0-{64 * 1024 - 1}" for r in ranged.ranges)


async def test_a_large_image_is_sized_from_its_header_alone(
    client: AsyncBasicAI, tmp_path: Path, ranged: Ranged
) -> None:
    ds = await client.datasets.create(name="large", type="IMAGE")
    big = sample_png(3, 600, 400)
    assert len(big) > 600_000
    await _add(client, ds.id, "big", {"big.png": big})
    await export_results(client, ds.id, tmp_path, format="voc")
    root = ET.parse(tmp_path / "Annotations" / "big.xml").getroot()
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("600", "400")
    # Never the whole image: one ranged read of 64 KiB (none when the server sent the size).
    assert ranged.ranges == ([f"bytes=0-{64 * 1024 - 1}"] if _dialect() == "guide" else [])
    assert ranged.received == (64 * 1024 if _dialect() == "guide" else 0)
    assert ranged.statuses == ([206] if _dialect() == "guide" else [])


async def test_yolo_and_voc_read_back_value_by_value(client: AsyncBasicAI, tmp_path: Path) -> None:
    dataset_id = await _images_dataset(client)
    await export_results(client, dataset_id, tmp_path / "yolo", format="yolo")
    await export_results(client, dataset_id, tmp_path / "voc", format="voc")

    names = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())["names"]
    voc_objects = 0
    async for data in iter_exported(client, dataset_id):
        (image,) = data.images
        w, h = IMAGES.get(image.name or "") or IN_BATCH[image.name or ""]
        stem = (image.name or "").rsplit(".", 1)[0]
        lines = (tmp_path / "yolo" / "labels" / f"{stem}.txt").read_text().splitlines()
        objects = [(i.class_name, shape_of(i)) for r in data.results for i in r.instances]
        assert len(lines) == len(objects)
        for line, (class_name, shape) in zip(lines, objects, strict=True):
            index, *values = line.split()
            assert names[int(index)] == class_name
            numbers = [float(v) for v in values]
            if isinstance(shape, Box2D):
                cx, cy = (shape.x + shape.width / 2) / w, (shape.y + shape.height / 2) / h
                assert numbers == pytest.approx([cx, cy, shape.width / w, shape.height / h], abs=1e-6)
            else:
                assert isinstance(shape, Polygon)
                flat = [c / (w, h)[k % 2] for k, c in enumerate(c for p in shape.points for c in p)]
                assert numbers == pytest.approx(flat, abs=1e-6)
        root = ET.parse(tmp_path / "voc" / "Annotations" / f"{stem}.xml").getroot()
        assert (root.findtext("filename"), root.findtext("size/width"), root.findtext("size/height")) == (
            image.name,
            str(w),
            str(h),
        )
        boxes = [(c, s) for c, s in objects if isinstance(s, Box2D)]
        written = root.findall("object")
        assert len(written) == len(boxes)
        for element, (class_name, box) in zip(written, boxes, strict=True):
            assert element.findtext("name") == class_name
            xmin, ymin, xmax, ymax = (
                int(element.findtext(f"bndbox/{t}") or "") for t in ("xmin", "ymin", "xmax", "ymax")
            )
            assert abs((xmin - 1) - box.x) <= 0.5
            assert abs((ymin - 1) - box.y) <= 0.5
            assert abs(xmax - (box.x + box.width)) <= 0.5
            assert abs(ymax - (box.y + box.height)) <= 0.5
            voc_objects += 1
    assert voc_objects > 0


async def test_lidar_boxes_and_kitti_labels_follow_the_source_boxes(
    client: AsyncBasicAI, tmp_path: Path
) -> None:
    dataset_id = await _lidar_dataset(client)
    boxes = await export_results(client, dataset_id, tmp_path / "pcd", format="pcd-boxes")
    kitti = await export_results(client, dataset_id, tmp_path / "kitti", format="kitti")

    total = 0
    async for data in iter_exported(client, dataset_id):
        objects = [(i.class_name, shape_of(i)) for r in data.results for i in r.instances]
        total += len(objects)
        lines = (tmp_path / "pcd" / "labels" / f"{data.name}.txt").read_text().splitlines()
        assert len(lines) == len(objects)
        for line, (class_name, box) in zip(lines, objects, strict=True):
            assert isinstance(box, Box3D)
            *numbers, name = line.split()
            assert name == class_name
            assert [float(v) for v in numbers] == pytest.approx([*box.center, *box.size, box.yaw], abs=1e-4)
        if data.name != "frame-1":
            assert not (tmp_path / "kitti" / "label_2" / f"{data.name}.txt").exists()
            continue
        labels = (tmp_path / "kitti" / "label_2" / "frame-1.txt").read_text().splitlines()
        calib = (tmp_path / "kitti" / "calib" / "frame-1.txt").read_text()
        assert "Tr_velo_to_cam: " in calib
        assert "P2: 4.000000000000e+01" in calib
        written = {line.split()[0]: line.split() for line in labels}
        assert len(labels) + sum(1 for s in kitti.skipped_objects if s.data_name == "frame-1") == len(objects)
        for class_name, box in objects:
            assert isinstance(box, Box3D)
            fields = written.get(class_name)
            if fields is None:
                continue
            (x, y, z), (length, width, height) = box.center, box.size
            # Camera coordinates of the bottom centre: x = -y_lidar, y = -(z - h/2), z = x_lidar.
            expected_location = [-y, -(z - height / 2), x]
            assert [float(v) for v in fields[8:11]] == pytest.approx([height, width, length], abs=0.01)
            assert [float(v) for v in fields[11:14]] == pytest.approx(expected_location, abs=0.01)
            ry = float(fields[14])
            expected_ry = (-box.yaw - math.pi / 2 + math.pi) % (2 * math.pi) - math.pi
            assert math.isclose(math.cos(ry), math.cos(expected_ry), abs_tol=0.01)
            assert math.isclose(math.sin(ry), math.sin(expected_ry), abs_tol=0.01)
    # Every 3D box written, with or without a camera.
    assert (boxes.objects, boxes.skipped) == (total, 0)
    assert kitti.objects + kitti.skipped == total


async def test_the_cli_exports_each_format(emu: Emulator, client: AsyncBasicAI, tmp_path: Path) -> None:
    dataset_id = await _images_dataset(client)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASICAI_API") and k != "BASICAI_BASE_URL"}
    env |= {"BASICAI_API_KEY": KEY, "BASICAI_BASE_URL": emu.base_url}

    async def run(*args: str) -> tuple[int, str, str]:
        # The emulator runs in this loop: the CLI's process is awaited, not waited for.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "basicai_async",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await run("export", str(dataset_id), "--format", "coco", "-o", str(tmp_path / "coco"))
    assert code == 0, err
    assert "(coco: " in out
    assert len(COCO(str(tmp_path / "coco" / "annotations.json")).getImgIds()) == 4
    code, out, err = await run("export", str(dataset_id), "--format", "voc", "-o", str(tmp_path / "voc"))
    assert code == 0, err
    assert "not converted:" in out
    assert "voc holds no Polygon objects" in out
    assert len(list((tmp_path / "voc" / "Annotations").iterdir())) == 4


async def test_jsonl_lines_carry_their_data_items_name_and_files(
    client: AsyncBasicAI, tmp_path: Path
) -> None:
    dataset_id = await _images_dataset(client)
    summary = await export_results(client, dataset_id, tmp_path / "r.jsonl")
    lines = [msgspec.json.decode(line) for line in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    assert summary.results == len(lines) == 2 * len(IMAGES | IN_BATCH)
    assert {line["dataName"] for line in lines} == set(IMAGES | IN_BATCH)
    for line in lines:
        (file,) = line["dataFiles"]
        assert file["name"] == line["dataName"]
        assert file["url"].startswith("http://127.0.0.1:")
        assert {"dataId", "sourceId", "instances"} <= line.keys()
    # A directory format refuses a directory that holds files, before any call.
    with pytest.raises(FileExistsError, match="not an empty one"):
        await export_results(client, dataset_id, tmp_path, format="voc")
    with pytest.raises(ValueError, match="unknown export format 'csv'"):
        await export_results(client, dataset_id, tmp_path / "x", format="csv")
    assert not (tmp_path / "x").exists()


async def test_a_failed_export_leaves_no_file_that_passes_for_a_whole_one(
    emu: Emulator, tmp_path: Path
) -> None:
    async with AsyncBasicAI(
        KEY, base_url=emu.base_url, max_retries=0, limits=Limits((Window(10**6, 1.0),))
    ) as c:
        dataset_id = await _images_dataset(c)
        emu.faults.set(
            FaultRule(error_rate=1.0, error_statuses=(500,)), endpoint="dataset/batchDataAnnotationResult"
        )
        for fmt, closing_file in (("coco", "annotations.json"), ("yolo", "data.yaml")):
            with pytest.raises(ServerError):
                await export_results(c, dataset_id, tmp_path / fmt, format=fmt)
            assert not (tmp_path / fmt / closing_file).exists()
