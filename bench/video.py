"""Clips: flicker, style and cost of temporal consistency against frame by frame.

Clips are filmed from a ../shared photo with known motion (`samples.camera_move`: a pan of
2 px a frame, a zoom, a disc crossing the view, and a two-depth parallax: the photo panning
behind near posts that pass 4× as fast) and written as H.264 MP4. Each is stylised
twice with the same settings: temporal (the default) and `--no-temporal` (every frame on
its own, the full still schedule). Reported per clip and backbone:

- flicker: the temporal warping error, mean |O_t − warp(O_{t−1})| in grey levels over the
  pixels where the flow (DIS, measured on the *input* frames) is reliable, averaged over
  frames (Ruder et al. 2016's measure);
- style: the mean change from the input frames, |O_t − I_t| (temporal should be within
  20% of frame by frame's: as much style, not a washed-out copy);
- cost: seconds for frame 1 and per later frame, and the whole clip.

`--cost-seconds 5` also times a 5-second clip (the issue's target: 60 frames at 12 fps,
360 px, lite, in at most 3 minutes). Writes JSON + Markdown, the frames, and a
side-by-side picture per clip (input / frame by frame / temporal, and each result's warping
error magnified) to --out. Skips without ../shared (use --content to point elsewhere).

`--shipped` films the project's own sample photo (`samples.content_scene`) in the gallery's
Starry Night instead, both of which ship, and `--sheet` then writes one picture of every
motion's last frame that can be committed (`make clip-picture`: docs/images/clip_side_by_side.jpg).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from nstcli import gallery, samples
from nstcli.engine.clip import flow, source
from nstcli.engine.clip.pipeline import ClipSettings, prepare_clip, run_clip
from nstcli.engine.clip.store import FrameStore
from nstcli.engine.clip.writer import write_clip
from nstcli.engine.config import StylizeConfig
from nstcli.engine.images import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def film(photo: Image.Image, motion: str, frames: int, size: int, folder: Path) -> Path:
    width, height = size, round(size * 9 / 16) // 2 * 2
    path = folder / f"{motion}_{frames}f_{size}px.mp4"
    if not path.exists():
        write_clip(list(samples.camera_move(photo, motion, frames, width, height, 2.0)), path, 12)
    return path


def measure(
    clip: Path, style: Image.Image, config: StylizeConfig, temporal: bool, folder: Path
) -> tuple[dict[str, object], list[np.ndarray], list[np.ndarray], list[flow.Motion]]:
    settings = ClipSettings(temporal=temporal)
    job = prepare_clip(clip, [style], config, settings)
    store = FrameStore(folder, job.fingerprint)
    cpu = time.process_time()
    result = run_clip(job, store)
    cpu = time.process_time() - cpu
    inputs = [np.asarray(f) for f in source.read_frames(job.info, job.frames, config.size)]
    outputs = [np.asarray(store[i].convert("RGB")) for i in range(len(store))]
    estimator = flow.DisFlow()
    motions = [
        flow.motion_between(inputs[i - 1], inputs[i], estimator) for i in range(1, len(inputs))
    ]
    errors = [
        flow.warping_error(outputs[i - 1], outputs[i], motions[i - 1])
        for i in range(1, len(outputs))
    ]
    change = [np.abs(o.astype(np.float32) - i).mean() for o, i in zip(outputs, inputs, strict=True)]
    summary = result.summary()
    row = {
        "frames": result.frames,
        "flicker": float(np.mean(errors)),
        "style_change": float(np.mean(change)),
        "reliable": float(np.mean([m.reliable_share for m in motions])),
        "first_frame_s": summary["first_frame_s"],
        "later_frame_s": summary["later_frame_s"],
        "wall_s": round(result.wall_time, 1),
        "cpu_s": round(cpu, 1),
        "plan": job.describe(),
    }
    return row, inputs, outputs, motions


def side_by_side(
    inputs: list[np.ndarray],
    runs: dict[str, list[np.ndarray]],
    motions: list[flow.Motion],
    picks: list[int],
) -> Image.Image:
    """Rows: input, then each run; columns: frames `picks`, then that run's warping error
    between the last two picks' neighbours, ×8 (black = consistent)."""
    height, width = inputs[0].shape[:2]
    rows = [("input", inputs), *runs.items()]
    label = 18
    sheet = Image.new("RGB", ((len(picks) + 1) * width, len(rows) * (height + label)), "white")
    draw = ImageDraw.Draw(sheet)
    last = picks[-1]
    for row, (name, frames) in enumerate(rows):
        top = row * (height + label)
        for column, index in enumerate(picks):
            sheet.paste(Image.fromarray(frames[index]), (column * width, top + label))
            draw.text((column * width + 4, top + 3), f"{name}: frame {index + 1}", fill="black")
        if name != "input":
            picture = Image.fromarray(error_map(frames, motions[last - 1], last)).convert("RGB")
            sheet.paste(picture, (len(picks) * width, top + label))
            draw.text(
                (len(picks) * width + 4, top + 3), f"|O{last + 1} - warp(O{last})| x8", fill="black"
            )
    return sheet


def error_map(frames: list[np.ndarray], motion: flow.Motion, index: int) -> np.ndarray:
    """|O_index − warp(O_index−1)| ×8 over the reliable pixels, grey (black = consistent)."""
    warped = flow.warp(frames[index - 1].astype(np.float32), motion.backward)
    error = np.abs(frames[index].astype(np.float32) - warped).mean(-1) * motion.reliable
    return np.clip(error * 8, 0, 255).astype(np.uint8)


def motions_sheet(
    clips: list[tuple[str, list[np.ndarray], dict, list[flow.Motion]]],
) -> Image.Image:
    """One row per motion at its last frame: input, frame by frame, temporal, then each
    one's warping error ×8 (the README's picture)."""
    height, width = clips[0][1][0].shape[:2]
    titles = [
        "input",
        "frame by frame",
        "temporal",
        "frame by frame: error x8",
        "temporal: error x8",
    ]
    label = 18
    sheet = Image.new("RGB", (len(titles) * width, len(clips) * (height + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (motion, inputs, runs, motions) in enumerate(clips):
        last = len(inputs) - 1
        cells = [inputs[last], runs["frame by frame"][last], runs["temporal"][last]]
        cells += [
            error_map(runs[name], motions[last - 1], last)
            for name in ("frame by frame", "temporal")
        ]
        top = row * (height + label)
        for column, (title, cell) in enumerate(zip(titles, cells, strict=True)):
            sheet.paste(Image.fromarray(cell).convert("RGB"), (column * width, top + label))
            text = f"{motion}, frame {last + 1}" if column == 0 else title
            draw.text((column * width + 4, top + 3), text, fill="black")
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=SHARED / "content" / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=SHARED / "style" / "starry_night.jpg")
    parser.add_argument("--backbones", default="lite")
    parser.add_argument("--motions", default="pan,zoom,object,parallax")
    parser.add_argument("--frames", type=int, default=12, help="frames of each flicker clip")
    parser.add_argument("--size", type=int, default=360)
    parser.add_argument("--cost-seconds", type=float, default=0, help="also time a clip this long")
    parser.add_argument("--cost-backbones", default="lite")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/video"))
    parser.add_argument("--sheet", type=Path, default=None, help="every motion's picture here")
    parser.add_argument(
        "--shipped", action="store_true", help="the sample photo in the gallery's Starry Night"
    )
    args = parser.parse_args()
    if args.shipped:
        photo, style = samples.content_scene(), gallery.find("starry-night").open()
        args.content, args.style = Path("samples.content_scene"), Path("gallery/starry-night")
    elif not args.content.exists() or not args.style.exists():
        print(f"video bench: {args.content} or {args.style} not found, skipped")
        return
    else:
        photo, style = load_image(args.content), load_image(args.style)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads",
        "content": str(args.content.name),
        "style": str(args.style.name),
        "size": args.size,
        "clips": [],
        "cost": [],
    }
    lines = [
        "| backbone | clip | frames | flicker temporal | flicker frame-by-frame | ratio "
        "| style temporal | style frame-by-frame | reliable px | s/frame temporal (first) "
        "| s/frame frame-by-frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    filmed: list[tuple[str, list[np.ndarray], dict, list[flow.Motion]]] = []
    for backbone in args.backbones.split(","):
        config = StylizeConfig(backbone=backbone, size=args.size, threads=args.threads)
        for motion in args.motions.split(","):
            clip = film(photo, motion, args.frames, args.size, args.out)
            runs: dict[str, list[np.ndarray]] = {}
            rows = {}
            for name, temporal in (("frame by frame", False), ("temporal", True)):
                folder = args.out / f"{backbone}_{motion}_{'temporal' if temporal else 'frames'}"
                row, inputs, outputs, motions = measure(clip, style, config, temporal, folder)
                rows[name], runs[name] = row, outputs
                print(backbone, motion, name, json.dumps(row), flush=True)
            t, f = rows["temporal"], rows["frame by frame"]
            ratio = t["flicker"] / f["flicker"]
            report["clips"].append(
                {"backbone": backbone, "motion": motion, "temporal": t, "frame_by_frame": f,
                 "flicker_ratio": ratio, "style_ratio": t["style_change"] / f["style_change"]}
            )  # fmt: skip
            lines.append(
                f"| {backbone} | {motion} | {t['frames']} | {t['flicker']:.2f} | "
                f"{f['flicker']:.2f} | {ratio:.2f} | {t['style_change']:.1f} | "
                f"{f['style_change']:.1f} | {t['reliable']:.0%} | {t['later_frame_s']:.1f} "
                f"({t['first_frame_s']:.1f}) | {f['later_frame_s']:.1f} |"
            )
            picks = [0, len(inputs) // 2, len(inputs) - 1]
            sheet = side_by_side(inputs, runs, motions, picks)
            sheet.save(args.out / f"{backbone}_{motion}_side_by_side.jpg", quality=88)
            if backbone == args.backbones.split(",")[0]:
                filmed.append((motion, inputs, runs, motions))
    if args.sheet is not None and filmed:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        motions_sheet(filmed).save(args.sheet, quality=85)
    if args.cost_seconds:
        frames = round(args.cost_seconds * 12)
        clip = film(photo, "pan", frames, args.size, args.out)
        lines += ["", "| backbone | clip | frames | whole clip s | frame 1 s | later s/frame | "
                  "cpu s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for backbone in args.cost_backbones.split(","):
            config = StylizeConfig(backbone=backbone, size=args.size, threads=args.threads)
            folder = args.out / f"{backbone}_cost"
            row, *_ = measure(clip, style, config, True, folder)
            print(backbone, "cost", json.dumps(row), flush=True)
            report["cost"].append({"backbone": backbone, **row})
            lines.append(
                f"| {backbone} | pan {args.cost_seconds:g} s | {row['frames']} | {row['wall_s']} "
                f"| {row['first_frame_s']} | {row['later_frame_s']} | {row['cpu_s']} |"
            )
    (args.out / "video.json").write_text(json.dumps(report, indent=2))
    (args.out / "video.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
