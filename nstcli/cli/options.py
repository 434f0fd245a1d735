"""Typer option declarations shared by every command that runs style transfer.

Declared once as `Annotated` aliases so `stylize`, `compare` and friends show identical
names, help texts and defaults; `StyleOptions` collects the values into the engine's
`StylizeConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from nstcli.cli.common import (
    Device,
    Init,
    Optimizer,
    Pooling,
    Precision,
    parse_bytes,
    parse_floats,
    parse_layers,
)
from nstcli.engine.config import StylizeConfig
from nstcli.engine.weights import offline_from_env

Size = Annotated[int, typer.Option(help="Longer side of the result, in pixels.")]
Steps = Annotated[
    int | None,
    typer.Option(
        help="Optimisation steps in all, over every scale. (default: 300)", show_default=False
    ),
]
OptimizerOpt = Annotated[
    Optimizer | None,
    typer.Option("--optimizer", help="Optimiser. (default: lbfgs)", show_default=False),
]
Lr = Annotated[
    float | None,
    typer.Option(
        help="Step size. (default: 1.0 for lbfgs, 0.02 for adam)",
        show_default=False,
    ),
]
ContentWeight = Annotated[
    float | None,
    typer.Option(help="Weight of the content loss. (default: per backbone)", show_default=False),
]
StyleWeight = Annotated[
    float | None,
    typer.Option(help="Weight of the style loss. (default: per backbone)", show_default=False),
]
TvWeight = Annotated[
    float | None,
    typer.Option(
        help="Weight of total variation (smoothness). (default: per backbone)", show_default=False
    ),
]
StyleLayers = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated style layers. (default: per backbone, see `nst layers`)",
        show_default=False,
    ),
]
ContentLayers = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated content layers. (default: per backbone)", show_default=False
    ),
]
InitOpt = Annotated[Init, typer.Option("--init", help="Start from the content image or noise.")]
Seed = Annotated[int, typer.Option(help="Random seed: same seed + inputs → same output on CPU.")]
GradClip = Annotated[
    float | None,
    typer.Option(help="Clip the gradient norm to this value. (default: off)", show_default=False),
]
Multiscale = Annotated[
    bool,
    typer.Option(
        help="Coarse-to-fine: optimise small first, then refine at larger sizes (faster, and "
        "the style's large-scale structure carries over)."
    ),
]
StartSize = Annotated[int, typer.Option(help="Long side of the first (coarsest) scale.")]
PreserveColor = Annotated[
    bool, typer.Option(help="Keep the content's colours: transfer luminance only.")
]
StyleBlend = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated weights, one per style image, e.g. 0.7,0.3. (default: equal)",
        show_default=False,
    ),
]
StyleScale = Annotated[
    float,
    typer.Option(help="Style image size relative to the output's: larger → bigger strokes."),
]
Smoothing = Annotated[
    bool | None,
    typer.Option(
        "--smoothing/--no-smoothing",
        help="Softmax-smooth activations before Gram matrices (Wang et al. 2021; helps "
        "non-VGG backbones). (default: per backbone)",
        show_default=False,
    ),
]
PoolingOpt = Annotated[Pooling, typer.Option("--pooling", help="VGG pooling: max or avg.")]
PrecisionOpt = Annotated[
    Precision,
    typer.Option(
        "--precision", help="auto: bfloat16 where the CPU/GPU runs it natively, else fp32."
    ),
]
MaxMemory = Annotated[
    str | None,
    typer.Option(
        help="Memory budget, e.g. 4GiB. Sizes that would not fit are stylised at the largest "
        "size that fits, then refined in tiles. (default: 60% of available memory)",
        show_default=False,
    ),
]
Tile = Annotated[
    int | None,
    typer.Option(
        help="Refine at full size in tiles of this many pixels, even if memory would allow "
        "the whole image. (default: only when needed)",
        show_default=False,
    ),
]
DeviceOpt = Annotated[
    Device, typer.Option("--device", help="Where to compute (auto: CUDA, then MPS, then CPU).")
]
Threads = Annotated[
    int | None, typer.Option(help="CPU threads. (default: one per core)", show_default=False)
]
Weights = Annotated[
    Path | None,
    typer.Option(
        help="Backbone weights file to use instead of the standard ones.", show_default=False
    ),
]
Offline = Annotated[bool, typer.Option(help="Never download weights (also: NST_OFFLINE=1).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]
Json = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]


@dataclass(frozen=True)
class StyleOptions:
    """The raw option values of one command line, turned into a config in one place."""

    size: int = 512
    steps: int | None = None
    optimizer: Optimizer | None = None
    lr: float | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_layers: str | None = None
    content_layers: str | None = None
    init: Init = Init.content
    seed: int = 0
    grad_clip: float | None = None
    multiscale: bool = True
    start_size: int = 128
    preserve_color: bool = False
    style_blend: str | None = None
    style_scale: float = 1.0
    smoothing: bool | None = None
    pooling: Pooling = Pooling.max
    precision: Precision = Precision.auto
    max_memory: str | None = None
    tile: int | None = None
    device: Device = Device.auto
    threads: int | None = None
    weights: Path | None = None
    offline: bool = False

    def config(self, backbone: str) -> StylizeConfig:
        """The resolved engine config for `backbone` (raises InputError on bad values)."""
        return StylizeConfig(
            backbone=backbone,
            size=self.size,
            steps=self.steps,
            optimizer=self.optimizer.value if self.optimizer else None,
            lr=self.lr,
            content_weight=self.content_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight,
            style_layers=parse_layers(self.style_layers),
            content_layers=parse_layers(self.content_layers),
            init=self.init.value,
            seed=self.seed,
            grad_clip=self.grad_clip,
            multiscale=self.multiscale,
            start_size=self.start_size,
            preserve_color=self.preserve_color,
            style_blend=parse_floats(self.style_blend, "--style-blend"),
            style_scale=self.style_scale,
            smoothing=self.smoothing,
            pooling=self.pooling.value,
            precision=self.precision.value,
            max_memory=parse_bytes(self.max_memory, "--max-memory"),
            tile=self.tile,
            device=self.device.value,
            threads=self.threads,
            weights_file=self.weights,
            offline=self.offline or offline_from_env(),
        ).resolved()
