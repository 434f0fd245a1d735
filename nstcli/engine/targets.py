"""What the output is pulled towards: content features and style Gram matrices per region.

Computed once per scale (or tile) with the frozen backbone, in inference mode, then kept
fixed while the pixels are optimised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from nstcli.engine import losses
from nstcli.engine.features import FeatureRunner
from nstcli.engine.guide import PixelAnchor
from nstcli.engine.masks import mask_tensor
from nstcli.engine.tiling import TILE_MULTIPLE, Box


@dataclass
class StyleRegion:
    """Style Gram targets for one region: the whole image (mask None) or a soft mask."""

    grams: dict[str, torch.Tensor]
    #: (1, 1, H, W) in [0, 1] at the resolution of the image being optimised.
    mask: torch.Tensor | None = None


@dataclass
class Targets:
    """Fixed targets of one scale or tile."""

    content: dict[str, torch.Tensor]
    regions: list[StyleRegion]
    #: Whether the style Grams were taken of softmax-smoothed features; the output's
    #: features are compared the same way (`for_style`).
    smoothing: bool
    #: What the `temporal` term pulls towards (a job's guide at this scale), if anything.
    anchor: PixelAnchor | None = None


def for_style(features: torch.Tensor, smoothing: bool) -> torch.Tensor:
    """A layer's features as style Grams see them (`losses.smooth_activations` or as is)."""
    return losses.smooth_activations(features) if smoothing else features


def style_grams(
    runner: FeatureRunner,
    style: torch.Tensor,
    layers: Sequence[str],
    smoothing: bool,
    tile: int | None = None,
) -> dict[str, torch.Tensor]:
    """Gram matrices of one style image; in tiles when it is larger than `tile`².

    Grams are sums over positions (`losses.gram_sum`), so they can be accumulated tile by
    tile: each tile is extracted with a margin for context, and only the feature positions
    of its core count.
    """
    height, width = style.shape[-2:]
    if tile is None or height * width <= tile * tile:
        with torch.inference_mode():
            features = runner.features(style)
            grams = {n: losses.gram_matrix(for_style(features[n], smoothing)) for n in layers}
        return _trackable(grams)
    margin = TILE_MULTIPLE * 2
    core = max(TILE_MULTIPLE, tile - 2 * margin)
    sums: dict[str, torch.Tensor] = {}
    positions: dict[str, int] = dict.fromkeys(layers, 0)
    with torch.inference_mode():
        for top in range(0, height, core):
            for left in range(0, width, core):
                right, bottom = min(width, left + core + margin), min(height, top + core + margin)
                box = Box(max(0, left - margin), max(0, top - margin), right, bottom)
                features = runner.features(style[..., box.top : box.bottom, box.left : box.right])
                for name in layers:
                    feature = for_style(features[name], smoothing)
                    scale_y = feature.shape[-2] / box.height
                    scale_x = feature.shape[-1] / box.width
                    y0, x0 = round((top - box.top) * scale_y), round((left - box.left) * scale_x)
                    y1 = round((min(height, top + core) - box.top) * scale_y)
                    x1 = round((min(width, left + core) - box.left) * scale_x)
                    part = feature[..., y0:y1, x0:x1]
                    product = losses.gram_sum(part)
                    sums[name] = sums[name] + product if name in sums else product
                    positions[name] += part.shape[-2] * part.shape[-1]
    return _trackable({n: sums[n] / (sums[n].shape[-1] * max(1, positions[n])) for n in layers})


def content_targets(
    runner: FeatureRunner, content: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        features = runner.features(content)
    return _trackable({name: features[name] for name in layers})


def style_regions(
    grams: Sequence[dict[str, torch.Tensor]],
    blend: Sequence[float],
    masks: Sequence[Image.Image] | None,
    size: tuple[int, int],
    crop: Box | None,
    device: torch.device,
) -> list[StyleRegion]:
    """One blended region, or with masks one region per style.

    `size` is (width, height) of the image the masks cover: the image being optimised, or
    with `crop` the full-size image a tile is cut from.
    """
    if masks is None:
        merged: dict[str, torch.Tensor] = {}
        for weight, style_gram in zip(blend, grams, strict=True):
            for name, gram in style_gram.items():
                merged[name] = merged[name] + weight * gram if name in merged else weight * gram
        return [StyleRegion(merged)]
    regions = []
    for mask, style_gram in zip(masks, grams, strict=True):
        tensor = mask_tensor(mask, *size, device)
        if crop is not None:
            tensor = tensor[..., crop.top : crop.bottom, crop.left : crop.right]
        regions.append(StyleRegion(style_gram, tensor))
    return regions


def _trackable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies made outside inference mode: inference tensors cannot be saved for backward."""
    return {name: tensor.clone() for name, tensor in tensors.items()}
