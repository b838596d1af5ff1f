"""Draw the patient app's icons (PNG) and write them next to its static files.

A development tool, run by hand when the icon changes: `python frontend/make_icons.py`.
Pure Python (zlib + struct), so it needs nothing installed. The shapes are drawn as
signed distance fields, which gives smooth anti-aliased edges at every size.

The icon: a white ring with a check mark on the app's calm teal.
"""

import math
import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent / "static" / "frontend" / "patient" / "icons"
TEAL = (29, 92, 99)
WHITE = (255, 255, 255)


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _rounded_box_distance(px, py, half, radius):
    qx, qy = abs(px) - half + radius, abs(py) - half + radius
    return math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0) - radius


def draw(size: int, *, maskable: bool) -> list[bytearray]:
    """RGBA rows. Coordinates run from -1 to 1 across the image."""
    # Maskable icons may be cut to a circle of 80% of the size: keep the drawing inside it.
    scale = 0.62 if maskable else 0.78
    px_size = 2.0 / size
    rows = []
    for j in range(size):
        row = bytearray()
        y = (j + 0.5) * px_size - 1.0
        for i in range(size):
            x = (i + 0.5) * px_size - 1.0
            if maskable:
                bg_alpha = 1.0
            else:
                bg_alpha = max(0.0, min(1.0, 0.5 - _rounded_box_distance(x, y, 0.94, 0.36) / px_size))
            # The mark, in the drawing's own units (radius 1 before scaling).
            u, v = x / scale, y / scale
            ring = abs(math.hypot(u, v) - 0.86) - 0.09
            check = min(
                _segment_distance(u, v, -0.42, 0.02, -0.12, 0.32),
                _segment_distance(u, v, -0.12, 0.32, 0.46, -0.30),
            ) - 0.11
            mark = min(ring, check) * scale
            mark_alpha = max(0.0, min(1.0, 0.5 - mark / px_size))
            colour = [round(t + (w - t) * mark_alpha) for t, w in zip(TEAL, WHITE)]
            row += bytes(colour) + bytes([round(255 * bg_alpha)])
        rows.append(row)
    return rows


def png(rows: list[bytearray]) -> bytes:
    height, width = len(rows), len(rows[0]) // 4
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-512.png", 512, True),
        # iOS draws its own rounded corners on a full square.
        ("apple-touch-icon.png", 180, True),
    ]:
        (OUT / name).write_bytes(png(draw(size, maskable=maskable)))
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
