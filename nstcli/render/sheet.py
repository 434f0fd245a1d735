"""The `nst compare` contact sheet: inputs, one panel per backbone (or a backbone × value
grid for sweeps), an optional difference row, and the loss-against-time chart.

Layout, top to bottom::

    title, subtitle (settings shared by every run)
    [content] [style] │ [backbone 1] [backbone 2] …      ← captions under each
                      │ [difference 1] [difference 2] …  ← optional, shared colour scale
    chart: total loss against wall-clock seconds, one line per run

With a sweep the results form a grid instead: one row per backbone, one column per value.
`render_sheet` returns the image together with where every panel was drawn, so callers
(and tests) can find panels without re-deriving the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matplotlib import colormaps
from matplotlib.colors import to_hex
from PIL import Image, ImageDraw

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.compare import Comparison, Entry, SweepValue, format_value
from nstcli.render.chart import Series, loss_chart
from nstcli.render.heatmap import change_map, color_bar, colorize, shared_scale
from nstcli.render.text import Font, draw_centered, fit_line, font, short_number, wrap

Box = tuple[int, int, int, int]

BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
MUTED = (105, 105, 105)
FRAME = (200, 200, 200)
SKIPPED_FILL = (238, 238, 238)
SKIPPED_INK = (150, 40, 40)

MARGIN = 24
GAP = 16
#: Sheets are at least this wide, so the chart below stays readable with one or two panels.
MIN_WIDTH = 1000
#: Extra space between the inputs and the results, with a rule drawn in it.
DIVIDER = 28

#: Line colour and colour-map family of a backbone without a row in `BACKBONE_FACTS`.
_FALLBACK = [("#9467bd", "Purples"), ("#8c564b", "Greys"), ("#e377c2", "RdPu")]


@dataclass(frozen=True)
class PanelBox:
    """Where one picture was drawn: kind, whose it is, and its pixel box (l, t, r, b)."""

    kind: str  # content | style | result | skipped | difference | scale
    box: Box
    backbone: str | None = None
    sweep_value: SweepValue | None = None


@dataclass
class RenderedSheet:
    image: Image.Image
    panels: list[PanelBox] = field(default_factory=list)
    chart_box: Box = (0, 0, 0, 0)

    def of_kind(self, *kinds: str) -> list[PanelBox]:
        return [panel for panel in self.panels if panel.kind in kinds]


@dataclass(frozen=True)
class _Metrics:
    """Sizes derived from the panel size, so small and large sheets stay proportionate."""

    cell: tuple[int, int]  # width, height of one picture
    text: int  # caption font size (px)

    @property
    def line(self) -> int:
        return round(self.text * 1.35)

    def caption_height(self, lines: int) -> int:
        return 6 + lines * self.line


def render_sheet(
    comparison: Comparison,
    content: Image.Image,
    style: Image.Image,
    content_name: str = "content",
    style_name: str = "style",
    difference: bool = True,
    panel: int | None = None,
) -> RenderedSheet:
    """Draw the whole sheet. `panel` is the longer side of each picture (default: the
    results' own size, kept between 224 and 448 px so sheets stay viewable).

    `content`/`style` are the original PIL images; the difference row (never drawn for
    sweeps, whose grid is already two-dimensional) needs the content.
    """
    metrics = _metrics(comparison, content, panel)
    if comparison.sweep is not None:
        return _SweepSheet(comparison, content, style, content_name, style_name, metrics).draw()
    return _RowSheet(
        comparison, content, style, content_name, style_name, metrics, difference
    ).draw()


def _metrics(comparison: Comparison, content: Image.Image, panel: int | None) -> _Metrics:
    if panel is None:
        sides = [max(entry.result.image.size) for entry in comparison.ran if entry.result]
        panel = max(sides) if sides else 320
        panel = min(448, max(224, panel))
    width, height = content.size
    if width >= height:
        cell = (panel, max(1, round(panel * height / width)))
    else:
        cell = (max(1, round(panel * width / height)), panel)
    return _Metrics(cell, text=max(11, min(16, round(panel / 22))))


class _Base:
    """Shared drawing helpers; subclasses compute positions and call them."""

    def __init__(
        self,
        comparison: Comparison,
        content: Image.Image,
        style: Image.Image,
        content_name: str,
        style_name: str,
        metrics: _Metrics,
    ) -> None:
        self.comparison = comparison
        self.content = content
        self.style = style
        self.content_name = content_name
        self.style_name = style_name
        self.m = metrics
        self.panels: list[PanelBox] = []

    # -- text ---------------------------------------------------------------------------
    def title_height(self, width: int) -> int:
        return round(self.m.text * 1.6 * 1.3) + len(self._subtitle_lines(width)) * self.m.line + 10

    def _subtitle_lines(self, width: int) -> list[str]:
        return wrap(self._subtitle(), font(self.m.text), width - 2 * MARGIN)[:3]

    def draw_title(self, draw: ImageDraw.ImageDraw, width: int) -> None:
        big = round(self.m.text * 1.6)
        title = f"nst compare — {self.content_name} in the style of {self.style_name}"
        face, text = fit_line(title, width - 2 * MARGIN, big, bold=True)
        draw.text((MARGIN, MARGIN), text, font=face, fill=INK)
        for index, line in enumerate(self._subtitle_lines(width)):
            y = MARGIN + round(big * 1.3) + index * self.m.line
            draw.text((MARGIN, y), line, font=font(self.m.text), fill=MUTED)

    def _subtitle(self) -> str:
        configs = [entry.result.config for entry in self.comparison.ran if entry.result]
        planned = [entry.job.config for entry in self.comparison.entries if entry.job.config]
        config = configs[0] if configs else (planned[0] if planned else None)
        parts = []
        if config is not None:
            if self.comparison.sweep is None or self.comparison.sweep.option != "size":
                parts.append(f"{config.size} px")
            if self.comparison.sweep is None or self.comparison.sweep.option != "seed":
                parts.append(f"seed {config.seed}")
        devices = sorted({entry.result.device for entry in self.comparison.ran if entry.result})
        if devices:
            parts.append("device " + ", ".join(devices))
        parts.append("same options and seed for every backbone (unset options: its defaults)")
        if self.comparison.sweep is not None:
            sweep = self.comparison.sweep
            values = ", ".join(format_value(v) for v in sweep.values)
            parts.append(f"sweep --{sweep.option.replace('_', '-')} = {values}")
        return " · ".join(parts)

    def draw_caption(
        self, draw: ImageDraw.ImageDraw, x: int, y: int, lines: list[tuple[str, bool, bool]]
    ) -> None:
        """Lines of (text, bold, muted) under a picture, each fitted to the cell width."""
        width = self.m.cell[0]
        for index, (text, bold, muted) in enumerate(lines):
            face, fitted = fit_line(text, width, self.m.text, bold=bold)
            draw.text(
                (x, y + 4 + index * self.m.line), fitted, font=face, fill=MUTED if muted else INK
            )

    # -- pictures -----------------------------------------------------------------------
    def paste_fitted(
        self, sheet: Image.Image, picture: Image.Image, x: int, y: int, fill: bool = True
    ) -> Box:
        """Paste `picture` into the cell at (x, y): stretched to it (`fill`) or letterboxed."""
        cw, ch = self.m.cell
        if fill:
            shown = picture.convert("RGB").resize((cw, ch), Image.Resampling.LANCZOS)
            sheet.paste(shown, (x, y))
            box = (x, y, x + cw, y + ch)
        else:
            scale = min(cw / picture.width, ch / picture.height)
            size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
            shown = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            px, py = x + (cw - size[0]) // 2, y + (ch - size[1]) // 2
            sheet.paste(shown, (px, py))
            box = (px, py, px + size[0], py + size[1])
        ImageDraw.Draw(sheet).rectangle(
            (box[0] - 1, box[1] - 1, box[2], box[3]), outline=FRAME, width=1
        )
        return box

    def draw_inputs(self, sheet: Image.Image, x: int, y: int) -> None:
        """Content then style, each with a two-line caption."""
        draw = ImageDraw.Draw(sheet)
        cw, ch = self.m.cell
        for kind, picture, name in (
            ("content", self.content, self.content_name),
            ("style", self.style, self.style_name),
        ):
            box = self.paste_fitted(sheet, picture, x, y, fill=(kind == "content"))
            self.panels.append(PanelBox(kind, box))
            self.draw_caption(
                draw,
                x,
                y + ch,
                [
                    (f"{kind}: {name}", True, False),
                    (f"{picture.width}×{picture.height} px", False, True),
                ],
            )
            x += cw + GAP

    def draw_entry(
        self, sheet: Image.Image, entry: Entry, x: int, y: int, with_title: bool
    ) -> None:
        """A result (or a skipped panel) with its caption of figures."""
        draw = ImageDraw.Draw(sheet)
        cw, ch = self.m.cell
        title = _backbone_title(entry.backbone)
        if entry.result is not None:
            box = self.paste_fitted(sheet, entry.result.image, x, y)
            self.panels.append(PanelBox("result", box, entry.backbone, entry.job.sweep_value))
            lines = _figures(entry)
        else:
            box = (x, y, x + cw, y + ch)
            self._draw_skipped(sheet, box, entry.skip_reason or "could not run")
            self.panels.append(PanelBox("skipped", box, entry.backbone, entry.job.sweep_value))
            lines = [("not run: details in the command output", False, True)]
        if with_title:
            lines = [(title, True, False), *lines]
        self.draw_caption(draw, x, y + ch, lines)

    def _draw_skipped(self, sheet: Image.Image, box: Box, reason: str) -> None:
        """A grey, hatched placeholder saying why there is no picture."""
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        tile = Image.new("RGB", (width, height), SKIPPED_FILL)
        hatch = ImageDraw.Draw(tile)
        step = max(12, width // 16)
        for offset in range(-height, width, step):  # light diagonal hatching, clipped by the tile
            hatch.line((offset, height, offset + height, 0), fill=(228, 228, 228), width=1)
        sheet.paste(tile, (left, top))
        draw = ImageDraw.Draw(sheet)
        draw.rectangle((left - 1, top - 1, right, bottom), outline=FRAME)
        heading = font(round(self.m.text * 1.4), bold=True)
        body = font(self.m.text)
        lines: list[tuple[str, Font]] = [("skipped:", heading)]
        lines += [(line, body) for line in wrap(reason, body, width - 24)]
        draw_centered(draw, lines, box, SKIPPED_INK)

    # -- chart --------------------------------------------------------------------------
    def chart_height(self, width: int) -> int:
        return max(340, min(560, round(width * 0.36)))

    def draw_chart(self, sheet: Image.Image, x: int, y: int, width: int) -> Box:
        height = self.chart_height(width)
        chart = loss_chart(
            _series(self.comparison),
            width,
            height,
            note=(
                "Each backbone's loss has its own scale (different features): "
                "compare curve shapes and times, not heights across backbones."
            ),
        )
        sheet.paste(chart, (x, y))
        return (x, y, x + width, y + height)


class _RowSheet(_Base):
    """Inputs and one result per backbone in a row; optional difference row beneath."""

    def __init__(
        self,
        comparison: Comparison,
        content: Image.Image,
        style: Image.Image,
        content_name: str,
        style_name: str,
        metrics: _Metrics,
        difference: bool,
    ) -> None:
        super().__init__(comparison, content, style, content_name, style_name, metrics)
        self.difference = difference and bool(comparison.ran)

    def draw(self) -> RenderedSheet:
        cw, ch = self.m.cell
        entries = self.comparison.entries
        results_x = MARGIN + 2 * (cw + GAP) - GAP + DIVIDER
        width = max(MIN_WIDTH, results_x + len(entries) * (cw + GAP) - GAP + MARGIN)
        row_y = MARGIN + self.title_height(width)
        row_h = ch + self.m.caption_height(4)
        diff_y = row_y + row_h + GAP
        diff_h = ch + self.m.caption_height(1) if self.difference else 0
        chart_y = diff_y + diff_h + (GAP if self.difference else 0)
        chart_w = width - 2 * MARGIN
        height = chart_y + self.chart_height(chart_w) + MARGIN

        sheet = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        self.draw_title(draw, width)
        self.draw_inputs(sheet, MARGIN, row_y)
        rule_x = results_x - DIVIDER // 2
        draw.line((rule_x, row_y, rule_x, diff_y + diff_h - GAP), fill=FRAME, width=2)
        for index, entry in enumerate(entries):
            self.draw_entry(sheet, entry, results_x + index * (cw + GAP), row_y, with_title=True)
        if self.difference:
            self._draw_differences(sheet, results_x, diff_y)
        chart_box = self.draw_chart(sheet, MARGIN, chart_y, chart_w)
        return RenderedSheet(sheet, self.panels, chart_box)

    def _draw_differences(self, sheet: Image.Image, results_x: int, y: int) -> None:
        """Heat maps of |result − content| on one shared scale, with its colour bar."""
        draw = ImageDraw.Draw(sheet)
        cw, ch = self.m.cell
        maps = {
            index: change_map(self.content, entry.result.image)
            for index, entry in enumerate(self.comparison.entries)
            if entry.result is not None
        }
        scale = shared_scale(list(maps.values()))
        for index, entry in enumerate(self.comparison.entries):
            x = results_x + index * (cw + GAP)
            if index not in maps:
                continue
            box = self.paste_fitted(sheet, colorize(maps[index], scale), x, y)
            self.panels.append(PanelBox("difference", box, entry.backbone))
            self.draw_caption(
                draw,
                x,
                y + ch,
                [(f"mean change {short_number(float(maps[index].mean()))}", False, True)],
            )
        self._draw_scale(sheet, MARGIN, y, 2 * cw + GAP, scale)

    def _draw_scale(self, sheet: Image.Image, x: int, y: int, width: int, scale: float) -> None:
        """Explain the difference row where the inputs' column leaves room for it."""
        draw = ImageDraw.Draw(sheet)
        ch = self.m.cell[1]
        text, bold = self.m.text, font(self.m.text, bold=True)
        lines = [
            ("Difference from the content", bold),
            ("|result − content| per pixel, mean of R, G, B,", font(text)),
            ("smoothed; one scale for every backbone", font(text)),
        ]
        top = y + max(0, ch // 2 - 3 * self.m.line)
        for index, (line, face) in enumerate(lines):
            face_fit, fitted = fit_line(line, width, face.size, bold=face is bold)
            draw.text((x, top + index * self.m.line), fitted, font=face_fit, fill=INK)
        bar_y = top + 3 * self.m.line + 8
        bar_h = max(14, self.m.line)
        bar = color_bar(width, bar_h)
        sheet.paste(bar, (x, bar_y))
        draw.rectangle((x - 1, bar_y - 1, x + width, bar_y + bar_h), outline=FRAME)
        self.panels.append(PanelBox("scale", (x, bar_y, x + width, bar_y + bar_h)))
        small = font(self.m.text)
        label_y = bar_y + bar_h + 4
        draw.text((x, label_y), "0 (unchanged)", font=small, fill=MUTED)
        right = f"{short_number(scale)} or more"
        draw.text((x + width - small.getlength(right), label_y), right, font=small, fill=MUTED)


class _SweepSheet(_Base):
    """Inputs on top, then a grid: one row per backbone, one column per swept value."""

    def draw(self) -> RenderedSheet:
        sweep = self.comparison.sweep
        assert sweep is not None
        cw, ch = self.m.cell
        label_w = self._label_width()
        grid_x = MARGIN + label_w + GAP
        columns = len(sweep.values)
        grid_w = columns * (cw + GAP) - GAP
        inputs_w = 2 * cw + GAP
        width = max(MIN_WIDTH, grid_x + max(grid_w, inputs_w) + MARGIN)
        inputs_y = MARGIN + self.title_height(width)
        header_y = inputs_y + ch + self.m.caption_height(2) + 2 * GAP
        header_h = round(self.m.text * 1.3 * 1.3) + GAP
        grid_y = header_y + header_h
        row_h = ch + self.m.caption_height(3) + GAP
        rows = len(self.comparison.backbones)
        chart_y = grid_y + rows * row_h
        chart_w = width - 2 * MARGIN
        height = chart_y + self.chart_height(chart_w) + MARGIN

        sheet = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(sheet)
        self.draw_title(draw, width)
        self.draw_inputs(sheet, grid_x, inputs_y)
        header_font = font(round(self.m.text * 1.3), bold=True)
        for column, value in enumerate(sweep.values):
            x = grid_x + column * (cw + GAP)
            face, text = fit_line(sweep.label(value), cw, header_font.size, bold=True)
            draw.text((x + (cw - face.getlength(text)) / 2, header_y), text, font=face, fill=INK)
        draw.line(
            (MARGIN, grid_y - GAP // 2, width - MARGIN, grid_y - GAP // 2), fill=FRAME, width=2
        )
        for row, backbone in enumerate(self.comparison.backbones):
            y = grid_y + row * row_h
            draw_centered(
                draw,
                [(backbone, header_font), (_network_title(backbone), font(self.m.text))],
                (MARGIN, y, MARGIN + label_w, y + ch),
                INK,
            )
            by_value = {entry.job.sweep_value: entry for entry in self.comparison.row(backbone)}
            for column, value in enumerate(sweep.values):
                entry = by_value.get(value)
                if entry is not None:
                    x = grid_x + column * (cw + GAP)
                    self.draw_entry(sheet, entry, x, y, with_title=False)
        chart_box = self.draw_chart(sheet, MARGIN, chart_y, chart_w)
        return RenderedSheet(sheet, self.panels, chart_box)

    def _label_width(self) -> int:
        face = font(round(self.m.text * 1.3), bold=True)
        small = font(self.m.text)
        widths = [
            max(face.getlength(name), small.getlength(_network_title(name)))
            for name in self.comparison.backbones
        ]
        return round(max(widths, default=60)) + 8


def _network_title(backbone: str) -> str:
    facts = BACKBONE_FACTS.get(backbone)
    return facts.title if facts else backbone


def _backbone_title(backbone: str) -> str:
    return f"{backbone} ({_network_title(backbone)})"


def _figures(entry: Entry) -> list[tuple[str, bool, bool]]:
    """Caption lines: steps, seconds, seconds per step, final content and style loss."""
    result = entry.result
    assert result is not None
    final = result.final
    lines = [
        (
            f"{result.steps} steps · {result.wall_time:.1f} s · "
            f"{result.seconds_per_step:.3f} s/step",
            False,
            False,
        )
    ]
    if final is not None:
        lines.append(
            (
                f"content {short_number(final.content)} · style {short_number(final.style)}",
                False,
                False,
            )
        )
    if entry.result.spikes:
        lines.append((f"{result.spikes} loss spike(s) damped", False, True))
    return lines


def _colors(backbone: str, index: int) -> tuple[str, str]:
    """Line colour and, for sweeps, colour-map family of the backbone."""
    facts = BACKBONE_FACTS.get(backbone)
    if facts is not None:
        return facts.color, facts.color_family
    return _FALLBACK[(index - len(BACKBONE_FACTS)) % len(_FALLBACK)]


def _series(comparison: Comparison) -> list[Series]:
    """One chart line per run: solid per backbone, or shades of its colour across a sweep."""
    series: list[Series] = []
    sweep = comparison.sweep
    for index, backbone in enumerate(comparison.backbones):
        line_color, family = _colors(backbone, index)
        for entry in comparison.row(backbone):
            result = entry.result
            if result is None:
                continue
            if sweep is None:
                color = line_color
                label = (
                    f"{backbone}: {result.wall_time:.1f} s, {result.seconds_per_step:.3f} s/step"
                )
            else:
                value = entry.job.sweep_value
                assert value is not None
                position = sweep.values.index(value) / max(1, len(sweep.values) - 1)
                color = to_hex(colormaps[family](0.4 + 0.55 * position))
                label = f"{backbone}, {sweep.label(value)}"
            series.append(
                Series(
                    label=label,
                    seconds=[record.elapsed for record in result.history],
                    loss=[record.total for record in result.history],
                    color=color,
                )
            )
    return series
