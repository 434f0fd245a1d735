"""`nst layers`: the layers each backbone exposes, and which ones are used by default."""

from __future__ import annotations

from rich.table import Table

from nstcli.cli.common import out_console


def layers() -> None:
    """List every backbone's named layers and its default style/content layers and weights."""
    from nstcli.engine.backbones import BACKBONES

    table = Table(title="Backbone layers (use with --style-layers / --content-layers)")
    for column in ("backbone", "available layers", "default style", "default content", "defaults"):
        table.add_column(column, overflow="fold")
    for name, spec in BACKBONES.items():
        d = spec.defaults
        table.add_row(
            f"{name}\n({spec.title})",
            ", ".join(spec.available_layers),
            ", ".join(d.style_layers),
            ", ".join(d.content_layers),
            f"{d.optimizer}, lr {d.lr:g}, {d.steps} steps, style {d.style_weight:g}, "
            f"content {d.content_weight:g}, tv {d.tv_weight:g}",
        )
    out_console.print(table)
