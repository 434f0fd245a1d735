"""How a run will proceed, decided before any optimisation: scales, and tiles when the
whole image would not fit the memory budget.

Pure arithmetic over a resolved `StylizeConfig` and the backbone's measured memory cost
(`memory.MemoryModel`); nothing here runs the network beyond that one probe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from nstcli.engine import memory, sizing
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import ResourceError
from nstcli.engine.tiling import MIN_TILE, TILE_MULTIPLE, Box, tile_boxes

if TYPE_CHECKING:
    from nstcli.engine.backbones import FeatureExtractor

#: Tiles are never planned larger than this side, however much memory there is.
MAX_TILE = 2048


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


def scale_plan(config: StylizeConfig) -> list[tuple[int, int]]:
    """(long side, steps) per scale, coarse to fine, for a resolved config.

    Sizes halve from `size` down to about `start_size` (no less than 3/4 of it).
    Most steps run at low resolution where they are cheap and where the style's large-scale
    structure forms; each finer scale gets `finer_share` of the previous one's steps, so
    with 3 scales and a share of 2/3, 300 steps split 142/95/63 and cost about a third of
    300 full-size steps.
    """
    assert config.steps is not None and config.start_size is not None, "resolve the config first"
    assert config.finer_share is not None, "resolve the config first"
    if not config.multiscale or config.start_size >= config.size:
        return [(config.size, config.steps)]
    sizes = [config.size]
    # Halve while the result stays within a factor 4/3 below start_size, so 384 px runs
    # 96/192/384 like 512 runs 128/256/512, instead of spending half its steps at 384.
    while sizes[-1] // 2 * 4 >= config.start_size * 3:
        sizes.append(sizes[-1] // 2)
    sizes.reverse()
    shares = [config.finer_share**index for index in range(len(sizes))]
    steps = [max(1, round(config.steps * share / sum(shares))) for share in shares]
    steps[-1] = max(1, config.steps - sum(steps[:-1]))
    return list(zip(sizes, steps, strict=True))


def output_size(content: Image.Image, size: int) -> tuple[int, int]:
    """The result's size, by arithmetic: nothing full-size is allocated to learn it."""
    return sizing.fit_longer_side(*content.size, size)


def plan_run(content: Image.Image, config: StylizeConfig, extractor: FeatureExtractor) -> RunPlan:
    """Scales, and tiles when the whole image would not fit the memory budget.

    `config` must be resolved. Refuses (ResourceError) only when not even a minimal tile
    fits.
    """
    width, height = sizing.check_request(content.size, config.size, config.max_memory)
    budget = sizing.memory_budget(config.max_memory)
    cost = memory.model_for(extractor)
    whole = cost.peak_bytes(width, height)

    def fits(w: int, h: int) -> bool:
        return budget is None or cost.peak_bytes(w, h) <= budget

    if config.tile is None and fits(width, height):
        scales = scale_plan(config)
        sizing.check_scales("content", *content.size, [size for size, _ in scales])
        return RunPlan(width, height, scales, budget, whole)
    if not fits(MIN_TILE, MIN_TILE):
        needed = cost.peak_bytes(MIN_TILE, MIN_TILE)
        raise ResourceError(
            f"not even a {MIN_TILE}px tile fits the memory budget of {budget / 2**30:.1f} GiB "
            f"(needs about {needed / 2**30:.1f} GiB); raise --max-memory",
            code="memory",
        )
    tile = config.tile or _largest_square(fits, max(width, height))
    tile = max(MIN_TILE, min(tile, max(width, height)))
    base = _largest_long_side(content, fits, config.size // 2 if config.tile else config.size)
    overlap = min(config.tile_overlap, tile // 4)
    tiles = tile_boxes(width, height, tile, overlap)
    base_steps, tile_steps = split_steps(config.steps, len(tiles), config.tile_steps)
    scales = scale_plan(dataclasses.replace(config, size=base, steps=base_steps))
    sizing.check_scales("content", *content.size, [size for size, _ in scales])
    return RunPlan(
        width, height, scales, budget, whole,
        tiles=tiles, tile_size=tile, overlap=overlap, tile_steps=tile_steps,
        steps_budget=config.steps,
    )  # fmt: skip


def split_steps(steps: int, tiles: int, most_per_tile: int) -> tuple[int, int]:
    """(whole-image steps, steps per tile) of a tiled run, within the `--steps` budget.

    `--steps` is the user's budget for the whole run: at least a third goes to the whole
    image (where the style's structure forms), the tiles share the rest, up to
    `most_per_tile` each. Only when the budget is smaller than one step per tile plus one
    does the run take more (one per tile), and the plan line says so.
    """
    per_tile = max(1, min(most_per_tile, (steps - steps // 3) // max(1, tiles)))
    return max(1, steps - per_tile * tiles), per_tile


def _largest_square(fits: Callable[[int, int], bool], limit: int) -> int:
    tile = MIN_TILE
    while tile + TILE_MULTIPLE <= min(limit, MAX_TILE) and fits(
        tile + TILE_MULTIPLE, tile + TILE_MULTIPLE
    ):
        tile += TILE_MULTIPLE
    return tile


def _largest_long_side(content: Image.Image, fits: Callable[[int, int], bool], limit: int) -> int:
    side = max(16, limit)
    while side > MIN_TILE and not fits(*output_size(content, side)):
        side = int(side * 0.9)
    return side
