#!/usr/bin/env python3
"""Draws the web page's icons (a speech bubble on the page's blue) as PNGs, with the standard library only.

Run from the repository's root after changing the drawing; the PNGs it writes are committed:
    python3 scripts/make-icons.py
"""
import struct
import zlib

BLUE = (11, 87, 208)
WHITE = (255, 255, 255)


def pixel(x, y, size):
    """The colour at (x, y) of a size-by-size icon: a rounded square, and a bubble with a tail inside it."""
    u, v = (x + 0.5) / size, (y + 0.5) / size
    corner = 0.18
    cx, cy = min(max(u, corner), 1 - corner), min(max(v, corner), 1 - corner)
    if (u - cx) ** 2 + (v - cy) ** 2 > corner ** 2:
        return None  # outside the rounded square: transparent (maskable icons fill it themselves)
    # The bubble: an ellipse, and a triangle under its left side.
    if ((u - 0.5) / 0.32) ** 2 + ((v - 0.45) / 0.24) ** 2 <= 1:
        return WHITE
    if 0.3 <= u <= 0.45 and 0.6 <= v <= 0.8 and (u - 0.3) <= (0.8 - v) * 0.75:
        return WHITE
    return BLUE


def png(size):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            colour = pixel(x, y, size)
            row += bytes(colour + (255,)) if colour else bytes((0, 0, 0, 0))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


for size in (32, 192, 512):
    with open(f"Sources/ChatNode/Web/icon-{size}.png", "wb") as out:
        out.write(png(size))
