"""The `nst` application: every command module registered on one Typer app."""

from __future__ import annotations

from typing import Annotated

import typer

from nstcli import __version__
from nstcli.cli import bot, compare, eval_upscaler, layers, styles, stylize, upscale, weights

app = typer.Typer(
    name="nst",
    help="Neural style transfer on an ordinary CPU (or a GPU when there is one).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("stylize")(stylize.stylize)
app.command("layers")(layers.layers)
app.command("styles")(styles.styles)
app.command("compare")(compare.compare)
app.command("upscale")(upscale.upscale)
app.command("eval-upscaler")(eval_upscaler.eval_upscaler)
app.add_typer(weights.app, name="weights")
app.command("serve-bot")(bot.serve_bot)
app.command("worker")(bot.worker)
app.command("health")(bot.health)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nst {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Stylise photos (Gatys et al.) over VGG19, ResNet50 or EfficientNet-Lite0."""


def main() -> None:
    app()
