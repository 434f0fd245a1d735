"""Stylize speed: seconds per step, peak RSS, achieved GFLOP/s, bf16 gain, thread scaling.

Measures, in one run on one machine:

1. seconds per optimisation step (forward + input-gradient backward) for every backbone at
   every size, in float32 and bfloat16, each case in a fresh subprocess so its peak RSS is its
   own (vgg/resnet random-init: same architecture and cost as the real weights);
2. the FLOPs of one step (torch's FlopCounterMode) divided by its time, against the GFLOP/s a
   large matrix multiply reaches in the same run (float32 and bfloat16);
3. thread scaling: the vgg 512 px step with 1 thread against all cores.

Writes `stylize_speed.json` and `stylize_speed.md` into --out.

    python bench/stylize_speed.py --sizes 256,512,1024 --out bench/results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    a = torch.rand(n, n).to(dtype)
    a @ a
    started = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


def step_flops(backbone: str, size: int) -> float:
    """FLOPs of one forward + input-gradient backward at `size` (counted, not estimated)."""
    from torch.utils.flop_counter import FlopCounterMode

    from nstcli import samples
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.images import image_to_tensor, resize_longer_side
    from nstcli.engine.job import load_backbone_for

    config = StylizeConfig(backbone=backbone, size=size, pretrained=False).resolved()
    extractor = load_backbone_for(config).extractor
    content = samples.content_scene(size, round(size * 0.75))
    image = image_to_tensor(resize_longer_side(content, size)).requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        features = extractor(image)
        sum(value.pow(2).mean() for value in features.values()).backward()
    return float(counter.get_total_flops())


def measure_case(backbone: str, size: int, steps: int, precision: str, threads: int | None) -> dict:
    """Run in a child: time `steps` single-scale Adam steps after one warm-up step."""
    from nstcli import samples
    from nstcli.engine.config import StylizeConfig
    from nstcli.engine.job import load_backbone_for
    from nstcli.engine.stylize import stylize

    config = StylizeConfig(
        backbone=backbone, size=size, steps=steps + 1, optimizer="adam", multiscale=False,
        pretrained=(backbone == "lite"), threads=threads, precision=precision,
    )  # fmt: skip
    content = samples.content_scene(size, round(size * 0.75))
    style = samples.style_picture(size, size)
    result = stylize(content, style, config, backbone=load_backbone_for(config))
    times = [record.elapsed for record in result.history]
    per_step = (times[-1] - times[0]) / (len(times) - 1)  # drop the warm-up step
    return {
        "backbone": backbone,
        "size": size,
        "image": f"{result.image.width}x{result.image.height}",
        "precision": result.precision,
        "threads": torch.get_num_threads(),
        "seconds_per_step": round(per_step, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "final_loss": result.history[-1].total,
    }


def run_child(args: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr else "?"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="vgg,resnet,lite")
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        backbone, size, steps, precision, threads = args.child
        threads_value = int(threads) if threads != "all" else None
        print(json.dumps(measure_case(backbone, int(size), int(steps), precision, threads_value)))
        return

    rows = []
    for backbone in args.backbones.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            for precision in args.precisions.split(","):
                row = run_child([backbone, str(size), str(args.steps), precision, "all"])
                row.setdefault("backbone", backbone)
                row.setdefault("size", size)
                row.setdefault("precision", precision)
                rows.append(row)
                print(json.dumps(row), flush=True)

    def step_time(backbone: str, size: int, precision: str) -> float | None:
        for row in rows:
            if (row["backbone"], row["size"], row["precision"]) == (backbone, size, precision):
                return row.get("seconds_per_step")
        return None

    fp32_gflops = matmul_gflops(torch.float32)
    bf16_gflops = matmul_gflops(torch.bfloat16)
    vgg_flops = step_flops("vgg", 512)
    vgg_fp32, vgg_bf16 = step_time("vgg", 512, "fp32"), step_time("vgg", 512, "bf16")
    throughput = {
        "matmul_2048_fp32_gflops": round(fp32_gflops, 1),
        "matmul_2048_bf16_gflops": round(bf16_gflops, 1),
        "vgg_512_step_gflop": round(vgg_flops / 1e9, 1),
    }
    if vgg_fp32:
        achieved = vgg_flops / vgg_fp32 / 1e9
        throughput["vgg_512_fp32_gflops"] = round(achieved, 1)
        throughput["vgg_512_fp32_fraction_of_matmul"] = round(achieved / fp32_gflops, 3)
    if vgg_bf16:
        achieved = vgg_flops / vgg_bf16 / 1e9
        throughput["vgg_512_bf16_gflops"] = round(achieved, 1)
        throughput["vgg_512_bf16_fraction_of_bf16_matmul"] = round(achieved / bf16_gflops, 3)
    if vgg_fp32 and vgg_bf16:
        throughput["vgg_512_bf16_speedup"] = round(vgg_fp32 / vgg_bf16, 2)

    best = "bf16" if "bf16" in args.precisions else args.precisions.split(",")[0]
    one_thread = run_child(["vgg", "512", str(args.steps), best, "1"])
    all_threads = step_time("vgg", 512, best)
    scaling = {
        "precision": best,
        "cores": os.cpu_count(),
        "one_thread_s": one_thread.get("seconds_per_step"),
        "all_threads_s": all_threads,
    }
    if one_thread.get("seconds_per_step") and all_threads:
        scaling["speedup"] = round(one_thread["seconds_per_step"] / all_threads, 2)

    ratios = {}
    for precision in args.precisions.split(","):
        vgg, resnet, lite = (step_time(b, 512, precision) for b in ("vgg", "resnet", "lite"))
        if vgg and resnet and lite:
            ratios[precision] = {
                "vgg_over_lite": round(vgg / lite, 1),
                "vgg_over_resnet": round(vgg / resnet, 2),
            }

    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
        },
        "stylize_step": rows,
        "throughput": throughput,
        "thread_scaling": scaling,
        "speed_ratios_512": ratios,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stylize_speed.json").write_text(json.dumps(report, indent=2))
    lines = [
        "| backbone | size | image | precision | s/step | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backbone']} | {row['size']} | {row.get('image', '-')} | {row['precision']} "
            f"| {row.get('seconds_per_step', row.get('error'))} | {row.get('peak_rss_mib', '-')} |"
        )
    lines += ["", "```json", json.dumps({k: report[k] for k in list(report)[2:]}, indent=2), "```"]
    (args.out / "stylize_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
