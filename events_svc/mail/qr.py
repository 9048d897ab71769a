"""A QR code as a PNG, for e-mail (mail clients show no inline SVG)."""

from __future__ import annotations

import io

import segno


def qr_png(url: str) -> bytes:
    """The QR code of `url` as a PNG (1-bit greyscale, 5 px a module, quiet zone of 4)."""
    out = io.BytesIO()
    # a fixed mask: choosing the best of eight cost ~10 ms a reminder here (every mask gives a
    # valid code; phone cameras read them alike), a fixed one ~4 ms
    segno.make(url, error="m", mask=0).save(out, kind="png", scale=5, border=4)
    return out.getvalue()
