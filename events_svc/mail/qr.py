"""A QR code as a PNG, for e-mail (mail clients show no inline SVG)."""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

import segno

SCALE = 5  #: pixels a module
BORDER = 4  #: the quiet zone, in modules

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# one module as its SCALE pixels (dark = 0 = black in 1-bit greyscale), by module value
_BITS = str.maketrans({"\x00": "1" * SCALE, "\x01": "0" * SCALE})


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=1024)
def qr_png(url: str) -> bytes:
    """The QR code of `url` as a PNG (1-bit greyscale, 5 px a module, quiet zone of 4).

    Cached per URL: a person's reminders of one event (several rules, occurrences) carry the
    same code. Reminders usually find theirs rendered ahead (`sender.reminder_qr`)."""
    # a fixed mask: choosing the best of eight cost ~10 ms a reminder here (every mask gives a
    # valid code; phone cameras read them alike), a fixed one ~4 ms
    matrix = segno.make(url, error="m", mask=0).matrix
    side = (len(matrix) + 2 * BORDER) * SCALE
    stride = (side + 7) // 8
    quiet = b"\x00" + b"\xff" * stride
    # segno's own PNG writer works pixel by pixel in Python (half the cost of a code): here a
    # module row is expanded once, as text, and repeated SCALE times
    margin = "1" * (BORDER * SCALE)
    pad = "1" * (stride * 8 - side)
    rows = []
    for modules in matrix:
        bits = margin + bytes(modules).decode("latin-1").translate(_BITS) + margin + pad
        rows.append((b"\x00" + int(bits, 2).to_bytes(stride, "big")) * SCALE)
    raw = quiet * (BORDER * SCALE) + b"".join(rows) + quiet * (BORDER * SCALE)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"".join(
        [
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, 6)),
            _chunk(b"IEND", b""),
        ]
    )
