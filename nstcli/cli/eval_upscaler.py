"""`nst eval-upscaler`: Y-PSNR/SSIM/detail on Set5/Set14 against a bicubic baseline."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nstcli.cli.common import Device, err_console, out_console, user_errors
from nstcli.cli.upscale import UpscalerModel
from nstcli.engine.upscale.evaluate import PROTOCOL, evaluate
from nstcli.engine.upscale.pipeline import UpscaleConfig, load_for, upscale_image

#: ../shared/data/sr/val beside the repository (the project's benchmark copy).
DEFAULT_VAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "sr" / "val"


def eval_upscaler(
    val: Annotated[
        Path, typer.Option(help="Folder with Set5/ and Set14/ (*_HR.png, *_LR.png).")
    ] = DEFAULT_VAL,
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
        config = UpscaleConfig(
            model=model.value,
            weights=str(weights) if weights else None,
            device=device.value,
            threads=threads,
        )
        upscaler = load_for(config)

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
        json_out.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=json_out.parent, suffix=".part")
        with os.fdopen(handle, "w") as stream:
            json.dump(report, stream, indent=2)
        os.replace(temp, json_out)
        err_console.print(f"wrote {json_out}")
