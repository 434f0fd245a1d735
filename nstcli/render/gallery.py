"""The gallery's numbered contact sheet (`nst styles --sheet`, the bot's gallery photo).

A grid of thumbnails, each with a number badge (the number a bot button or a user refers
to) and its title, artist and year underneath::

    heading
    [1 ▣]  [2 ▣]  [3 ▣]
    1. title  2. title  3. title
    artist, year …
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from nstcli.gallery import Painting
from nstcli.render.text import fit_line, font

BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
MUTED = (105, 105, 105)
FRAME = (200, 200, 200)
BADGE = (30, 30, 30)
BADGE_INK = (255, 255, 255)
MARGIN = 24
GAP = 20


def gallery_sheet(
    paintings: Sequence[Painting],
    language: str = "en",
    columns: int = 3,
    cell: int = 320,
    heading: str | None = None,
) -> Image.Image:
    """Draw `paintings` numbered from 1 in a grid of `columns`, each fitted into a
    `cell`-px square; titles in `language` ("ru" or English). `heading` defaults to
    an English one; front ends pass their own (translated) text, or "" for none.
    """
    columns = max(1, min(columns, len(paintings) or 1))
    rows = -(-len(paintings) // columns)
    text = max(12, round(cell / 20))
    line = round(text * 1.35)
    caption = 8 + 2 * line
    if heading is None:
        heading = f"nst gallery: {len(paintings)} public-domain paintings (nst styles)"
    heading_h = round(text * 1.6 * 1.4) + GAP if heading else 0
    width = 2 * MARGIN + columns * cell + (columns - 1) * GAP
    height = 2 * MARGIN + heading_h + rows * (cell + caption) + (rows - 1) * GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if heading:
        face, fitted = fit_line(heading, width - 2 * MARGIN, round(text * 1.6), bold=True)
        draw.text((MARGIN, MARGIN), fitted, font=face, fill=INK)
    for index, painting in enumerate(paintings):
        row, column = divmod(index, columns)
        x = MARGIN + column * (cell + GAP)
        y = MARGIN + heading_h + row * (cell + caption + GAP)
        _draw_painting(sheet, painting.open(), x, y, cell, index + 1, text)
        title, details = (
            f"{index + 1}. {painting.title_in(language)}",
            f"{painting.artist_in(language)}, {painting.year_in(language)}",
        )
        face, fitted = fit_line(title, cell, text, bold=True)
        draw.text((x, y + cell + 6), fitted, font=face, fill=INK)
        face, fitted = fit_line(details, cell, text)
        draw.text((x, y + cell + 6 + line), fitted, font=face, fill=MUTED)
    return sheet


def _draw_painting(
    sheet: Image.Image, picture: Image.Image, x: int, y: int, cell: int, number: int, text: int
) -> None:
    """The picture letterboxed into the cell (bottom-aligned, so captions line up), framed,
    with its number in a badge at the top-left corner."""
    scale = min(cell / picture.width, cell / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    shown = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    left, top = x + (cell - size[0]) // 2, y + cell - size[1]
    sheet.paste(shown, (left, top))
    draw = ImageDraw.Draw(sheet)
    draw.rectangle((left - 1, top - 1, left + size[0], top + size[1]), outline=FRAME)
    face = font(round(text * 1.5), bold=True)
    label = str(number)
    side = round(max(face.getlength(label), face.size) + text * 0.8)
    draw.rectangle((left, top, left + side, top + side), fill=BADGE)
    x0, y0, x1, y1 = draw.textbbox((0, 0), label, font=face)
    draw.text(
        (left + (side - (x1 - x0)) / 2 - x0, top + (side - (y1 - y0)) / 2 - y0),
        label,
        font=face,
        fill=BADGE_INK,
    )
