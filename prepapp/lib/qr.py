"""QR codes as SVG, drawn on the server (the qrcode library), ready for an <img src>."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def qr_svg(text: str) -> bytes:
    """A QR code of `text` as a standalone SVG document (black squares on white, a quiet zone around)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathFillImage, border=4)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_svg_data_uri(text: str) -> str:
    """The same SVG as a data: URI: the page shows it without another request (img-src allows data:)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text)).decode("ascii")
