"""Tiles for print-size stylisation: their boxes, and blending them back into one image.

When a whole-image optimisation at the requested size would not fit the memory budget (or
when tiles are asked for), the run stylises the whole picture at the largest size that fits,
upsamples it, then refines it tile by tile at full size. Every tile pulls towards the same
whole-image style Gram matrices (computed once), so all tiles share one style; overlapping
tiles are cross-faded with linear ramps, so no seam shows. Memory is bounded by the tile
size, not by the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
