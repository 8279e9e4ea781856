"""Sample files for demos and tests: small, valid, distinct images made on the spot."""

from __future__ import annotations

import os
import struct
import zlib

__all__ = ["sample_png"]


def sample_png(seed: int, size: int = 64) -> bytes:
    """A small, valid, distinct PNG image (noise tinted by ``seed``)."""
    rnd = os.urandom(size * size * 3)
    tint = bytes(((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        row = rnd[y * size * 3 : (y + 1) * size * 3]
        rows.extend(b ^ tint[i % 3] for i, b in enumerate(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )
