"""Regions of a masked run: white = this style's region, black = keep the photo.

Masks are plain greyscale pictures; these helpers turn them into tensors for the masked
style loss, recolour the start per region, and composite the result over the photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from nstcli.engine import color
from nstcli.engine.images import image_to_tensor


def mask_tensor(mask: Image.Image, width: int, height: int, device: torch.device) -> torch.Tensor:
    """A mask as a (1, 1, height, width) tensor in [0, 1] on `device`."""
    grey = mask.convert("L")
    if grey.size != (width, height):
        grey = grey.resize((width, height), Image.Resampling.BILINEAR)
    return image_to_tensor(grey.convert("RGB"))[:, :1].to(device)


def mask_weights(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A mask as H×W float32 weights in [0, 1] at `size` (white = 1)."""
    grey = mask.convert("L").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def palette_start(
    content: Image.Image,
    styles: Sequence[Image.Image],
    blend: Sequence[float],
    masks: Sequence[Image.Image] | None,
) -> Image.Image:
    """The photo in the painting's colours; with masks, each region in its own style's."""
    if masks is None:
        return color.match_palette(content, list(styles), list(blend))
    base = np.asarray(content.convert("RGB"), dtype=np.float32)
    mixed, coverage = np.zeros_like(base), np.zeros(base.shape[:2], np.float32)
    for mask, style in zip(masks, styles, strict=True):
        weight = mask_weights(mask, content.size)
        palette = np.asarray(color.match_palette(content, [style]), dtype=np.float32)
        mixed += weight[..., None] * palette
        coverage += weight
    # Overlapping masks average their palettes; where no mask covers, the photo stays.
    pixels = mixed / np.maximum(coverage, 1.0)[..., None]
    pixels += base * (1.0 - np.minimum(coverage, 1.0))[..., None]
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def keep_content_outside(
    result: Image.Image, content: Image.Image, masks: Sequence[Image.Image]
) -> tuple[Image.Image, np.ndarray]:
    """Composite: stylised where the masks cover, the content where all are black.

    Coverage is the masks' sum capped at 1, as `palette_start` counts it: two styles
    whose masks fade into each other (a and 1 - a) cover every pixel in full, so no photo
    shows through the middle of the transition (their maximum would let half of it in).
    """
    width, height = result.size
    union = np.zeros((height, width), dtype=np.float32)
    for mask in masks:
        union += mask_weights(mask, result.size)
    union = np.minimum(union, 1.0)
    base = np.asarray(content.resize((width, height), Image.Resampling.LANCZOS), np.float32) / 255
    styled = np.asarray(result, dtype=np.float32) / 255.0
    pixels = styled * union[..., None] + base * (1.0 - union[..., None])
    return Image.fromarray((pixels * 255 + 0.5).astype(np.uint8), mode="RGB"), pixels
