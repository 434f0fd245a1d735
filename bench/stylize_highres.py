"""Print-size stylisation: wall time and peak RSS at 2048 and 3000 px, tiled under a budget.

Runs the real CLI (`nst stylize`) in a subprocess per case, with `--max-memory`, and reads
the child's peak RSS from the kernel (getrusage of children). vgg uses a random-init weights
file when the real one is absent (same cost). Targets (issue 5): peak RSS ≤ budget + 1 GiB;
3000 px with lite in under 15 minutes on a 2-core machine.

    python bench/stylize_highres.py --sizes 2048,3000 --backbones lite,vgg --max-memory 4GiB
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_pair import write_rows

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def vgg_weights(folder: Path) -> Path | None:
    """The real VGG19 file if `nst` finds one, else a random-init file with the same keys."""
    import torch
    from torchvision.models import vgg19

    from nstcli.engine.backbones import get_spec
    from nstcli.engine.errors import WeightsError
    from nstcli.engine.weights import resolve

    try:
        resolve(get_spec("vgg").weights, offline=True)
        return None
    except WeightsError:
        torch.manual_seed(0)
        path = folder / "random-vgg19.pth"
        torch.save(vgg19(weights=None).state_dict(), path)
        return path


def run_case(backbone: str, size: int, budget: str, steps: int, weights: Path | None,
             content: Path, style: Path, out: Path) -> dict:  # fmt: skip
    output = out / f"highres_{backbone}_{size}.jpg"
    command = [sys.executable, "-m", "nstcli", "stylize", str(content), str(style),
               "--backbone", backbone, "--size", str(size), "--max-memory", budget,
               "--steps", str(steps), "-o", str(output), "--json"]  # fmt: skip
    if weights is not None:
        command += ["--weights", str(weights)]
    # A fresh wrapper per case: RUSAGE_CHILDREN is then this one case's peak RSS.
    wrapper = [sys.executable, __file__, "--measure", "--", *command]
    started = time.perf_counter()
    completed = subprocess.run(wrapper, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kib, _, stdout = completed.stdout.partition("\n")
    completed.stdout = stdout
    row = {
        "backbone": backbone,
        "size": size,
        "max_memory": budget,
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(int(peak_kib or 0) / 1024),
        "exit": completed.returncode,
    }
    if completed.returncode == 0:
        summary = json.loads(completed.stdout)
        row.update(tiles=summary["tiles"], scales=summary["scales"], steps=summary["steps"],
                   image=f"{summary['width']}x{summary['height']}")  # fmt: skip
    else:
        row["error"] = completed.stderr.strip().splitlines()[-1:]
    return row


def measure(command: list[str]) -> None:
    """Run `command`; print its peak RSS (KiB) on the first line, then its stdout."""
    completed = subprocess.run(command, capture_output=True, text=True)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(completed.stdout, end="")
    sys.stderr.write(completed.stderr)
    raise SystemExit(completed.returncode)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="lite,vgg")
    parser.add_argument("--sizes", default="2048,3000")
    parser.add_argument("--max-memory", default="4GiB")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--content", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED / "style" / "starry_night.jpg")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if not args.content.exists():
        raise SystemExit(f"skipped: {args.content} not found (needs ../shared/images)")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        weights = vgg_weights(Path(scratch)) if "vgg" in args.backbones else None
        for backbone in args.backbones.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                row = run_case(backbone, size, args.max_memory, args.steps,
                               weights if backbone == "vgg" else None, args.content, args.style,
                               args.out)  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    lines = ["| backbone | size | image | tiles | wall s | peak RSS MiB | budget |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['backbone']} | {r['size']} | {r.get('image', '-')} | {r.get('tiles', '-')} "
            f"| {r['wall_s']} | {r['peak_rss_mib']} | {r['max_memory']} |"
        )
    write_rows(args.out, "stylize_highres", rows, lines)


if __name__ == "__main__":
    main()
