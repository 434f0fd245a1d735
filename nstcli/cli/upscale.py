"""`nst upscale`: x4 super-resolution of one image, tile by tile."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nstcli.cli.common import Device, err_console, out_console, user_errors
from nstcli.engine.sizing import DEFAULT_MAX_PIXELS
from nstcli.engine.upscale import UPSCALER_MODELS

if TYPE_CHECKING:
    from nstcli.engine.upscale.tiling import TileCallback

UpscalerModel = Enum("UpscalerModel", {name: name for name in UPSCALER_MODELS}, type=str)


@contextlib.contextmanager
def tile_progress(title: str, enabled: bool) -> Iterator[TileCallback | None]:
    """Yield an `on_tile` callback drawing a Rich bar over tiles (None when disabled)."""
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tiles"),
        TimeElapsedColumn(),
        console=err_console,
    )
    with progress:
        task = progress.add_task(title, total=None)

        def on_tile(done: int, total: int) -> None:
            progress.update(task, total=total, completed=done)

        yield on_tile


def default_output(image: Path) -> Path:
    """`photo_x4.png` beside the current folder."""
    return Path(f"{image.stem}_x4.png")


def upscale(
    image: Annotated[Path, typer.Argument(help="Image to enlarge x4.", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Result file. (default: IMAGE_x4.png)", show_default=False
        ),
    ] = None,
    model: Annotated[
        UpscalerModel,
        typer.Option(help="srresnet: faithful (best PSNR); srgan: sharper textures."),
    ] = UpscalerModel.srresnet,
    weights: Annotated[
        Path | None,
        typer.Option(
            help="Weights file: nst's own, or ESRGAN, Real-ESRGAN, SwinIR, HAT and more "
            "(read by spandrel).",
            show_default=False,
        ),
    ] = None,
    tile: Annotated[
        int | None,
        typer.Option(
            help="Tile side in input pixels. (default: automatic from --memory-mb)",
            show_default=False,
        ),
    ] = None,
    memory_mb: Annotated[
        int, typer.Option(help="Memory budget for one tile's activations (MiB).")
    ] = 1536,
    max_pixels: Annotated[
        int, typer.Option(help="Refuse outputs with more pixels than this.")
    ] = DEFAULT_MAX_PIXELS,
    device: Annotated[
        Device, typer.Option(help="Where to compute (auto: CUDA, then MPS, then CPU).")
    ] = Device.auto,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads. (default: one per core)", show_default=False)
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
) -> None:
    """Enlarge IMAGE four times with a super-resolution network (SRResNet by default)."""
    with user_errors():
        from nstcli.engine.images import check_writable, load_image, save_image
        from nstcli.engine.sizing import check_picture

        output = check_writable(output or default_output(image), [image])
        picture = load_image(image)
        check_picture(str(image), *picture.size)  # a 1×1 input has nothing to enlarge

        from nstcli.engine.device import pick_device
        from nstcli.engine.upscale.pipeline import (
            UpscaleConfig,
            check_output_size,
            load_upscaler_for,
            upscale_image,
        )

        config = UpscaleConfig(
            model=model.value,
            weights=str(weights) if weights else None,
            tile=tile,
            memory_mb=memory_mb,
            max_pixels=max_pixels,
            device=device.value,
            threads=threads,
        )
        pick_device(config.device)  # an absent --device fails before any loading
        upscaler = load_upscaler_for(config)  # weights problems surface before the progress bar
        check_output_size(*picture.size, upscaler.scale, config.max_pixels)  # and size ones
        title = f"{upscaler.architecture} x{upscaler.scale}"
        with tile_progress(title, enabled=not (quiet or as_json)) as on_tile:
            result = upscale_image(picture, config, on_tile=on_tile, upscaler=upscaler)
        result.output_path = str(save_image(result.image, output))
    if as_json:
        out_console.print_json(json.dumps(result.summary()))
    elif not quiet:
        w, h = result.output_size
        err_console.print(
            f"[green]saved[/] {output} ({w}×{h}, {result.plan.count} tiles, "
            f"{result.wall_time:.1f}s, {result.architecture})"
        )
