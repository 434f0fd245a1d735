"""`nst styles`: the built-in gallery of paintings, as a table or a numbered contact sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nstcli.cli.common import err_console, out_console, user_errors


def styles(
    sheet: Annotated[
        Path | None,
        typer.Option(
            help="Also draw the gallery as a numbered contact sheet here (.png, .jpg, .webp).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List the paintings any style argument can name by slug (or a unique prefix of it),
    e.g. `nst stylize photo.jpg starry-night`."""
    from nstcli import gallery

    with user_errors():
        if sheet is not None:
            from nstcli.engine.images import check_writable, save_image
            from nstcli.render.gallery import gallery_sheet

            path = check_writable(sheet, [])
            save_image(gallery_sheet(gallery.paintings()), path)
            err_console.print(f"[green]saved[/] {path}", highlight=False)
    out_console.print(gallery_table(gallery.paintings()))


def gallery_table(paintings: tuple) -> Table:
    """Number, slug, title, artist and year; titles wrap so the table fits 80 columns."""
    table = Table(title="nst gallery (public domain)", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("slug", no_wrap=True)
    table.add_column("title", ratio=1, overflow="fold")
    table.add_column("artist")
    table.add_column("year", no_wrap=True)
    for number, painting in enumerate(paintings, start=1):
        table.add_row(str(number), painting.slug, painting.title, painting.artist, painting.year)
    return table
