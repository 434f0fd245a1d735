"""The SRResNet generator of Ledig et al. (SRGAN, 2017), with EDSR's simplifications.

Layout (the paper's): 9x9 head conv, residual blocks, a conv closing the long (global) skip,
two x2 pixel-shuffle stages, 9x9 tail conv. Choices made here, each for a measured reason:

- no batch norm by default (EDSR: BN removes range flexibility and costs time on a CPU);
  `batch_norm=True` gives the paper's blocks;
- residual scaling (EDSR) keeps deep stacks stable at a higher learning rate;
- the output is added to a bicubic upsampling of the input, so the network learns only the
  missing detail: training starts at bicubic quality instead of noise, which matters when all
  training happens on two CPU cores. This is part of the architecture (always on).

The architecture is recovered from a state dict's keys and shapes (`infer_config`), so a
weights file needs no side-car description; `res_scale` is folded into the weights on export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

SCALE = 4


@dataclass(frozen=True)
class GeneratorConfig:
    """The architecture hyper-parameters; stored in every checkpoint and the manifest."""

    blocks: int = 16
    channels: int = 64
    batch_norm: bool = False
    res_scale: float = 1.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> GeneratorConfig:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)  # type: ignore[arg-type]


class ResidualBlock(nn.Module):
    """conv-(BN)-PReLU-conv-(BN), scaled, plus the identity."""

    def __init__(self, channels: int, batch_norm: bool, res_scale: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, channels, 3, padding=1)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        layers.append(nn.PReLU(channels))
        layers.append(nn.Conv2d(channels, channels, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(channels))
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.res_scale != 1.0:
            out = out * self.res_scale
        return x + out


class UpsampleStage(nn.Module):
    """conv to 4x channels, pixel shuffle x2, PReLU (the paper's sub-pixel stage)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(nn.Module):
    """x4 generator mapping RGB in [0, 1] of size (h, w) to RGB of size (4h, 4w)."""

    scale = SCALE

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        c = config.channels
        self.head = nn.Sequential(nn.Conv2d(3, c, 9, padding=4), nn.PReLU(c))
        self.body = nn.Sequential(
            *(ResidualBlock(c, config.batch_norm, config.res_scale) for _ in range(config.blocks))
        )
        closing: list[nn.Module] = [nn.Conv2d(c, c, 3, padding=1)]
        if config.batch_norm:
            closing.append(nn.BatchNorm2d(c))
        self.body_end = nn.Sequential(*closing)
        self.upsample = nn.Sequential(UpsampleStage(c), UpsampleStage(c))
        self.tail = nn.Conv2d(c, 3, 9, padding=4)
        self.register_buffer("mean", torch.tensor([0.45, 0.44, 0.40]).view(1, 3, 1, 1))
        # Start as exactly bicubic: the residual branch begins silent.
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x - self.mean)
        features = features + self.body_end(self.body(features))
        detail = self.tail(self.upsample(features))
        return detail + F.interpolate(x, scale_factor=SCALE, mode="bicubic", align_corners=False)


def infer_config(state: dict[str, torch.Tensor]) -> GeneratorConfig | None:
    """The `GeneratorConfig` a state dict was saved from, or None if it is not an SRResNet's."""
    head = state.get("head.0.weight")
    if head is None or head.dim() != 4 or tuple(head.shape[1:]) != (3, 9, 9):
        return None
    blocks = 1 + max(
        (int(key.split(".")[1]) for key in state if key.startswith("body.") and "." in key[5:]),
        default=-1,
    )
    batch_norm = "body_end.1.weight" in state
    return GeneratorConfig(blocks=blocks, channels=int(head.shape[0]), batch_norm=batch_norm)


def fold_res_scale(state: dict[str, torch.Tensor], res_scale: float) -> dict[str, torch.Tensor]:
    """Multiply each block's last conv (or BN) by `res_scale`, so inference can use 1.0."""
    if res_scale == 1.0:
        return dict(state)
    folded = dict(state)
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 5 and parts[0] == "body" and parts[2] == "body":
            index = int(parts[3])
            last = max(
                int(k.split(".")[3]) for k in state if k.startswith(f"body.{parts[1]}.body.")
            )
            if index == last:
                folded[key] = value * res_scale
    return folded
