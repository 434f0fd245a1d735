"""`nst eval-upscaler`: Y-PSNR/SSIM/detail on Set5/Set14 against a bicubic baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nstcli.cli.common import Device, err_console, out_console, user_errors
from nstcli.cli.upscale import UpscalerModel
from nstcli.engine.errors import InputError

#: ../shared/data/sr/val beside a source checkout (the project's benchmark copy); used as
#: the default only where it exists, never in an installed package's site-packages.
CHECKOUT_VAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "sr" / "val"


def validation_folder(val: Path | None) -> Path:
    """`--val`, else the checkout's ../shared copy when there is one, else a clear error."""
    if val is not None:
        return val
    if CHECKOUT_VAL.is_dir():
        return CHECKOUT_VAL
    raise InputError("--val FOLDER is required: a folder with Set5/ and Set14/ (*_HR.png)")


def eval_upscaler(
    val: Annotated[
        Path | None,
        typer.Option(
            help="Folder with Set5/ and Set14/ (*_HR.png, *_LR.png). (default: "
            "../shared/data/sr/val beside a source checkout, if it exists)",
            show_default=False,
        ),
    ] = None,
    sets: Annotated[str, typer.Option(help="Comma-separated sets to score.")] = "Set5,Set14",
    model: Annotated[UpscalerModel, typer.Option(help="Shipped model.")] = UpscalerModel.srresnet,
    weights: Annotated[
        Path | None, typer.Option(help="Score this weights file instead.", show_default=False)
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json-out", help="Also write the results here (JSON).")
    ] = None,
    device: Annotated[Device, typer.Option(help="Where to compute.")] = Device.auto,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads. (default: one per core)", show_default=False)
    ] = None,
) -> None:
    """Score an upscaler on the given LR images of Set5/Set14 (Y channel, 4-px border shaved)."""
    with user_errors():
        from nstcli.engine.images import atomic_output
        from nstcli.engine.upscale.evaluate import PROTOCOL, evaluate
        from nstcli.engine.upscale.pipeline import UpscaleConfig, load_upscaler_for, upscale_image

        val = validation_folder(val)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
        config = UpscaleConfig(
            model=model.value,
            weights=str(weights) if weights else None,
            device=device.value,
            threads=threads,
        )
        upscaler = load_upscaler_for(config)

        def run(image):
            return upscale_image(image, config, upscaler=upscaler).image

        with err_console.status("scoring…") as status:
            results = evaluate(
                run,
                config.model,
                val,
                tuple(s.strip() for s in sets.split(",") if s.strip()),
                on_image=lambda name, method: status.update(f"{method} on {name}…"),
            )
    table = Table(title=f"x4 super-resolution, Y channel ({upscaler.architecture})")
    for column in ("set", "method", "PSNR (dB)", "SSIM", "detail (HR = 1)", "images"):
        table.add_column(column, justify="right" if column != "method" else "left")
    for item in results:
        table.add_row(
            item.dataset,
            item.method,
            f"{item.mean_psnr:.2f}",
            f"{item.mean_ssim:.4f}",
            f"{item.mean_detail:.2f}",
            str(len(item.psnr)),
        )
    out_console.print(table)
    report = {
        "weights": str(upscaler.path),
        "architecture": upscaler.architecture,
        "protocol": PROTOCOL,
        "results": [item.summary() for item in results],
    }
    if json_out is not None:
        with user_errors(), atomic_output(json_out) as stream:
            stream.write(json.dumps(report, indent=2).encode())
        err_console.print(f"wrote {json_out}")
