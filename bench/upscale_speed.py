"""x4 upscaling speed and memory: 256->1024 (time, peak RSS) and 2000->8000 tiled (peak RSS).

Each case runs in a fresh subprocess so peak RSS belongs to that case alone. Uses the shipped
`srresnet-x4.pth` (package data) when present, else a randomly initialised generator of the
same architecture (identical cost). The time is the median of `--repeats` runs after one warm-up,
through `upscale_image` (the same path as `nst upscale`), excluding file I/O.
Targets (issue 6): 256->1024 <= 3 s and <= 2 GiB; 2000->8000 <= 4 GiB.

    python bench/upscale_speed.py --out bench/results [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def measure_case(size: int, repeats: int, threads: int | None, tile: int | None) -> dict:
    """Run in a child process: upscale a synthetic `size` x `size` photo, report time and RSS."""
    from nstcli import samples
    from nstcli.engine.upscale.model import SRResNet
    from nstcli.engine.upscale.pipeline import UpscaleConfig, upscale_image
    from nstcli.engine.upscale.weights import UPSCALERS, LoadedUpscaler, load_upscaler, shipped_path

    shipped = shipped_path(UPSCALERS["srresnet"].filename)
    if shipped.is_file():
        upscaler = load_upscaler(shipped, "installed package")
        weights = str(shipped.relative_to(REPO))
    else:
        network = SRResNet().eval()
        upscaler = LoadedUpscaler(network, 4, "srresnet 16x64 (random init)", Path("-"), "-")
        weights = "random init (no shipped file)"
    config = UpscaleConfig(threads=threads, tile=tile)
    image = samples.content_scene(size, size)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        result = upscale_image(image, config, upscaler=upscaler)
        times.append(time.perf_counter() - started)
    return {
        "input": f"{size}x{size}",
        "output": "x".join(map(str, result.output_size)),
        "tiles": result.plan.count,
        "tile": result.plan.tile,
        "seconds": round(statistics.median(times[1:]) if repeats else times[0], 3),
        "runs": [round(t, 3) for t in times],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": torch.get_num_threads(),
        "weights": weights,
    }


def run_child(size: int, repeats: int, threads: int | None) -> dict:
    command = [sys.executable, __file__, "--case", str(size), "--repeats", str(repeats)]
    if threads:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"case {size} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-large", action="store_true", help="skip 2000->8000")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tile", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure_case(args.case, args.repeats, args.threads, args.tile)))
        return
    results = [run_child(256, args.repeats, args.threads)]
    print(json.dumps(results[-1]), flush=True)
    if not args.skip_large:
        results.append(run_child(2000, 0, args.threads))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": len(__import__("os").sched_getaffinity(0)),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": {"256": "<= 3 s, <= 2048 MiB", "2000": "<= 4096 MiB"},
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "upscale.json"
    with tempfile.NamedTemporaryFile("w", dir=args.out, delete=False, suffix=".part") as stream:
        json.dump(report, stream, indent=2)
    Path(stream.name).replace(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
