"""Run configuration as validated, immutable dataclasses (never dicts passed around)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.errors import InputError
from nstcli.engine.strength import DEFAULT_STRENGTH

OPTIMIZERS = ("lbfgs", "adam")
#: Learning rate used when the optimiser is not the backbone's default and --lr is not given.
OPTIMIZER_LR = {"lbfgs": 1.0, "adam": 0.02}
#: content: the photo; palette: the photo in the painting's colours (`color.match_palette`).
INITS = ("content", "palette", "noise")
POOLINGS = ("max", "avg")
PRECISIONS = ("auto", "fp32", "bf16")
#: What the optimiser moves (see `engine.parameterization`).
PARAMETERIZATIONS = ("pixels", "fourier")
#: Loss weights above this overflow float32 (a NaN loss and a black image at 1e40); no
#: backbone default (lite's chroma TV: 1e9) or tuned setting here went past 1e9.
MAX_WEIGHT = 1e12
MAX_LR = 1e3
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


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
    #: 0 (the photo) to 1 (more style); the default is the backbone's default run. It
    #: scales the default style weight (unless a content or style weight is given) and
    #: blends the start toward the photo (see `engine.strength`).
    strength: float = DEFAULT_STRENGTH
    tv_weight: float | None = None
    #: Total variation of the chroma only (against colour confetti); None: per backbone.
    chroma_tv_weight: float | None = None
    #: Closeness to a job's guide where it is trusted (clips: the previous frame, warped);
    #: no effect without a guide.
    temporal_weight: float = 0.0
    style_layers: tuple[str, ...] | None = None
    content_layers: tuple[str, ...] | None = None
    #: Where the first scale starts (see INITS); None: the backbone's default.
    init: str | None = None
    seed: int = 0
    grad_clip: float | None = None
    #: A step whose loss exceeds `spike_ratio` × the best loss so far counts as a spike.
    spike_ratio: float = 1.5
    #: On a spike the learning rate is multiplied by this factor.
    spike_decay: float = 0.5
    device: str = "auto"
    threads: int | None = None
    #: A weight set of the backbone (e.g. "original", "torchvision") or a weights file;
    #: None: the backbone's default set.
    weights: str | None = None
    offline: bool = False
    #: False builds the backbone with random weights (tests and timing benchmarks only).
    pretrained: bool = True
    #: Coarse-to-fine: optimise at `start_size` first, doubling up to `size`
    #: (see `plan.scale_plan`).
    multiscale: bool = True
    start_size: int | None = None
    #: Each finer scale runs this share of the previous scale's steps; None: per backbone.
    finer_share: float | None = None
    #: Keep the content's colours: transfer luminance only (Gatys et al. 2016).
    preserve_color: bool = False
    #: One weight per style image (normalised to sum 1); None means equal weights.
    style_blend: tuple[float, ...] | None = None
    #: Style image size relative to the output's: larger → bigger brush strokes.
    style_scale: float = 1.0
    #: VGG only: max pooling (torchvision's) or average pooling (smoother, per Gatys et al.).
    pooling: str = "max"
    #: auto: bfloat16 autocast where the hardware runs it natively, else float32.
    precision: str = "auto"
    #: Softmax-smooth activations before Gram matrices; None: the backbone's default.
    smoothing: bool | None = None
    #: Optimise the pixels or a decorrelated Fourier spectrum; None: the backbone's default.
    parameterization: str | None = None
    #: May `precision="auto"` pick bfloat16 for this backbone? None: the backbone's default.
    bf16_auto: bool | None = None
    #: Memory budget in bytes (None: a safe fraction of what is available).
    max_memory: int | None = None
    #: Force tiled refinement with tiles of this side (None: only when memory requires).
    tile: int | None = None
    tile_overlap: int = 64
    tile_steps: int = 40

    def __post_init__(self) -> None:
        if self.size < 16:
            raise InputError(f"--size must be at least 16 pixels, got {self.size}")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps must be at least 1, got {self.steps}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.init is not None and self.init not in INITS:
            raise InputError(f"--init must be one of {', '.join(INITS)}")
        if self.lr is not None and not 0 < self.lr <= MAX_LR:
            raise InputError(f"--lr must be positive and at most {MAX_LR:g}, got {self.lr}")
        for name in (
            "content_weight", "style_weight", "tv_weight", "chroma_tv_weight", "temporal_weight"
        ):  # fmt: skip
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_WEIGHT:  # also refuses NaN
                raise InputError(
                    f"--{name.replace('_', '-')} must be between 0 and {MAX_WEIGHT:g}, got {value}"
                )
        if not 0 <= self.strength <= 1:  # (NaN fails this too)
            raise InputError(f"--strength must be between 0 and 1, got {self.strength}")
        if self.grad_clip is not None and not 0 < self.grad_clip < math.inf:
            raise InputError(f"--grad-clip must be positive, got {self.grad_clip}")
        if not self.spike_ratio > 1:
            raise InputError(f"spike ratio must be above 1, got {self.spike_ratio}")
        if not 0 < self.spike_decay < 1:
            raise InputError(f"spike decay must be between 0 and 1, got {self.spike_decay}")
        if self.start_size is not None and self.start_size < 16:
            raise InputError(f"--start-size must be at least 16 pixels, got {self.start_size}")
        if self.finer_share is not None and not 0.05 <= self.finer_share <= 4:
            raise InputError(f"finer share must be between 0.05 and 4, got {self.finer_share}")
        if self.style_blend is not None and (
            any(not 0 <= w < math.inf for w in self.style_blend) or not sum(self.style_blend) > 0
        ):
            raise InputError("--style-blend weights must be non-negative and not all zero")
        if not 0.05 <= self.style_scale <= 4:  # (NaN fails this too)
            raise InputError(f"--style-scale must be between 0.05 and 4, got {self.style_scale}")
        if self.pooling not in POOLINGS:
            raise InputError(f"--pooling must be one of {', '.join(POOLINGS)}")
        pooled = [name for name, facts in BACKBONE_FACTS.items() if facts.pooling]
        if self.pooling != "max" and self.backbone not in pooled:
            raise InputError(f"--pooling applies to the {' and '.join(pooled)} backbone only")
        if self.parameterization is not None and self.parameterization not in PARAMETERIZATIONS:
            raise InputError(f"--parameterization must be one of {', '.join(PARAMETERIZATIONS)}")
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.max_memory is not None and self.max_memory < 64 * 2**20:
            raise InputError("--max-memory must be at least 64MiB")
        if self.tile is not None and self.tile < 128:
            raise InputError(f"--tile must be at least 128 pixels, got {self.tile}")
        if self.tile_steps < 1 or self.tile_overlap < 0:
            raise InputError("tile steps must be at least 1 and the overlap not negative")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be at least 1, got {self.threads}")

    def resolved(self) -> StylizeConfig:
        """A copy with every None replaced by the backbone's default (`self` when none is)."""
        from nstcli.engine.backbones import get_spec  # local: backbones import torchvision

        spec = get_spec(self.backbone)
        defaults = spec.defaults
        filled: dict[str, object] = {
            field.name: getattr(defaults, field.name)
            for field in dataclasses.fields(defaults)
            if getattr(self, field.name) is None
        }
        optimizer = filled.get("optimizer", self.optimizer)
        if self.lr is None and optimizer != defaults.optimizer:
            filled["lr"] = OPTIMIZER_LR[str(optimizer)]
        if self.weights is None:
            filled["weights"] = spec.default_weights
        if self.style_weight is None and self.content_weight is None:
            # One multiplication, exactly 1.0 at the default strength: the default run.
            factor = spec.strength.style_factor(self.strength)
            filled["style_weight"] = defaults.style_weight * factor
            if spec.strength.chroma_tv_follows and factor > 1 and self.chroma_tv_weight is None:
                filled["chroma_tv_weight"] = defaults.chroma_tv_weight * factor
        # A resolved config resolves to itself: no copy, no second validation.
        return dataclasses.replace(self, **filled) if filled else self
