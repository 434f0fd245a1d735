"""The strength picture: one photo, one painting, five strengths side by side, per backbone.

The panels are `bench/strength.py`'s own results (its cache, running only what is
missing), so the picture shows exactly what the README's table measured.

    python bench/strength_picture.py   # make strength-picture
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_nst import JUDGE_FOR, SHARED, load_judge, pairs
from strength import STRENGTHS, measure, result_path

from nstcli.engine.images import load_image
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
    args = parser.parse_args(argv)
    if not (args.shared / "reference").is_dir():
        print(f"strength-picture: {args.shared / 'reference'} not found, skipped")
        return 0
    pair = next(p for p in pairs(args.shared) if p[0] == args.pair)
    backbones = [name for name in args.backbones.split(",") if name]
    painting = load_image(pair[2])
    columns = 1 + len(STRENGTHS)
    height = round(PANEL * 3 / 4)
    row = CAPTION + height + GAP
    sheet = Image.new("RGB", (GAP + columns * (PANEL + GAP), GAP + len(backbones) * row),
                      "white")  # fmt: skip
    draw = ImageDraw.Draw(sheet)
    for index, backbone in enumerate(backbones):
        judge, layers = load_judge(JUDGE_FOR[backbone])
        y = GAP + index * row
        panels = [(f"{backbone}: the painting", painting)]
        for strength in STRENGTHS:
            measure(backbone, pair, strength, args.size, args.cache, judge, layers)
            image = load_image(result_path(backbone, pair[0], strength, args.size, args.cache))
            panels.append((f"strength {strength:g}" + (" (photo)" if strength == 0 else ""),
                           image))  # fmt: skip
        for column, (label, image) in enumerate(panels):
            x = GAP + column * (PANEL + GAP)
            draw.text((x, y + 2), label, fill="black", font=font(15, bold=column == 0))
            fitted = image.convert("RGB").copy()
            fitted.thumbnail((PANEL, height))
            sheet.paste(fitted, (x + (PANEL - fitted.width) // 2, y + CAPTION))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.output, quality=82, optimize=True)
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
