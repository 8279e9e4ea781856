"""A toy model served to BasicAI through the Plugin API: one box around the centre of each image.

The "model" reads the image size from the PNG, GIF or JPEG header with the
standard library only; a real one would run a detector where ``predict`` does.

Serve it (BasicAI then POSTs to the URL it prints: add a public ``--host``, and ``--path``
as in the model URL registered in the platform; see the README's "Connecting it to the platform")::

    basicai-async plugin serve examples/plugin_detector.py:predict --port 8000 --allow-private
    basicai-async plugin try http://127.0.0.1:8000/ photo1.png photo2.jpg

or run this file with image paths: it serves itself on loopback, sends the
request BasicAI would send, and prints the checked answer.
"""

from __future__ import annotations

import asyncio
import struct
import sys
import tempfile
from pathlib import Path

from basicai_async.emulator import sample_png
from basicai_async.plugin import Box2D, ImageItem, Prediction, create_app, serve_app, try_plugin


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, GIF or baseline/progressive JPEG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data):
            marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return int(width), int(height)
            at += 2 + length
    raise ValueError("not a PNG, GIF or JPEG image")


def predict(item: ImageItem) -> Prediction[Box2D]:
    """Sync on purpose: a CPU-bound model runs in a worker thread and leaves the server responsive."""
    width, height = image_size(item.image.read_bytes())
    box = Box2D(
        label="centre",
        confidence=0.5,
        left_top_x=width / 4,
        left_top_y=height / 4,
        right_bottom_x=width * 3 / 4,
        right_bottom_y=height * 3 / 4,
    )
    return Prediction(objects=[box], confidence=0.5)


async def main(files: list[Path]) -> int:
    # allow_private: the trial serves the files on loopback, which a deployed service must not fetch.
    app = create_app(predict, allow_private=True)
    async with serve_app(app) as url:
        report = await try_plugin(url, files)
    for problem in report.problems:
        print(f"contract problem: {problem}")
    for failure in report.failed_items:
        print(f"failed: {failure}")
    for entry in report.answer["data"]:
        for box in entry["objects"]:
            print(f"item {entry['id']}: {box['label']} at ({box['leftTopX']}, {box['leftTopY']})")
    print(f"{report.ok_items} of {len(files)} items OK; contract {'OK' if not report.problems else 'broken'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(asyncio.run(main([Path(arg) for arg in sys.argv[1:]])))
    with tempfile.TemporaryDirectory(prefix="plugin-detector-") as folder:
        samples = [Path(folder) / f"sample-{i}.png" for i in range(2)]
        for i, sample in enumerate(samples):
            sample.write_bytes(sample_png(i, size=32))
        sys.exit(asyncio.run(main(samples)))
