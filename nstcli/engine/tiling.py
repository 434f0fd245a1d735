"""Planning and blending for print-size stylisation in overlapping tiles.

When a whole-image optimisation at the requested size would not fit the memory budget (or
when tiles are asked for), the run stylises the whole picture at the largest size that fits,
upsamples it, then refines it tile by tile at full size. Every tile pulls towards the same
whole-image style Gram matrices (computed once), so all tiles share one style; overlapping
tiles are cross-faded with linear ramps, so no seam shows. Memory is bounded by the tile
size, not by the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

#: Tile sides are multiples of this, so every backbone's strided layers divide them evenly.
TILE_MULTIPLE = 32
MIN_TILE = 128


@dataclass(frozen=True)
class Box:
    """A tile's pixel box in the full-size image: [left, right) × [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class RunPlan:
    """How a run will proceed; printed before work starts."""

    width: int
    height: int
    #: (long side, steps) of the whole-image stages, coarse to fine.
    scales: list[tuple[int, int]]
    budget_bytes: int | None
    whole_image_bytes: int
    tiles: list[Box] = field(default_factory=list)
    tile_size: int = 0
    overlap: int = 0
    tile_steps: int = 0
    #: The `--steps` the run was planned for (0: not recorded).
    steps_budget: int = 0

    @property
    def tiled(self) -> bool:
        return bool(self.tiles)

    @property
    def total_steps(self) -> int:
        return sum(steps for _, steps in self.scales) + len(self.tiles) * self.tile_steps

    def step_costs(self) -> list[float]:
        """Relative cost of each step, in pixels: a 128 px step costs ~1/16 of a 512 px one.

        Progress and ETAs weight steps by this, so the cheap coarse scales of a multi-scale
        run do not make the early estimate far too short.
        """
        long_side = max(self.width, self.height)
        costs: list[float] = []
        for size, steps in self.scales:
            costs += [self.width * self.height * (size / long_side) ** 2] * steps
        for box in self.tiles:
            costs += [float(box.width * box.height)] * self.tile_steps
        return costs

    def work_fractions(self) -> list[float]:
        """Fraction of the run's pixel-weighted work done after each step (last is 1.0)."""
        costs = self.step_costs()
        total = sum(costs) or 1.0
        done, fractions = 0.0, []
        for cost in costs:
            done += cost
            fractions.append(done / total)
        return fractions

    def describe(self) -> str:
        budget = "unbounded" if self.budget_bytes is None else _gib(self.budget_bytes)
        scales = " → ".join(f"{size}px×{steps}" for size, steps in self.scales)
        text = f"{self.width}×{self.height}: whole image {scales}"
        if self.tiled:
            text += (
                f", then {len(self.tiles)} tiles of {self.tile_size}px "
                f"(overlap {self.overlap}px) × {self.tile_steps} steps"
            )
        text += f" = {self.total_steps} steps"
        if self.steps_budget and self.total_steps > self.steps_budget:
            text += f" (--steps {self.steps_budget} is under one step per tile)"
        return (
            f"{text}; memory budget {budget} "
            f"(whole image at full size needs {_gib(self.whole_image_bytes)})"
        )


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB"


def tile_boxes(width: int, height: int, tile: int, overlap: int) -> list[Box]:
    """Tiles of side ≤ `tile` covering the image, neighbours overlapping by ≥ `overlap`."""

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        count = math.ceil((length - overlap) / (tile - overlap))
        stride = (length - tile) / (count - 1)
        return [round(index * stride) for index in range(count)]

    return [
        Box(left, top, min(left + tile, width), min(top + tile, height))
        for top in starts(height)
        for left in starts(width)
    ]


def feather(box: Box, width: int, height: int, overlap: int) -> torch.Tensor:
    """Blend weights (1, 1, h, w): linear ramps over `overlap` px on edges inside the image."""

    def ramp(length: int, at_start: bool, at_end: bool) -> torch.Tensor:
        position = torch.arange(length, dtype=torch.float32)
        weight = torch.ones(length)
        if overlap > 0 and not at_start:
            weight = torch.minimum(weight, (position + 1) / (overlap + 1))
        if overlap > 0 and not at_end:
            weight = torch.minimum(weight, (length - position) / (overlap + 1))
        return weight

    across = ramp(box.width, box.left == 0, box.right == width)
    down = ramp(box.height, box.top == 0, box.bottom == height)
    return (down[:, None] * across[None, :])[None, None]


class Canvas:
    """Accumulates feathered tiles: sum(weight · tile) / sum(weight)."""

    def __init__(self, height: int, width: int):
        self.total = torch.zeros(1, 3, height, width)
        self.weight = torch.zeros(1, 1, height, width)
        self.width, self.height = width, height

    def add(self, box: Box, tile: torch.Tensor, overlap: int) -> None:
        weight = feather(box, self.width, self.height, overlap)
        region = (slice(None), slice(None), slice(box.top, box.bottom), slice(box.left, box.right))
        self.total[region] += tile.detach().float().cpu() * weight
        self.weight[region] += weight

    def result(self) -> torch.Tensor:
        return self.total / self.weight.clamp_min(1e-8)
