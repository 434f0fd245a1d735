"""Benchmark image pairs (`*_HR`/`*_LR`, the Set5/Set14 layout) for scoring the x4 upscaler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nstcli.engine.errors import InputError
from nstcli.engine.images import load_image
from nstcli.engine.upscale.model import SCALE


@dataclass(frozen=True)
class Pair:
    """One validation image: the given LR input and its HR reference (both PIL RGB)."""

    name: str
    lr: Image.Image
    hr: Image.Image


def crop_to_multiple(image: Image.Image, scale: int = SCALE) -> Image.Image:
    """Crop right/bottom so both sides are multiples of `scale` (as the benchmarks do)."""
    w, h = image.size
    return image.crop((0, 0, w - w % scale, h - h % scale))


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
