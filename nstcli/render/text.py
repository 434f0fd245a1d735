"""Fonts and text fitting for sheets drawn with Pillow.

Uses the DejaVu Sans files that ship inside matplotlib (already a dependency for the
charts), so captions look the same everywhere and cover characters such as × — Δ.
"""

from __future__ import annotations

import functools
import re

from PIL import ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans at `size` pixels (Pillow's own scalable default font if it is absent)."""
    from matplotlib import font_manager

    properties = font_manager.FontProperties(
        family="DejaVu Sans", weight="bold" if bold else "normal"
    )
    try:
        path = font_manager.findfont(properties, fallback_to_default=True)
        return ImageFont.truetype(path, size)
    except (OSError, ValueError):
        return ImageFont.load_default(size)


def text_width(text: str, face: Font) -> float:
    return face.getlength(text)


def fit_line(text: str, width: int, size: int, bold: bool = False, smallest: int = 9):
    """(font, text) drawing `text` within `width` px: shrink the font, then ellipsize."""
    for candidate in range(size, smallest - 1, -1):
        face = font(candidate, bold)
        if text_width(text, face) <= width:
            return face, text
    face = font(smallest, bold)
    while text and text_width(text + "…", face) > width:
        text = text[:-1]
    return face, text + "…"


def wrap(text: str, face: Font, width: int) -> list[str]:
    """Greedy word wrap to `width` px; a `quoted command` is kept on one line if it fits."""
    lines: list[str] = []
    current = ""
    for word in re.findall(r"`[^`]*`|\S+", text):
        trial = f"{current} {word}".strip()
        if current and text_width(trial, face) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def draw_centered(
    draw: ImageDraw.ImageDraw,
    lines: list[tuple[str, Font]],
    box: tuple[int, int, int, int],
    fill: tuple[int, int, int],
    spacing: float = 1.3,
) -> None:
    """Draw `lines` (each with its font) centred horizontally and vertically in `box`."""
    left, top, right, bottom = box
    heights = [round(face.size * spacing) for _, face in lines]
    y = top + (bottom - top - sum(heights)) / 2
    for (line, face), height in zip(lines, heights, strict=True):
        x = left + (right - left - text_width(line, face)) / 2
        draw.text((x, y), line, font=face, fill=fill)
        y += height


def short_number(value: float) -> str:
    """Three significant digits, compact exponent: 12345.6 → '1.23e4', 0.5 → '0.5'."""
    text = f"{value:.3g}"
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], text)
