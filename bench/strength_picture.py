"""The strength picture: one photo, one painting, five strengths side by side, per backbone.

By default the panels are `bench/strength.py`'s own results on a reference pair (its
cache, running only what is missing), so the picture shows exactly what the README's table
measured; that photo comes from ../shared and may not ship. `--shipped` draws instead the
project's own sample photo (`nstcli.samples`) in a gallery painting, both of which ship, for
the README's picture (docs/images/strength.jpg).

    python bench/strength_picture.py             # bench/results/strength/strength.jpg
    python bench/strength_picture.py --shipped   # make strength-picture
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_nst import JUDGE_FOR, SHARED, load_judge, pairs
from strength import STRENGTHS, measure, result_path

from nstcli import gallery, samples
from nstcli.engine.config import StylizeConfig
from nstcli.engine.images import load_image
from nstcli.engine.stylize import stylize
from nstcli.render.text import font

PANEL, CAPTION, GAP = 240, 22, 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="lite,vgg")
    parser.add_argument("--pair", default="tubingen_starry")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--cache", type=Path, default=Path("bench/results/strength"))
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("bench/results/strength/strength.jpg")
    )
    parser.add_argument(
        "--shipped", action="store_true", help="the sample photo in a gallery painting (both ship)"
    )
    parser.add_argument("--painting", default="starry-night", help="with --shipped")
    args = parser.parse_args(argv)
    backbones = [name for name in args.backbones.split(",") if name]
    if args.shipped:
        painting = gallery.find(args.painting).open()
        photo = samples.content_scene()
        rows = [(backbone, painting, shipped_panels(backbone, photo, painting, args.size))
                for backbone in backbones]  # fmt: skip
        return draw(rows, args.output)
    if not (args.shared / "reference").is_dir():
        print(f"strength-picture: {args.shared / 'reference'} not found, skipped")
        return 0
    pair = next(p for p in pairs(args.shared) if p[0] == args.pair)
    rows = []
    for backbone in backbones:
        judge, layers = load_judge(JUDGE_FOR[backbone])
        panels = []
        for strength in STRENGTHS:
            measure(backbone, pair, strength, args.size, args.cache, judge, layers)
            panels.append(load_image(result_path(backbone, pair[0], strength, args.size,
                                                 args.cache)))  # fmt: skip
        rows.append((backbone, load_image(pair[2]), panels))
    return draw(rows, args.output)


def shipped_panels(backbone: str, photo, painting, size: int) -> list:
    """The sample photo at each strength, run here (seed and all else at the defaults)."""
    panels = []
    for strength in STRENGTHS:
        config = StylizeConfig(backbone=backbone, size=size, strength=strength, offline=True)
        panels.append(stylize(photo, painting, config).image)
    return panels


def draw(rows: list, output: Path) -> int:
    """One row per (backbone, painting, a result per strength) into `output`."""
    columns = 1 + len(STRENGTHS)
    height = round(PANEL * 3 / 4)
    row = CAPTION + height + GAP
    sheet = Image.new("RGB", (GAP + columns * (PANEL + GAP), GAP + len(rows) * row), "white")
    pen = ImageDraw.Draw(sheet)
    for index, (backbone, painting, results) in enumerate(rows):
        y = GAP + index * row
        panels = [(f"{backbone}: the painting", painting)] + [
            (f"strength {strength:g}" + (" (photo)" if strength == 0 else ""), image)
            for strength, image in zip(STRENGTHS, results, strict=True)
        ]
        for column, (label, image) in enumerate(panels):
            x = GAP + column * (PANEL + GAP)
            pen.text((x, y + 2), label, fill="black", font=font(15, bold=column == 0))
            fitted = image.convert("RGB").copy()
            fitted.thumbnail((PANEL, height))
            sheet.paste(fitted, (x + (PANEL - fitted.width) // 2, y + CAPTION))
    output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(output, quality=82, optimize=True)
    print(f"wrote {output} ({output.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
