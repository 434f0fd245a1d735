"""Run configuration as validated, immutable dataclasses (never dicts passed around)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from nstcli.engine.errors import InputError

OPTIMIZERS = ("lbfgs", "adam")
#: Learning rate used when the optimiser is not the backbone's default and --lr is not given.
OPTIMIZER_LR = {"lbfgs": 1.0, "adam": 0.02}
INITS = ("content", "noise")


@dataclass(frozen=True)
class StylizeConfig:
    """Everything that defines a style-transfer run.

    Fields left as None take the chosen backbone's measured defaults (see
    `BackboneSpec.defaults`); `resolved()` fills them so results record what really ran.
    """

    backbone: str = "vgg"
    size: int = 512
    steps: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_layers: tuple[str, ...] | None = None
    content_layers: tuple[str, ...] | None = None
    init: str = "content"
    seed: int = 0
    grad_clip: float | None = None
    #: A step whose loss exceeds `spike_ratio` × the best loss so far counts as a spike.
    spike_ratio: float = 1.5
    #: On a spike the learning rate is multiplied by this factor.
    spike_decay: float = 0.5
    device: str = "auto"
    threads: int | None = None
    weights_file: Path | None = None
    offline: bool = False
    #: False builds the backbone with random weights (tests and timing benchmarks only).
    pretrained: bool = True

    def __post_init__(self) -> None:
        if self.size < 16:
            raise InputError(f"--size must be at least 16 pixels, got {self.size}")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps must be at least 1, got {self.steps}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.init not in INITS:
            raise InputError(f"--init must be one of {', '.join(INITS)}")
        if self.lr is not None and not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"--{name.replace('_', '-')} must not be negative, got {value}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise InputError(f"--grad-clip must be positive, got {self.grad_clip}")
        if not self.spike_ratio > 1:
            raise InputError(f"spike ratio must be above 1, got {self.spike_ratio}")
        if not 0 < self.spike_decay < 1:
            raise InputError(f"spike decay must be between 0 and 1, got {self.spike_decay}")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be at least 1, got {self.threads}")

    def resolved(self) -> StylizeConfig:
        """A copy with every None replaced by the backbone's default."""
        from nstcli.engine.backbones import get_spec  # local: backbones import torchvision

        defaults = get_spec(self.backbone).defaults
        filled = {
            field.name: getattr(defaults, field.name)
            for field in dataclasses.fields(defaults)
            if getattr(self, field.name) is None
        }
        optimizer = filled.get("optimizer", self.optimizer)
        if self.lr is None and optimizer != defaults.optimizer:
            filled["lr"] = OPTIMIZER_LR[optimizer]
        return dataclasses.replace(self, **filled)
