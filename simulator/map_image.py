"""A tiny grayscale floor image, drawn from the lanes, encoded as a PNG ``data:`` URI.

The dashboard needs an image under each level; generating it from the graph
keeps the sample site self-contained (no binary assets) and always in sync.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Iterable

BACKGROUND = 235
LANE = 150


class MapImage:
    """A grayscale raster in world coordinates (y up, row 0 at ``y_max``)."""

    def __init__(self, x_min: float, y_max: float, width: int, height: int, scale: float) -> None:
        self.x_min = x_min
        self.y_max = y_max
        self.width = width
        self.height = height
        self.scale = scale
        self.pixels = bytearray([BACKGROUND]) * (width * height)

    @classmethod
    def around(
        cls, points: Iterable[tuple[float, float]], *, scale: float, margin: float
    ) -> MapImage:
        xs, ys = zip(*points, strict=True)
        x_min, x_max = min(xs) - margin, max(xs) + margin
        y_min, y_max = min(ys) - margin, max(ys) + margin
        width = math.ceil((x_max - x_min) / scale)
        height = math.ceil((y_max - y_min) / scale)
        return cls(x_min, y_max, width, height, scale)

    def line(
        self,
        a: tuple[float, float],
        b: tuple[float, float],
        *,
        width: float,
        shade: int = LANE,
    ) -> None:
        """Stamp a square brush along the segment; crude, but a floor plan needs no more."""
        length = math.dist(a, b)
        steps = max(1, math.ceil(length / self.scale))
        radius = max(1, round(width / self.scale / 2))
        for i in range(steps + 1):
            t = i / steps
            col = round((a[0] + (b[0] - a[0]) * t - self.x_min) / self.scale)
            row = round((self.y_max - (a[1] + (b[1] - a[1]) * t)) / self.scale)
            for r in range(max(0, row - radius), min(self.height, row + radius + 1)):
                start = r * self.width
                lo, hi = max(0, col - radius), min(self.width, col + radius + 1)
                self.pixels[start + lo : start + hi] = bytes([shade]) * (hi - lo)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def encode_png(image: MapImage) -> bytes:
    """An 8-bit grayscale PNG (filter type 0 on every row)."""
    rows = b"".join(
        b"\x00" + bytes(image.pixels[r * image.width : (r + 1) * image.width])
        for r in range(image.height)
    )
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def render_png_data_uri(image: MapImage) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode()
