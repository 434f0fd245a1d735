"""Training patches for the x4 upscaler, and how their low-resolution inputs are made.

The validation sets' `*_LR.png` were made with MATLAB's `imresize(hr, 1/4)` (bicubic,
a = -0.5, antialiased by widening the kernel). Training makes its LR inputs with
`downscale_tensor` (torch's antialiased bicubic): of it and Pillow's BICUBIC, it was the
closer match to those files when we measured (a one-off check; no script for it is kept).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from nstcli.engine.errors import InputError
from nstcli.engine.images import image_to_tensor, load_image
from nstcli.engine.upscale.model import SCALE
from nstcli.engine.upscale.pairs import crop_to_multiple

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def downscale_tensor(hr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1], H and W multiples of `scale` → (N, 3, H/scale, W/scale)."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(
        hr, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True
    )
    return lr.clamp(0, 1)


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: contains no images")
    return files


class PatchSampler:
    """All training images held in memory as uint8 HR/LR tensor pairs; random aligned crops.

    LR images are made once per whole image (crop to a multiple of 4, antialiased bicubic),
    then HR/LR crops are taken at aligned positions, so no crop-border effects leak into the
    inputs; random flips and 90-degree rotations are applied to both.
    """

    def __init__(self, files: list[Path], min_size: int) -> None:
        self.hr: list[torch.Tensor] = []
        self.lr: list[torch.Tensor] = []
        for path in files:
            image = crop_to_multiple(load_image(path))
            if min(image.size) < min_size:
                continue
            hr = image_to_tensor(image)
            lr = downscale_tensor(hr)
            self.hr.append(hr[0].mul(255).round().to(torch.uint8))
            self.lr.append(lr[0].mul(255).round().to(torch.uint8))
        if not self.hr:
            raise InputError(f"no training image is at least {min_size} px on both sides")

    def __len__(self) -> int:
        return len(self.hr)

    def sample(
        self, batch: int, hr_patch: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR batch, HR batch) as float in [0, 1]."""
        lr_patch = hr_patch // SCALE
        lrs, hrs = [], []
        for _ in range(batch):
            index = int(torch.randint(len(self.hr), (1,), generator=generator))
            lr_full, hr_full = self.lr[index], self.hr[index]
            h, w = lr_full.shape[-2:]
            y = int(torch.randint(h - lr_patch + 1, (1,), generator=generator))
            x = int(torch.randint(w - lr_patch + 1, (1,), generator=generator))
            lr = lr_full[:, y : y + lr_patch, x : x + lr_patch]
            hr = hr_full[:, y * SCALE : (y + lr_patch) * SCALE, x * SCALE : (x + lr_patch) * SCALE]
            flips = torch.randint(2, (3,), generator=generator).tolist()
            if flips[0]:
                lr, hr = lr.flip(-1), hr.flip(-1)
            if flips[1]:
                lr, hr = lr.flip(-2), hr.flip(-2)
            if flips[2]:
                lr, hr = lr.transpose(-1, -2), hr.transpose(-1, -2)
            lrs.append(lr)
            hrs.append(hr)
        return (
            torch.stack(lrs).float().div_(255),
            torch.stack(hrs).float().div_(255),
        )
