"""Where the seconds of a default run go: wall clock per phase and per scale, and torch.profiler.

For each backbone (vgg, lite), at 512 px on golden_gate x starry night:

1. start-up: seconds to import the engine and to load the backbone (weights);
2. the default run's wall clock per scale (set-up before the first step of a scale, its steps,
   seconds per step), from the run's own step records;
3. torch.profiler over a few full-size single-scale steps: the operators ranked by self CPU
   time, and the share the backbone's convolutions take against everything around them.

Writes profile_<backbone>.txt and profile.json into --out.

    nice -n 10 python bench/profile_stylize.py --out bench/results/profile
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_pair import SHARED_IMAGES, load_speed_pair


def per_scale(history, wall_time: float) -> list[dict]:
    """Seconds per stage from the step records: the first step of a stage includes its set-up."""
    stages: list[dict] = []
    previous = 0.0
    for record in history:
        if not stages or stages[-1]["stage"] != record.stage:
            stages.append({"stage": record.stage, "steps": 0, "first_step_s": 0.0, "total_s": 0.0})
        stage = stages[-1]
        took = record.elapsed - previous
        previous = record.elapsed
        if stage["steps"] == 0:
            stage["first_step_s"] = round(took, 3)
        stage["steps"] += 1
        stage["total_s"] = round(stage["total_s"] + took, 3)
    for stage in stages:
        later = stage["steps"] - 1
        stage["later_step_s"] = (
            round((stage["total_s"] - stage["first_step_s"]) / later, 3) if later else None
        )
    stages.append({"stage": "after the last step", "total_s": round(wall_time - previous, 3)})
    return stages


def profile_case(backbone: str, content, style, size: int, steps: int, out: Path) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    started = time.perf_counter()
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.job import load_backbone_for
    from nstcli.engine.stylize import stylize

    imported = time.perf_counter()
    config = StylizeConfig(backbone=backbone, size=size).resolved()
    loaded_backbone = load_backbone_for(config)
    loaded = time.perf_counter()

    result = stylize(
        content, style, StylizeConfig(backbone=backbone, size=size), backbone=loaded_backbone
    )
    scales = per_scale(result.history, result.wall_time)

    single = StylizeConfig(backbone=backbone, size=size, steps=steps, multiscale=False)
    stylize(content, style, replace(single, steps=1), backbone=loaded_backbone)  # warm
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        profiled = stylize(content, style, single, backbone=loaded_backbone)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30)
    events = prof.key_averages()
    total_us = sum(event.self_cpu_time_total for event in events)
    conv_us = sum(
        event.self_cpu_time_total
        for event in events
        if "conv" in event.key or "mkldnn" in event.key
    )
    (out / f"profile_{backbone}.txt").write_text(table)
    return {
        "backbone": backbone,
        "size": size,
        "threads": torch.get_num_threads(),
        "engine_import_s": round(imported - started, 2),
        "backbone_load_s": round(loaded - imported, 2),
        "default_run_s": round(result.wall_time, 2),
        "default_steps": len(result.history),
        "per_scale": scales,
        "profiled_steps": steps,
        "profiled_wall_s": round(profiled.wall_time, 2),
        "conv_share_of_self_cpu": round(conv_us / total_us, 3) if total_us else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="vgg,lite")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3, help="profiled full-size steps")
    parser.add_argument("--images", type=Path, default=SHARED_IMAGES)
    parser.add_argument("--out", type=Path, default=Path("bench/results/profile"))
    args = parser.parse_args()
    pair = load_speed_pair(args.images, "profile_stylize")
    if pair is None:
        return
    content, style = pair
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for backbone in args.backbones.split(","):
        row = profile_case(backbone, content, style, args.size, args.steps, args.out)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (args.out / "profile.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
