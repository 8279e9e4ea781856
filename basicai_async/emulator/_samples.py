"""Sample files for demos and tests: small, valid, distinct images made on the spot."""

from __future__ import annotations

import os
import struct
import zlib

__all__ = ["sample_png"]


def sample_png(seed: int, size: int = 64, height: int | None = None) -> bytes:
    """A small, valid, distinct PNG (noise tinted by ``seed``), ``size`` wide, ``height`` or ``size`` high."""
    width, height = size, size if height is None else height
    rnd = os.urandom(width * height * 3)
    tint = bytes(((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        row = rnd[y * width * 3 : (y + 1) * width * 3]
        rows.extend(b ^ tint[i % 3] for i, b in enumerate(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )
