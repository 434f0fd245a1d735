"""How far each region of a result moved away from the content, as a heat map.

The per-pixel mean absolute RGB difference is smoothed (a Gaussian a hundredth of the
image wide), so the map shows *regions* — background versus objects — rather than the
brush-stroke noise of the style. Maps meant to be compared share one colour scale.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image

from nstcli.engine.images import resize_longer_side

COLORMAP = "magma"


def change_map(content: Image.Image, result: Image.Image, sigma: float | None = None) -> np.ndarray:
    """Smoothed |result − content| in [0, 1], shape (H, W) of `result`."""
    reference = resize_longer_side(content.convert("RGB"), max(result.size))
    if reference.size != result.size:
        reference = reference.resize(result.size, Image.Resampling.LANCZOS)
    a = np.asarray(result.convert("RGB"), dtype=np.float32)
    b = np.asarray(reference, dtype=np.float32)
    difference = np.abs(a - b).mean(axis=2) / 255.0
    return gaussian_blur(
        difference, sigma if sigma is not None else max(1.0, max(result.size) / 100)
    )


def gaussian_blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected edges (numpy only; Pillow can't blur floats)."""
    radius = max(1, int(3 * sigma))
    taps = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(taps**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    out = array.astype(np.float32)
    for axis in (0, 1):
        size = out.shape[axis]
        pad = min(radius, size - 1)
        widths = [(0, 0), (0, 0)]
        widths[axis] = (pad, pad)
        padded = np.pad(out, widths, mode="reflect") if pad else out
        if pad < radius:  # tiny images: edge-pad the remainder
            widths[axis] = (radius - pad, radius - pad)
            padded = np.pad(padded, widths, mode="edge")
        acc = np.zeros_like(out)
        for index, weight in enumerate(kernel):
            acc += weight * np.take(padded, np.arange(index, index + size), axis=axis)
        out = acc
    return out


def shared_scale(maps: list[np.ndarray], percentile: float = 99.0) -> float:
    """One upper bound for all maps (their largest 99th percentile), so colours compare."""
    if not maps:
        return 1.0
    return max(1e-6, max(float(np.percentile(m, percentile)) for m in maps))


def colorize(change: np.ndarray, scale: float) -> Image.Image:
    """Map [0, scale] through the colour map (dark = unchanged, bright = changed most)."""
    rgba = colormaps[COLORMAP](np.clip(change / scale, 0.0, 1.0))
    return Image.fromarray((rgba[..., :3] * 255 + 0.5).astype(np.uint8), mode="RGB")


def color_bar(width: int, height: int) -> Image.Image:
    """A horizontal strip of the colour map from 0 (left) to the scale (right)."""
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return colorize(ramp, 1.0)
