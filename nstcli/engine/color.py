"""Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving colour in
neural artistic style transfer"): luminance-only transfer.

The style's luminance is matched to the content's (mean and spread) before optimising, so
the style contributes texture rather than brightness; afterwards the result's luminance is
recombined with the content's chroma, so the output keeps the content's colours exactly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def luminance_only_style(style: Image.Image, content: Image.Image) -> Image.Image:
    """The style as a grey image whose luminance mean/std match the content's."""
    style_y = np.asarray(style.convert("YCbCr"), dtype=np.float32)[..., 0]
    content_y = np.asarray(content.convert("YCbCr"), dtype=np.float32)[..., 0]
    scale = content_y.std() / max(float(style_y.std()), 1e-6)
    matched = (style_y - style_y.mean()) * scale + content_y.mean()
    grey = Image.fromarray(np.clip(matched + 0.5, 0, 255).astype(np.uint8), mode="L")
    return grey.convert("RGB")


def recombine_chroma(stylised: Image.Image, content: Image.Image) -> Image.Image:
    """The stylised image's luminance with the content's chroma (content resized to fit)."""
    if content.size != stylised.size:
        content = content.resize(stylised.size, Image.Resampling.LANCZOS)
    y = stylised.convert("YCbCr").getchannel("Y")
    _, cb, cr = content.convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")
