"""`nst weights`: where each model's weights are, fetching them, verifying them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nstcli.cli import options as opt
from nstcli.cli.common import err_console, out_console, use_weights_dir, user_errors
from nstcli.engine.errors import WeightsError

app = typer.Typer(help="List, download and verify model weights.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def weights_status(ctx: typer.Context, weights_dir: opt.WeightsDir = None) -> None:
    """Show each model's weights: found where (and size), or missing."""
    use_weights_dir(weights_dir)
    if ctx.invoked_subcommand is not None:
        return
    from nstcli.engine.backbones import BACKBONES
    from nstcli.engine.upscale.weights import UPSCALERS
    from nstcli.engine.weights import search_locations

    table = Table(title="Model weights")
    for column in ("model", "file", "status", "size", "location"):
        table.add_column(column)
    for name, spec in BACKBONES.items():
        located = next(
            ((label, path) for label, path in search_locations(spec.weights) if path.is_file()),
            None,
        )
        if located is None:
            table.add_row(
                name,
                spec.weights.filename,
                "[red]missing[/]",
                "-",
                "run `nst weights download`" if spec.weights.url else "-",
            )
        else:
            label, path = located
            size = f"{path.stat().st_size / 2**20:.1f} MiB"
            table.add_row(
                name, spec.weights.filename, f"[green]found[/] ({label})", size, str(path)
            )
    for name, spec in UPSCALERS.items():
        located = next(
            ((label, path) for label, path in search_locations(spec) if path.is_file()), None
        )
        if located is None:
            hint = "train: python -m nstcli.training.upscaler" if name == "srgan" else "-"
            table.add_row(f"{name} (upscale)", spec.filename, "[red]missing[/]", "-", hint)
        else:
            label, path = located
            size = f"{path.stat().st_size / 2**20:.1f} MiB"
            table.add_row(
                f"{name} (upscale)", spec.filename, f"[green]found[/] ({label})", size, str(path)
            )
    out_console.print(table)


@app.command("download")
def weights_download(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to fetch. [default: all]", show_default=False)
    ] = None,
) -> None:
    """Fetch missing weights into the torch hub cache (torchvision's URLs and downloader)."""
    with user_errors():
        from nstcli.engine.backbones import BACKBONES, get_spec
        from nstcli.engine.weights import download, find

        for name in models or list(BACKBONES):
            spec = get_spec(name).weights
            found = find(spec)
            if found is not None:
                err_console.print(f"{name}: already present at {found.path} ({found.source})")
                continue
            resolved = download(spec)
            err_console.print(f"[green]{name}[/]: downloaded to {resolved.path}")


@app.command("verify")
def weights_verify() -> None:
    """Check the sha256 of every weights file found against the hash in its name."""
    from nstcli.engine.backbones import BACKBONES
    from nstcli.engine.weights import search_locations, verify

    failures = 0
    for name, spec in BACKBONES.items():
        for label, path in search_locations(spec.weights):
            if not path.is_file():
                continue
            try:
                verify(spec.weights, path)
                out_console.print(f"[green]ok[/] {name}: {path} ({label})")
            except WeightsError as error:
                failures += 1
                err_console.print(f"[bold red]bad[/] {name}: {error}")
    if failures:
        raise typer.Exit(1)
