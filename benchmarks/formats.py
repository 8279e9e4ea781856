"""Training-format converters: memory flat in the dataset's size, time against JSON lines.

Each run converts a stream of N data items (one 1920x1080 image, two results
of three objects each: two boxes and a polygon) with one of the converters
at its defaults, in a fresh process, and reports its wall time and peak RSS.
The items are made one at a time as the export would hand them over, so
whatever memory grows with N is the converter's.

- ``rss_ratio``: the larger of COCO's and YOLO's peak RSS at 100,000 items over
  their peak at 10,000 (target <= 1.25: memory flat in the item count);
- ``coco_vs_jsonl``, ``yolo_vs_jsonl``: the time to write 100,000 items in the
  format over the time to write the same results as JSON lines (the export's
  own format, the baseline). YOLO writes a file per image, JSON lines one file.

Run: ``python benchmarks/formats.py``. The last line is one JSON object:
``{"benchmark": "formats", "rss_ratio": R, "coco_vs_jsonl": T1, "yolo_vs_jsonl": T2}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from basicai_async import ExportedData

__all__ = ["main"]

SMALL = 10_000
LARGE = 100_000
_CLASSES = ("Car", "Pedestrian", "Cyclist", "Truck")


def _items(count: int) -> Iterator[ExportedData]:
    from basicai_async import AnnotationResult, ExportedData, ExportedFile, Instance

    for data_id in range(1, count + 1):
        results = []
        for source in (1, 2):
            instances = []
            for k in range(3):
                seed = data_id * 31 + k * 7 + source
                x, y = 10 + seed % 1500, 20 + (seed * 7) % 900
                w, h = 16 + seed % 300, 12 + (seed * 3) % 150
                if k == 2:
                    kind, points = (
                        "POLYGON",
                        [(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)],
                    )
                else:
                    kind, points = "RECTANGLE", [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
                instances.append(
                    Instance(
                        id=f"{data_id}-{source}-{k}",
                        type=kind,
                        track_id=f"t{k}",
                        class_id=seed % 4 + 1,
                        class_name=_CLASSES[seed % 4],
                        contour={"points": [{"x": px, "y": py} for px, py in points]},
                        model_confidence=0.9 if source == 1 else None,
                    )
                )
            results.append(
                AnnotationResult(data_id=data_id, source_id=source, version=1, instances=instances)
            )
        image = ExportedFile(
            name=f"frame-{data_id:06d}.jpg",
            size=350_000,
            width=1920,
            height=1080,
            url=f"https://bucket.example/data/frame-{data_id:06d}.jpg",
            mime_type="image/jpeg",
        )
        yield ExportedData(id=data_id, name=f"frame-{data_id:06d}", files=[image], results=results)


def run_one(fmt: str, count: int, out: Path) -> dict[str, float]:
    """Convert ``count`` items to ``fmt`` in ``out`` (this process): seconds and peak RSS in KiB."""
    from basicai_async.formats import Tally, converter_named

    converter_type = converter_named(fmt)
    target = out / "results.jsonl" if converter_type.writes_file else out
    tally = Tally()
    converter = converter_type(target, tally)
    started = time.perf_counter()
    for item in _items(count):
        converter.add(item)
    converter.close()
    seconds = time.perf_counter() - started
    assert tally.objects == count * 6, (fmt, tally.objects)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_kib": float(peak), "objects": float(tally.objects)}


def _child(fmt: str, count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, __file__, "--run", fmt, str(count), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--run", nargs=3, metavar=("FORMAT", "COUNT", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--small", type=int, default=SMALL, help="items of the small run (default 10000)")
    parser.add_argument("--large", type=int, default=LARGE, help="items of the large run (default 100000)")
    args = parser.parse_args()
    if args.run:
        fmt, count, out = args.run
        print(json.dumps(run_one(fmt, int(count), Path(out))))
        return
    runs: dict[tuple[str, int], dict[str, float]] = {}
    for fmt in ("jsonl", "coco", "yolo"):
        for count in (args.small, args.large):
            runs[fmt, count] = run = _child(fmt, count)
            print(
                f"{fmt} x {count}: {run['seconds']:.2f} s, peak RSS {run['peak_kib'] / 1024:.1f} MiB, "
                f"{run['objects']:.0f} objects",
                flush=True,
            )
    ratio = max(
        runs[fmt, args.large]["peak_kib"] / runs[fmt, args.small]["peak_kib"] for fmt in ("coco", "yolo")
    )
    jsonl = runs["jsonl", args.large]["seconds"]
    out = {
        "benchmark": "formats",
        "rss_ratio": round(ratio, 3),
        "coco_vs_jsonl": round(runs["coco", args.large]["seconds"] / jsonl, 3),
        "yolo_vs_jsonl": round(runs["yolo", args.large]["seconds"] / jsonl, 3),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
