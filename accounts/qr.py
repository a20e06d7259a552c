"""QR codes as inline SVG (``qrcode``, no Pillow), for authenticator apps."""

from __future__ import annotations

import qrcode
from django.utils.safestring import SafeString, mark_safe
from qrcode.image.svg import SvgPathFillImage


def qr_svg(data: str) -> SafeString:
    """``data`` (an ``otpauth://`` URL) as an ``<svg>`` element: black modules
    on a white square, so dark pages do not hide it from the camera."""
    image = qrcode.make(data, image_factory=SvgPathFillImage, border=2)
    # Safe: the markup is qrcode's own (paths and numbers), never the data as text.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308
