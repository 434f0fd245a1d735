"""Seconds per optimisation step (forward + backward) per backbone and size, plus peak RSS.

Each (backbone, size) is measured in a fresh subprocess so peak RSS belongs to that case
alone. vgg/resnet use random-init weights (same architecture and cost as the real ones),
lite its real packaged weights. Writes JSON and a Markdown table to --out.

    python bench/stylize_speed.py --sizes 256,512 --backbones vgg,resnet,lite --out bench/results
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def measure_case(backbone: str, size: int, steps: int, threads: int | None) -> dict:
    """Run in a child: time `steps` Adam steps after one warm-up, report peak RSS."""
    from nstcli import samples
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.stylize import load_for, stylize

    config = StylizeConfig(
        backbone=backbone,
        size=size,
        steps=steps + 1,
        optimizer="adam",
        pretrained=(backbone == "lite"),
        threads=threads,
    )
    content = samples.content_scene(size, round(size * 0.75))
    style = samples.style_picture(size, size)
    backbone_ready = load_for(config)
    result = stylize(content, style, config, backbone=backbone_ready)
    # Drop the first step: it includes one-off allocation and target extraction.
    times = [r.elapsed for r in result.history]
    per_step = (times[-1] - times[0]) / (len(times) - 1)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "backbone": backbone,
        "size": size,
        "image": f"{result.image.width}x{result.image.height}",
        "seconds_per_step": round(per_step, 4),
        "peak_rss_mib": round(peak_rss_mib, 1),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="vgg,resnet,lite")
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--child", nargs=2, metavar=("BACKBONE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        case = measure_case(args.child[0], int(args.child[1]), args.steps, args.threads)
        print(json.dumps(case))
        return

    rows = []
    for backbone in args.backbones.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            command = [
                sys.executable,
                __file__,
                "--child",
                backbone,
                str(size),
                "--steps",
                str(args.steps),
            ]
            if args.threads:
                command += ["--threads", str(args.threads)]
            started = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(completed.stdout.strip().splitlines()[-1])
            row["case_wall_s"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(
                f"{backbone:7s} {size:5d}px {row['seconds_per_step']:.3f} s/step "
                f"peak RSS {row['peak_rss_mib']:.0f} MiB",
                flush=True,
            )

    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "stylize_step": rows,
    }
    (args.out / "stylize_speed.json").write_text(json.dumps(report, indent=2))
    lines = ["| backbone | size | image | s/step | peak RSS MiB |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['backbone']} | {r['size']} | {r['image']} | {r['seconds_per_step']:.3f} | "
        f"{r['peak_rss_mib']:.0f} |"
        for r in rows
    ]
    (args.out / "stylize_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
