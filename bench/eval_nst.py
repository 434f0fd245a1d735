"""Quality evaluation: our defaults beside jcjohnson/neural-style's published VGG19 results.

For each of the 8 content × style pairs with a reference in ../shared/images/reference/,
run `nst stylize`'s defaults (512 px) with each backbone, and print structure, grain,
colour and style (`nstcli.engine.quality`) with the wall time, the reference's figures
beside ours, and whether each target of the quality issue is met. Writes the results,
a JSON file and a contact sheet per backbone (ours beside the reference) to --out.

    python bench/eval_nst.py                       # make eval-nst
    python bench/eval_nst.py --backbones lite --pairs tubingen_starry --set steps=200

Skips (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from nstcli.engine.backbones import get_spec, load_backbone
from nstcli.engine.config import StylizeConfig
from nstcli.engine.images import load_image, save_image
from nstcli.engine.quality import Figures, figures
from nstcli.engine.stylize import stylize
from nstcli.render.text import font

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
STYLE_FILES = {
    "starry": "starry_night.jpg",
    "scream": "the_scream.jpg",
    "matisse": "woman-with-hat-matisse.jpg",
    "seated": "seated-nude.jpg",
    "seated_nude": "seated-nude.jpg",
    "shipwreck": "shipwreck.jpg",
}
#: Which network judges the style of which backbone's result: never the one that made it.
JUDGE_FOR = {"vgg": "lite", "lite": "vgg", "resnet": "vgg"}

#: (grain max, structure slack below the reference, colour slack above, style factor).
TARGETS = {"vgg": (1.2, 0.05, 0.10, 1.2), "lite": (1.5, 0.10, 0.15, 1.3)}


def pairs(shared: Path) -> list[tuple[str, Path, Path, Path]]:
    """(name, content, style, reference) for every reference image."""
    found = []
    for reference in sorted((shared / "reference").glob("*.png")):
        for content in ("golden_gate", "tubingen"):
            prefix = content + "_"
            if reference.stem.startswith(prefix):
                style = STYLE_FILES[reference.stem[len(prefix) :]]
                found.append(
                    (
                        reference.stem,
                        shared / "content" / f"{content}.jpg",
                        shared / "style" / style,
                        reference,
                    )
                )
    return found


def parse_overrides(items: list[str]) -> dict[str, object]:
    """`key=value` strings → StylizeConfig fields, typed like the field's default."""
    overrides: dict[str, object] = {}
    fields = {field.name: field for field in dataclasses.fields(StylizeConfig)}
    for item in items:
        key, _, text = item.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {item}: no config field {key!r}")
        value: object
        if "," in text or key.endswith("_layers"):
            value = tuple(part for part in text.split(",") if part)
        elif text in ("true", "false"):
            value = text == "true"
        else:
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    value = text
        overrides[key] = value
    return overrides


def load_judge(backbone: str):
    layers = get_spec(backbone).defaults.style_layers
    judge, _ = load_backbone(backbone, layers, offline=True, progress=False)
    return judge, layers


def verdicts(backbone: str, ours: Figures, reference: Figures, seconds: float) -> list[str]:
    """The targets this result misses, in words (empty: all met)."""
    if backbone not in TARGETS:
        return []
    grain_max, structure_slack, colour_slack, style_factor = TARGETS[backbone]
    missed = []
    if ours.grain > grain_max:
        missed.append(f"grain {ours.grain:.2f} > {grain_max}")
    structure_min = reference.structure - structure_slack
    if ours.structure < structure_min:
        missed.append(f"structure {ours.structure:.2f} < {structure_min:.2f}")
    if ours.colour > reference.colour + colour_slack:
        missed.append(f"colour {ours.colour:.2f} > {reference.colour + colour_slack:.2f}")
    style_max = None if reference.style is None else style_factor * reference.style
    if ours.style is not None and style_max is not None and ours.style > style_max:
        missed.append(f"style {ours.style:.3f} > {style_max:.3f}")
    limit = {"vgg": 60.0, "lite": 20.0}.get(backbone)
    if limit is not None and seconds > limit:
        missed.append(f"time {seconds:.0f}s > {limit:.0f}s")
    return missed


def contact_sheet(rows: list[tuple[str, Image.Image, Image.Image]], title: str) -> Image.Image:
    """Ours (left) beside the reference (right), one pair per row, at 512 px wide each."""
    width, caption, gap = 512, 26, 6
    heights = [max(ours.height, ref.height) for _, ours, ref in rows]
    sheet = Image.new("RGB", (2 * width + 3 * gap, 40 + sum(h + caption + gap for h in heights)),
                      "white")  # fmt: skip
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 8), title, fill="black", font=font(20, bold=True))
    y = 40
    for (name, ours, ref), height in zip(rows, heights, strict=True):
        draw.text((gap, y), f"{name}: ours", fill="black", font=font(16))
        draw.text((2 * gap + width, y), "jcjohnson/neural-style", fill="black", font=font(16))
        y += caption
        for column, image in enumerate((ours, ref)):
            scaled = image.resize((width, round(image.height * width / image.width)))
            sheet.paste(scaled, (gap + column * (gap + width), y))
        y += height + gap
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="vgg,lite")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", default="", help="comma-separated pair names (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a StylizeConfig field (tuning)")  # fmt: skip
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path("bench/results/eval-nst"))
    parser.add_argument("--tag", default="", help="suffix for output names (tuning runs)")
    args = parser.parse_args(argv)
    if not (args.shared / "reference").is_dir():
        print(f"eval-nst: {args.shared / 'reference'} not found, skipped")
        return 0
    available = pairs(args.shared)
    wanted = [name for name in args.pairs.split(",") if name]
    unknown = sorted(set(wanted) - {name for name, *_ in available})
    if unknown:
        names = ", ".join(name for name, *_ in available)
        raise SystemExit(f"error: unknown pair(s) {', '.join(unknown)}; choose from {names}")
    selected = [p for p in available if not wanted or p[0] in wanted]
    overrides = parse_overrides(args.set)
    backbones = [name for name in args.backbones.split(",") if name]
    judges = {name: load_judge(name) for name in {JUDGE_FOR[b] for b in backbones}}
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, list[dict]] = {}
    for backbone in backbones:
        judge, judge_layers = judges[JUDGE_FOR[backbone]]
        config = StylizeConfig(backbone=backbone, size=args.size, offline=True, **overrides)
        rows, records = [], []
        print(f"\n{backbone} (style judged by {JUDGE_FOR[backbone]}) {overrides or ''}")
        print(f"{'pair':22} {'time':>6}  {'structure':>15} {'grain':>13} {'colour':>13} "
              f"{'style':>15}  missed")  # fmt: skip
        for name, content_path, style_path, reference_path in selected:
            content, style = load_image(content_path), load_image(style_path)
            reference = load_image(reference_path)
            started = time.perf_counter()
            result = stylize(content, style, config)
            seconds = time.perf_counter() - started
            ours = figures(result.image, content, style, judge, judge_layers)
            theirs = figures(reference, content, style, judge, judge_layers)
            save_image(result.image, args.out / f"{backbone}_{name}{args.tag}.png")
            missed = verdicts(backbone, ours, theirs, seconds)
            print(f"{name:22} {seconds:5.1f}s  "
                  f"{ours.structure:6.3f} ({theirs.structure:5.3f}) "
                  f"{ours.grain:5.2f} ({theirs.grain:4.2f}) "
                  f"{ours.colour:5.2f} ({theirs.colour:4.2f}) "
                  f"{ours.style:6.3f} ({theirs.style:6.3f})  "
                  f"{'; '.join(missed) or 'all met'}", flush=True)  # fmt: skip
            rows.append((name, result.image, reference))
            final = result.final.total if result.final else None
            records.append({"pair": name, "seconds": round(seconds, 1), "ours": ours.as_dict(),
                            "reference": theirs.as_dict(), "missed": missed,
                            "final_loss": final})  # fmt: skip
        report[backbone] = records
        sheet = contact_sheet(rows, f"{backbone} defaults, {args.size}px, vs the reference")
        save_image(sheet, args.out / f"sheet_{backbone}{args.tag}.png")
        met = sum(not record["missed"] for record in records)
        print(f"{backbone}: {met}/{len(records)} pairs meet every target")
    (args.out / f"eval-nst{args.tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
