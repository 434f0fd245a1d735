"""How low-resolution training inputs are made from high-resolution images.

The validation sets' `*_LR.png` were made with MATLAB's `imresize(hr, 1/4)` (bicubic,
a = -0.5, antialiased by widening the kernel). `downscale` is the closest match we measured
among torch's antialiased bicubic and Pillow's BICUBIC (see `bench/sr_degrade_match.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image

from nstcli.engine.upscale.model import SCALE


def downscale_tensor(hr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1], H and W multiples of `scale` → (N, 3, H/scale, W/scale)."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(
        hr, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True
    )
    return lr.clamp(0, 1)


def downscale_pil(hr: Image.Image, scale: int = SCALE) -> Image.Image:
    """Pillow's antialiased BICUBIC (a = -0.5) to 1/scale (size rounded down)."""
    w, h = hr.size
    return hr.resize((w // scale, h // scale), Image.Resampling.BICUBIC)


def crop_to_multiple(image: Image.Image, scale: int = SCALE) -> Image.Image:
    """Crop right/bottom so both sides are multiples of `scale` (as the benchmarks do)."""
    w, h = image.size
    return image.crop((0, 0, w - w % scale, h - h % scale))
