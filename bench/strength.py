"""`--strength` measured: strength → structure, grain, colour and style per backbone.

For each backbone and reference pair (`bench/eval_nst.py`'s pairs and measures), run the
defaults at each strength and average the figures over the pairs, so that one can see
whether every figure moves monotonically and whether equal steps are roughly equal.

Each (backbone, pair, strength, curve) result is cached on disk (a PNG and a JSON of its
figures) under --out, so a killed run resumes where it stopped and a re-run after a
calibration only runs what the new curve changes. Writes strength.json and strength.md
(the README table) to --out.

    python bench/strength.py                      # make bench-strength
    python bench/strength.py --backbones vgg --pairs tubingen_starry,golden_gate_scream

Skips (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_nst import JUDGE_FOR, SHARED, load_judge, pairs

from nstcli.engine.backbones import get_spec
from nstcli.engine.config import StylizeConfig
from nstcli.engine.images import load_image, save_image
from nstcli.engine.quality import figures
from nstcli.engine.stylize import stylize

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
FIGURES = ("structure", "grain", "colour", "style")


def curve_key(backbone: str, strength: float) -> str:
    """What the curve makes of this strength (style factor, start share) over which
    defaults: a changed calibration or default changes the key, so stale cached results
    are not reused."""
    spec = get_spec(backbone)
    curve = spec.strength
    defaults = hashlib.sha1(repr(spec.defaults).encode()).hexdigest()[:8]
    factor = curve.style_factor(strength)
    chroma = f"_c{factor:.6g}" if curve.chroma_tv_follows and factor > 1 else ""
    blur = f"_b{curve.start_blur(strength):.6g}" if curve.start_blur(strength) else ""
    return f"f{factor:.6g}_s{curve.start_share(strength):.6g}{chroma}{blur}_d{defaults}"


def result_path(backbone: str, pair_name: str, strength: float, size: int, out: Path) -> Path:
    """Where the cached result image of this curve point lies (its figures: .json)."""
    stem = f"{backbone}_{pair_name}_s{strength:.2f}_{size}_{curve_key(backbone, strength)}"
    return out / "cache" / f"{stem}.png"


def measure(backbone, pair, strength, size, out, judge, judge_layers) -> dict:
    """One result's figures, from the cache when this curve point was run before."""
    name, content_path, style_path, _ = pair
    image_path = result_path(backbone, name, strength, size, out)
    cached = image_path.with_suffix(".json")
    if cached.exists():
        return json.loads(cached.read_text())
    content, style = load_image(content_path), load_image(style_path)
    config = StylizeConfig(backbone=backbone, size=size, offline=True, strength=strength)
    started = time.perf_counter()
    result = stylize(content, style, config)
    seconds = time.perf_counter() - started
    found = figures(result.image, content, style, judge, judge_layers).as_dict()
    record = {"pair": name, "strength": strength, "seconds": round(seconds, 1)} | found
    cached.parent.mkdir(parents=True, exist_ok=True)
    save_image(result.image, image_path)
    cached.write_text(json.dumps(record) + "\n")
    return record


def table(report: dict[str, dict]) -> str:
    """Markdown: one row per backbone and strength, figures averaged over its pairs."""
    lines = [
        "| backbone | pairs | strength | structure ↑ | grain | colour ↓ | style ↓ |",
        "|---|---|---|---|---|---|---|",
    ]
    for backbone, entry in report.items():
        for row in entry["means"]:
            lines.append(
                f"| {backbone} | {entry['pairs']} | {row['strength']:.2f} | "
                + " | ".join(f"{row[f]:.3f}" for f in FIGURES)
                + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="lite,vgg")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", default="", help="comma-separated pair names (default: all)")
    parser.add_argument("--strengths", default=",".join(map(str, STRENGTHS)))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path("bench/results/strength"))
    args = parser.parse_args(argv)
    if not (args.shared / "reference").is_dir():
        print(f"bench-strength: {args.shared / 'reference'} not found, skipped")
        return 0
    wanted = [name for name in args.pairs.split(",") if name]
    selected = [p for p in pairs(args.shared) if not wanted or p[0] in wanted]
    strengths = [float(s) for s in args.strengths.split(",")]
    backbones = [name for name in args.backbones.split(",") if name]
    judges = {name: load_judge(name) for name in {JUDGE_FOR[b] for b in backbones}}
    report: dict[str, dict] = {}
    for backbone in backbones:
        judge, judge_layers = judges[JUDGE_FOR[backbone]]
        print(f"\n{backbone} (style judged by {JUDGE_FOR[backbone]}), {args.size}px", flush=True)
        records = []
        for pair in selected:
            for strength in strengths:
                record = measure(backbone, pair, strength, args.size, args.out, judge,
                                 judge_layers)  # fmt: skip
                records.append(record)
                print(
                    f"{record['pair']:22} {strength:4.2f} {record['seconds']:6.1f}s  "
                    + "  ".join(f"{f} {record[f]:.3f}" for f in FIGURES),
                    flush=True,
                )
        means = [
            {"strength": s}
            | {f: sum(r[f] for r in records if r["strength"] == s) / len(selected) for f in FIGURES}
            for s in strengths
        ]
        report[backbone] = {"pairs": len(selected), "size": args.size, "means": means,
                            "records": records}  # fmt: skip
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "strength.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / "strength.md").write_text(table(report))
    print("\n" + table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
