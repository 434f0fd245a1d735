"""`nst stylize`: one content image, one style image, one stylised result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nstcli.cli.common import (
    Backbone,
    Device,
    Init,
    Optimizer,
    err_console,
    out_console,
    user_errors,
)
from nstcli.cli.options import config_from_options
from nstcli.cli.progress import step_progress
from nstcli.engine.backbones import BACKBONES
from nstcli.engine.images import check_writable, load_image, save_image
from nstcli.engine.stylize import load_for
from nstcli.engine.stylize import stylize as run_stylize

_BACKBONE_HELP = (
    "Feature network: "
    + ", ".join(f"{name} ({spec.title})" for name, spec in BACKBONES.items())
    + ". lite works offline."
)


def default_output(content: Path, style: Path, backbone: str) -> Path:
    """`tubingen_starry_night_vgg.png` in the current folder."""
    return Path(f"{content.stem}_{style.stem}_{backbone}.png")


def stylize(
    content: Annotated[
        Path, typer.Argument(help="Photo whose layout is kept.", show_default=False)
    ],
    style: Annotated[
        Path, typer.Argument(help="Painting whose style is applied.", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Result file (.png, .jpg, .webp). (default: CONTENT_STYLE_BACKBONE.png)",
            show_default=False,
        ),
    ] = None,
    backbone: Annotated[Backbone, typer.Option(help=_BACKBONE_HELP)] = Backbone.vgg,
    size: Annotated[int, typer.Option(help="Longer side of the result, in pixels.")] = 512,
    steps: Annotated[
        int | None,
        typer.Option(
            help="Optimisation steps. (default: 300 (vgg, resnet, lite))", show_default=False
        ),
    ] = None,
    optimizer: Annotated[
        Optimizer | None,
        typer.Option(help="(default: lbfgs for vgg/resnet, adam for lite)", show_default=False),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help="Step size. (default: 1.0 for lbfgs, 0.02 for adam, 0.05 for lite)",
            show_default=False,
        ),
    ] = None,
    content_weight: Annotated[
        float | None,
        typer.Option(
            help="Weight of the content loss. (default: per backbone)", show_default=False
        ),
    ] = None,
    style_weight: Annotated[
        float | None,
        typer.Option(help="Weight of the style loss. (default: 1e6)", show_default=False),
    ] = None,
    tv_weight: Annotated[
        float | None,
        typer.Option(
            help="Weight of total variation (smoothness). (default: 0)", show_default=False
        ),
    ] = None,
    style_layers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated style layers. (default: per backbone, see `nst layers`)",
            show_default=False,
        ),
    ] = None,
    content_layers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated content layers. (default: per backbone)", show_default=False
        ),
    ] = None,
    init: Annotated[
        Init, typer.Option(help="Start from the content image or from noise.")
    ] = Init.content,
    seed: Annotated[
        int, typer.Option(help="Random seed: same seed + inputs → same output on CPU.")
    ] = 0,
    grad_clip: Annotated[
        float | None,
        typer.Option(
            help="Clip the gradient norm to this value. (default: off)", show_default=False
        ),
    ] = None,
    device: Annotated[
        Device, typer.Option(help="Where to compute (auto: CUDA, then MPS, then CPU).")
    ] = Device.auto,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads. (default: one per core)", show_default=False)
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Backbone weights file to use instead of the standard ones.", show_default=False
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Never download weights (also: NST_OFFLINE=1).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
) -> None:
    """Render CONTENT in the style of STYLE (Gatys et al. optimisation over a pre-trained CNN)."""
    options = dict(locals())  # every option by parameter name, before anything else is bound
    with user_errors():
        config = config_from_options(options).resolved()
        output = check_writable(output or default_output(content, style, backbone.value))
        content_image = load_image(content)
        style_image = load_image(style)
        backbone_ready = load_for(config)  # weights problems surface before the progress bar
        with step_progress(f"{backbone.value} {size}px", enabled=not (quiet or as_json)) as on_step:
            result = run_stylize(
                content_image, style_image, config, on_step=on_step, backbone=backbone_ready
            )
        result.output_path = save_image(result.image, output)
    if as_json:
        out_console.print_json(json.dumps(result.summary()))
    elif not quiet:
        err_console.print(
            f"[green]saved[/] {output} ({result.image.width}×{result.image.height}, "
            f"{result.steps} steps in {result.wall_time:.1f}s, {result.seconds_per_step:.3f}s/step)"
        )
