"""A guide for one still run: a picture to start from and to stay close to where trusted.

The clip pipeline gives each frame after the first the previous result, warped along the
optical flow, as its guide (Ruder et al. 2016): the run starts from it instead of the
photo, and the `temporal` loss term (engine.objective) ties the output to it on the
pixels the flow got right. The still engine knows nothing of clips; it only honours a
guide when a job has one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from nstcli.engine.images import image_to_tensor
from nstcli.engine.masks import mask_tensor
from nstcli.engine.tiling import Box


@dataclass(frozen=True)
class Guide:
    #: The start of the first scale, and what the temporal term pulls towards.
    image: Image.Image
    #: "L": white where `image` is trusted, black where the output is free (None: all).
    reliable: Image.Image | None = None


@dataclass
class PixelAnchor:
    """A guide at the resolution of one scale or tile, as tensors."""

    #: (1, 3, H, W) in [0, 1].
    image: torch.Tensor
    #: (1, 1, H, W) in [0, 1].
    weights: torch.Tensor


def anchor_at(
    guide: Guide | None, size: tuple[int, int], crop: Box | None, device: torch.device
) -> PixelAnchor | None:
    """`guide` resized to `size` (width, height), cut to `crop` for a tile."""
    if guide is None:
        return None
    picture = guide.image.convert("RGB")
    if picture.size != size:
        picture = picture.resize(size, Image.Resampling.BICUBIC)
    image = image_to_tensor(picture).to(device)
    if guide.reliable is None:
        weights = torch.ones_like(image[:, :1])
    else:
        weights = mask_tensor(guide.reliable, *size, device)
    if crop is not None:
        rows, columns = slice(crop.top, crop.bottom), slice(crop.left, crop.right)
        image, weights = image[..., rows, columns], weights[..., rows, columns]
    return PixelAnchor(image.contiguous(), weights.contiguous())
