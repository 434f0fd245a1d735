"""Default runs in yardsticks: `nst stylize` at 512 px on golden_gate x starry night.

For each backbone and precision, in one process and one run: the machine's yardstick
(bench/yardstick.py, a bare VGG19 forward + backward), our own full-size step (single scale,
Adam, after a warm-up step), and the default run (the engine's schedule, start-up excluded),
reported in seconds, in yardsticks and in own full-size steps. Issue 22's targets: vgg default
<= 46 yardsticks, lite <= 12, one vgg full-size step within 1.3 yardsticks.

    nice -n 10 python bench/stylize_default.py --out bench/results --repeats 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yardstick
from speed_pair import SHARED_IMAGES, load_speed_pair, write_rows


def own_step_seconds(backbone: str, precision: str, content, style, size: int, steps: int = 4):
    """Seconds of one full-size single-scale step of ours, the warm-up step dropped."""
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.stylize import stylize

    config = StylizeConfig(
        backbone=backbone, size=size, steps=steps + 1, optimizer="adam", multiscale=False,
        precision=precision,
    )  # fmt: skip
    times = [record.elapsed for record in stylize(content, style, config).history]
    return (times[-1] - times[0]) / (len(times) - 1)


def default_run_seconds(backbone: str, precision: str, content, style, size: int) -> float:
    """Wall time of the default run (the engine's own schedule), start-up excluded."""
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.stylize import stylize

    config = StylizeConfig(backbone=backbone, size=size, precision=precision)
    return stylize(content, style, config).wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="vgg,lite")
    parser.add_argument("--precisions", default="bf16,fp32")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2, help="default runs per case")
    parser.add_argument("--images", type=Path, default=SHARED_IMAGES)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()

    pair = load_speed_pair(args.images, "stylize_default")
    if pair is None:
        return
    content, style = pair

    rows = []
    for backbone in args.backbones.split(","):
        for precision in args.precisions.split(","):
            before = yardstick.measure(repeats=3)["yardstick_s"]
            step = own_step_seconds(backbone, precision, content, style, args.size)
            runs = [
                default_run_seconds(backbone, precision, content, style, args.size)
                for _ in range(args.repeats)
            ]
            after = yardstick.measure(repeats=3)["yardstick_s"]
            stick = (before + after) / 2  # the machine's speed around this case
            row = {
                "backbone": backbone,
                "precision": precision,
                "size": args.size,
                "yardstick_s": [before, after],
                "own_step_s": round(step, 3),
                "own_step_yardsticks": round(step / stick, 2),
                "default_s": [round(seconds, 2) for seconds in runs],
                "default_yardsticks": [round(seconds / stick, 1) for seconds in runs],
                "default_own_steps": [round(seconds / step, 1) for seconds in runs],
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    lines = [
        "| backbone | precision | yardstick s | own step (yardsticks) | default s | "
        "default (yardsticks) | default (own steps) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backbone']} | {row['precision']} | {row['yardstick_s']} "
            f"| {row['own_step_s']} ({row['own_step_yardsticks']}) | {row['default_s']} "
            f"| {row['default_yardsticks']} | {row['default_own_steps']} |"
        )
    write_rows(args.out, "stylize_default", rows, lines)


if __name__ == "__main__":
    main()
