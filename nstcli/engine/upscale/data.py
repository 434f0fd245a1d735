"""Image pairs for training and validation of the x4 upscaler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from nstcli.engine.errors import InputError
from nstcli.engine.images import image_to_tensor, load_image
from nstcli.engine.upscale.degrade import crop_to_multiple, downscale_tensor
from nstcli.engine.upscale.model import SCALE

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Pair:
    """One validation image: the given LR input and its HR reference (both PIL RGB)."""

    name: str
    lr: object
    hr: object


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: contains no images")
    return files


def load_pairs(folder: Path) -> list[Pair]:
    """`*_HR.png` with their `*_LR.png` from `folder` (the Set5/Set14 layout)."""
    pairs = []
    for hr_path in sorted(folder.glob("*_HR.*")):
        lr_matches = sorted(
            folder.glob(hr_path.name.replace("_HR.", "_LR.").rsplit(".", 1)[0] + ".*")
        )
        if not lr_matches:
            raise InputError(f"{hr_path}: no matching *_LR image beside it")
        hr = load_image(hr_path)
        lr = load_image(lr_matches[0])
        expected = (lr.width * SCALE, lr.height * SCALE)
        if hr.size != expected:
            hr = crop_to_multiple(hr)
        if hr.size != expected:
            raise InputError(f"{hr_path}: HR size {hr.size} is not 4x its LR size {lr.size}")
        name = hr_path.name.split("_HR.")[0]
        pairs.append(Pair(name, lr, hr))
    if not pairs:
        raise InputError(f"{folder}: no *_HR/*_LR image pairs")
    return pairs


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
