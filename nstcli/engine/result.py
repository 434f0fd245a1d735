"""What a style-transfer run returns; every front end (CLI, compare, bot) consumes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nstcli.engine.config import StylizeConfig


@dataclass(frozen=True)
class StepRecord:
    """Losses after one optimisation step (already multiplied by their weights)."""

    step: int
    #: Each loss term's weighted value by name (see `objective.TERMS`); they sum to `total`.
    losses: Mapping[str, float]
    total: float
    lr: float
    elapsed: float
    spike: bool = False
    #: Long side of the image at this step (multi-scale runs grow it).
    size: int = 0
    #: Which part of the run: "256px" for a whole-image scale, "tile 3/20" for a tile.
    stage: str = ""
    #: Fraction of the run's work done, weighting each step by its pixel count
    #: (`RunPlan.work_fractions`); what progress bars and ETAs should use.
    work_done: float = 0.0

    @property
    def content(self) -> float:
        return self.losses.get("content", 0.0)

    @property
    def style(self) -> float:
        return self.losses.get("style", 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the loss terms side by side with `total`."""
        fields = dataclasses.asdict(self)
        return {"step": self.step, **fields.pop("losses"), **fields}


@dataclass
class StylizeResult:
    #: The result, 8 bits per channel (what most front ends show or send).
    image: Image.Image
    history: list[StepRecord]
    wall_time: float
    config: StylizeConfig
    device: str
    weights_source: str | None = None
    spikes: int = 0
    output_path: Path | None = field(default=None)
    precision: str = "fp32"
    #: Long side at each scale, coarse to fine.
    scales: list[int] = field(default_factory=list)
    #: The same result as float32 H×W×3 in [0, 1], for 16-bit outputs.
    pixels: np.ndarray | None = field(default=None, repr=False)
    #: Number of tiles refined at full size (0: the whole image fitted in memory).
    tiles: int = 0

    def float_pixels(self) -> np.ndarray:
        if self.pixels is not None:
            return self.pixels
        return self.float_pixels_of(self.image)

    @staticmethod
    def float_pixels_of(image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0

    @property
    def steps(self) -> int:
        return len(self.history)

    @property
    def seconds_per_step(self) -> float:
        return self.wall_time / max(1, self.steps)

    @property
    def final(self) -> StepRecord | None:
        return self.history[-1] if self.history else None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (`nst stylize --json`, bot captions, compare tables)."""
        final = self.final
        config = {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in dataclasses.asdict(self.config).items()
        }
        return {
            "output": str(self.output_path) if self.output_path else None,
            "backbone": self.config.backbone,
            "device": self.device,
            "width": self.image.width,
            "height": self.image.height,
            "steps": self.steps,
            "wall_time_s": round(self.wall_time, 3),
            "seconds_per_step": round(self.seconds_per_step, 4),
            "spikes": self.spikes,
            "precision": self.precision,
            "scales": self.scales,
            "tiles": self.tiles,
            "weights": self.weights_source,
            "final_loss": final.to_dict() if final else None,
            "config": config,
        }
