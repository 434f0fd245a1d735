"""One set of style options for every command that runs style transfer.

The options are declared once, as `Annotated` aliases below, and used as `nst stylize`'s
Typer parameters. Other commands borrow stylize's parameters with `with_options_of`, and
every command turns option values into a `StylizeConfig` with `config_from_options`, so a
new stylize option reaches `nst compare` without being declared or converted twice.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from nstcli.cli.common import (
    Backbone,
    Device,
    Init,
    Optimizer,
    Parameterization,
    Pooling,
    Precision,
    parse_bytes,
    parse_floats,
    parse_layers,
)
from nstcli.engine.config import OPTIMIZER_LR, StylizeConfig

#: The configuration's own defaults: commands take theirs from here, never repeat them.
DEFAULTS = StylizeConfig()
DEFAULT_BACKBONE = Backbone(DEFAULTS.backbone)
DEFAULT_POOLING = Pooling(DEFAULTS.pooling)
DEFAULT_PRECISION = Precision(DEFAULTS.precision)
DEFAULT_DEVICE = Device(DEFAULTS.device)

Size = Annotated[int, typer.Option(help="Longer side of the result, in pixels.")]
Steps = Annotated[
    int | None,
    typer.Option(
        help="Optimisation steps in all, over every scale. (default: per backbone)",
        show_default=False,
    ),
]
OptimizerOpt = Annotated[
    Optimizer | None,
    typer.Option("--optimizer", help="Optimiser. (default: per backbone)", show_default=False),
]
Lr = Annotated[
    float | None,
    typer.Option(
        help="Step size. (default: per backbone; with another optimiser "
        + ", ".join(f"{lr:g} for {name}" for name, lr in OPTIMIZER_LR.items())
        + ")",
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
Strength = Annotated[
    float,
    typer.Option(
        help="How much style, 0 to 1: 0 returns the photo, 0.5 is the default run, 1 is "
        "four times the default style weight. It scales the style weight "
        "(an explicit --style-weight or --content-weight wins) and starts the optimisation "
        "nearer the photo below the default.",
    ),
]
TvWeight = Annotated[
    float | None,
    typer.Option(
        help="Weight of total variation (smoothness). (default: per backbone)", show_default=False
    ),
]
ChromaTvWeight = Annotated[
    float | None,
    typer.Option(
        help="Weight of total variation of the colour only (against colour noise). "
        "(default: per backbone)",
        show_default=False,
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
InitOpt = Annotated[
    Init | None,
    typer.Option(
        "--init",
        help="Start from the content, the content in the style's colours (palette), or "
        "noise. (default: per backbone)",
        show_default=False,
    ),
]
Seed = Annotated[
    int,
    typer.Option(
        help="Seed of the --init noise. The other starts (content, palette) are not random: "
        "every seed gives the same image. Same seed + inputs → same output on CPU."
    ),
]
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
StartSize = Annotated[
    int | None,
    typer.Option(
        help="Long side of the first (coarsest) scale. (default: per backbone)",
        show_default=False,
    ),
]
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
ParameterizationOpt = Annotated[
    Parameterization | None,
    typer.Option(
        "--parameterization",
        help="Optimise the pixels, or a decorrelated Fourier spectrum (Mordvintsev et al. "
        "2018; it lost to pixels on the reference pairs). (default: per backbone)",
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
    str | None,
    typer.Option(
        help="Weight set (vgg: original or torchvision; see `nst weights`) or a weights "
        "file. (default: the backbone's first set, vgg: original)",
        show_default=False,
    ),
]
WeightsDir = Annotated[
    Path | None,
    typer.Option(
        envvar="NST_WEIGHTS_DIR",
        help="Folder searched first for weights files by name.",
        show_default=False,
    ),
]
Offline = Annotated[bool, typer.Option(envvar="NST_OFFLINE", help="Never download weights.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")]

# Clips only (a video, or an animated GIF/WebP as CONTENT); they go to the clip settings.
ClipFps = Annotated[
    float | None,
    typer.Option(
        "--fps",
        help="Clips: take at most this many frames a second. (default: the clip's)",
        show_default=False,
    ),
]
MaxFrames = Annotated[
    int | None,
    typer.Option(help="Clips: stop after this many frames.", show_default=False),
]
ClipStart = Annotated[
    float, typer.Option("--start", help="Clips: begin this many seconds in.", min=0)
]
ClipDuration = Annotated[
    float | None,
    typer.Option(
        "--duration",
        help="Clips: take this many seconds. (default: to the end)",
        show_default=False,
    ),
]
Temporal = Annotated[
    bool,
    typer.Option(
        "--temporal/--no-temporal",
        help="Clips: start each frame from the previous result warped by the optical flow "
        "and keep it close where the flow is reliable (no flicker); --no-temporal "
        "stylises every frame on its own.",
    ),
]
FrameSteps = Annotated[
    int | None,
    typer.Option(
        help="Clips: steps of each frame after the first. (default: per backbone)",
        show_default=False,
    ),
]
TemporalWeight = Annotated[
    float | None,
    typer.Option(
        help="Clips: weight of the closeness to the warped previous frame. (default: per backbone)",
        show_default=False,
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Clips: continue an interrupted run of the same job from its last finished frame.",
    ),
]
#: The clip options' parameter names (they are not StylizeConfig fields).
CLIP_OPTIONS = (
    "fps", "max_frames", "start", "duration", "temporal", "frame_steps", "temporal_weight",
    "resume",
)  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]


#: Command parameters that are not style settings (inputs, outputs, output format).
NOT_SETTINGS = frozenset(
    {
        "content",
        "style",
        "styles",
        "output",
        "quiet",
        "as_json",
        "save_every",
        "gif",
        "depth",
        "mask",
        "upscale",
        "weights_dir",
        *CLIP_OPTIONS,
    }
)

#: Option name → StylizeConfig field, where they differ.
_FIELD_FOR: dict[str, str] = {}

#: Options whose command-line text needs parsing before it is a config value.
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "style_layers": parse_layers,
    "content_layers": parse_layers,
    "style_blend": lambda value: parse_floats(value, "--style-blend"),
    "max_memory": lambda value: parse_bytes(value, "--max-memory"),
}

Command = TypeVar("Command", bound=Callable[..., Any])


def config_from_options(options: Mapping[str, Any], **fields: Any) -> StylizeConfig:
    """The (unresolved) StylizeConfig for a command's option values, keyed by parameter
    name; `fields` set config fields directly and win over options.

    Choice enums become their values; an option that maps to no config field is a
    programming error (a new option needs an entry in `_FIELD_FOR`/`_CONVERTERS`).
    """
    known = {item.name for item in dataclasses.fields(StylizeConfig)}
    values: dict[str, Any] = {}
    for name, value in options.items():
        if name in NOT_SETTINGS:
            continue
        target = _FIELD_FOR.get(name, name)
        if target not in known:
            raise TypeError(f"option {name!r} has no StylizeConfig field to go to")
        if isinstance(value, Enum):
            value = value.value
        values[target] = _CONVERTERS.get(name, lambda v: v)(value)
    return StylizeConfig(**(values | fields))


def with_options_of(
    source: Callable[..., Any], exclude: Collection[str]
) -> Callable[[Command], Command]:
    """Give the decorated command every parameter of `source` except `exclude` (and its
    own), as keyword-only options after its own; it receives them through `**options`.

    Typer reads a command's parameters from `inspect.signature`, which honours
    `__signature__`; the borrowed parameters keep their `Annotated[…, typer.Option(…)]`
    declarations, so names, help and defaults stay exactly those of `source`.
    """

    def decorate(command: Command) -> Command:
        own = inspect.signature(command, eval_str=True)
        kept = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        skip = set(exclude) | set(own.parameters)
        borrowed = [
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for name, parameter in inspect.signature(source, eval_str=True).parameters.items()
            if name not in skip
        ]
        command.__signature__ = own.replace(parameters=[*kept, *borrowed])  # type: ignore[attr-defined]
        return command

    return decorate


def borrowed_names(command: Callable[..., Any]) -> list[str]:
    """Names of the parameters `command` took from another command (for help and checks)."""
    signature = inspect.signature(command)
    return [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
