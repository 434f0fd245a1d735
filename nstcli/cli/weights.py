"""`nst weights`: where each model's weights are, fetching them, verifying them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

import nstcli.cli.options as opt
from nstcli.cli.common import err_console, out_console, use_weights_dir, user_errors
from nstcli.engine.errors import WeightsError

app = typer.Typer(help="List, download and verify model weights.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def weights_status(ctx: typer.Context, weights_dir: opt.WeightsDir = None) -> None:
    """Show each model's weight sets: found where (and size), or missing; and licence."""
    use_weights_dir(weights_dir)
    if ctx.invoked_subcommand is not None:
        return
    from nstcli.engine.backbones import BACKBONES
    from nstcli.engine.upscale.weights import UPSCALERS
    from nstcli.engine.weights import search_locations

    table = Table(title="Model weights")
    for column in ("model", "file", "status", "size", "location", "licence"):
        table.add_column(column)
    rows = [
        (f"{name} {set_name}" if len(spec.weight_sets) > 1 else name, weight_spec)
        for name, spec in BACKBONES.items()
        for set_name, weight_spec in spec.weight_sets.items()
    ]
    rows += [(f"{name} (upscale)", spec) for name, spec in UPSCALERS.items()]
    for label_text, spec in rows:
        located = next(
            ((label, path) for label, path in search_locations(spec) if path.is_file()), None
        )
        if located is None:
            hint = "run `nst weights download`" if spec.url else "-"
            if spec.packaged is not None:  # shipped inside a Python package: a broken install
                hint = "reinstall the package that ships it"
            table.add_row(label_text, spec.filename, "[red]missing[/]", "-", hint, spec.licence)
        else:
            label, path = located
            size = f"{path.stat().st_size / 2**20:.1f} MiB"
            table.add_row(
                label_text, spec.filename, f"[green]found[/] ({label})", size, str(path),
                spec.licence,
            )  # fmt: skip
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
            for set_name, spec in get_spec(name).weight_sets.items():
                title = f"{name} {set_name}"
                found = find(spec)
                if found is not None:
                    err_console.print(f"{title}: already present at {found.path} ({found.source})")
                elif spec.url is None:
                    err_console.print(f"{title}: missing; {spec.description} is not downloadable")
                else:
                    resolved = download(spec)
                    err_console.print(f"[green]{title}[/]: downloaded to {resolved.path}")


@app.command("verify")
def weights_verify() -> None:
    """Check the sha256 of every weights file found against the hash in its name."""
    from nstcli.engine.backbones import BACKBONES
    from nstcli.engine.weights import search_locations, verify

    failures = 0
    for name, weight_spec in (
        (f"{name} {set_name}", weight_spec)
        for name, spec in BACKBONES.items()
        for set_name, weight_spec in spec.weight_sets.items()
    ):
        for label, path in search_locations(weight_spec):
            if not path.is_file():
                continue
            try:
                verify(weight_spec, path)
                out_console.print(f"[green]ok[/] {name}: {path} ({label})")
            except WeightsError as error:
                failures += 1
                err_console.print(f"[bold red]bad[/] {name}: {error}")
    if failures:
        raise typer.Exit(1)
