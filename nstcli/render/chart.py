"""Total loss against wall-clock time, drawn with matplotlib's Agg backend into a Pillow image.

matplotlib does axes, log ticks, legends and label layout far better than hand-drawn
lines would; it is used through `Figure` + `FigureCanvasAgg` directly, so no GUI backend
and no global pyplot state are ever involved (safe in the bot's threads too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 100


@dataclass(frozen=True)
class Series:
    """One line of the chart: a run's (seconds, total loss) points."""

    label: str
    seconds: Sequence[float]
    loss: Sequence[float]
    color: str
    linestyle: str = "-"


def loss_chart(
    series: Sequence[Series],
    width: int,
    height: int,
    title: str = "Total loss against wall-clock time",
    note: str | None = None,
) -> Image.Image:
    """An RGB image of `width`×`height` px; the loss axis is logarithmic."""
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    scale = min(1.6, max(1.0, width / 1100))  # larger sheets get larger text
    plotted = 0
    for line in series:
        seconds = np.asarray(line.seconds, dtype=float)
        loss = np.asarray(line.loss, dtype=float)
        keep = np.isfinite(loss) & (loss > 0) & np.isfinite(seconds)
        if not keep.any():
            continue
        axes.plot(
            seconds[keep],
            loss[keep],
            color=line.color,
            linestyle=line.linestyle,
            linewidth=2.0 * scale,
            label=line.label,
        )
        axes.plot(seconds[keep][-1], loss[keep][-1], "o", color=line.color, markersize=5 * scale)
        plotted += 1
    if plotted:
        axes.set_yscale("log")
        axes.legend(
            fontsize=11 * scale,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0,
            frameon=False,
        )
    else:
        axes.text(0.5, 0.5, "no backbone ran", ha="center", va="center", fontsize=14 * scale)
    axes.set_xlim(left=0)
    axes.set_xlabel("wall-clock time since optimisation started (s)", fontsize=12 * scale)
    axes.set_ylabel("total weighted loss (log scale)", fontsize=12 * scale)
    axes.tick_params(labelsize=10.5 * scale)
    axes.grid(True, which="major", alpha=0.35)
    axes.grid(True, which="minor", alpha=0.12)
    axes.set_title(title, fontsize=13.5 * scale, loc="left")
    if note:  # figure text, outside the axes, so tight_layout ignores it
        figure.text(0.006, 0.012, note, fontsize=9.5 * scale, color="#555555", va="bottom")
    figure.tight_layout(rect=(0, 0.05 if note else 0, 1, 1))
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy(), mode="RGB")
