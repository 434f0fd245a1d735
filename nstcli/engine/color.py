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


def match_palette(content: Image.Image, styles: list[Image.Image]) -> Image.Image:
    """The content recoloured so its RGB mean and covariance match the styles' pixels.

    A start for the optimisation that already has the painting's palette but the photo's
    layout: from the photo itself the style loss has to repaint every colour (and the
    photo's sky tends to survive); from noise the layout has to be rebuilt. The linear map
    is A = C_s^½ C_c^-½ (symmetric square roots), as in Gatys et al. 2016's colour
    histogram matching, in the other direction.
    """
    pixels = np.asarray(content.convert("RGB"), dtype=np.float64).reshape(-1, 3) / 255.0
    style_pixels = np.concatenate(
        [np.asarray(s.convert("RGB"), dtype=np.float64).reshape(-1, 3) / 255.0 for s in styles]
    )
    mean_c, mean_s = pixels.mean(0), style_pixels.mean(0)
    eye = np.eye(3) * 1e-5
    transform = _sqrtm(np.cov(style_pixels.T) + eye) @ np.linalg.inv(_sqrtm(np.cov(pixels.T) + eye))
    recoloured = (pixels - mean_c) @ transform.T + mean_s
    array = np.clip(recoloured * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(array.reshape(content.height, content.width, 3), mode="RGB")


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
