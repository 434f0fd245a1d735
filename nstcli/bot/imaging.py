"""Encoding images for Telegram (PIL only: the Telegram adapter must not load torch)."""

from __future__ import annotations

import io

from PIL import Image

#: Longer side and JPEG quality of preview frames: a few KB each.
PREVIEW_SIDE = 320
PREVIEW_QUALITY = 70


def encode(image: Image.Image, fmt: str = "JPEG", quality: int = 92) -> bytes:
    """Our own encoding (telebot's PIL path would use a low JPEG quality)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def preview_jpeg(image: Image.Image) -> bytes:
    """A small, compressed frame for the status message."""
    frame = image.convert("RGB")
    frame.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return encode(frame, "JPEG", PREVIEW_QUALITY)
