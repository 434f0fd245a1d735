"""Export a training checkpoint as a shipped float16 generator and record it in the manifest.

    python -m nstcli.training.upscaler --export --out nstcli/engine/upscale/data/srresnet-x4.pth \
        --val ../shared/data/sr/val

Takes `best.pt` (best Set5 PSNR so far; `latest.pt` if there is none), folds the residual
scaling into the weights, stores float16 tensors atomically, re-loads the written file the way
`nst upscale` does, scores it on Set5/Set14 with a bicubic baseline, and writes sha256,
architecture, training command, steps, data and those figures to `manifest.json` beside it
(for the shipped files: `nstcli/engine/upscale/data/`, package data).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from nstcli.engine.atomic import atomic_write
from nstcli.engine.errors import InputError
from nstcli.engine.upscale.evaluate import PROTOCOL, evaluate
from nstcli.engine.upscale.model import fold_res_scale
from nstcli.engine.upscale.pipeline import UpscaleConfig, upscale_image
from nstcli.engine.upscale.weights import MANIFEST_NAME, load_upscaler
from nstcli.engine.weights import sha256_of
from nstcli.training.common import atomic_save, checkpoint_loss

DATA_DESCRIPTION = (
    "BSD100 high-resolution images (100 PNGs, ../shared/data/sr/train); LR made on the fly by "
    "antialiased bicubic x1/4 (torch), the closest match we measured to the MATLAB-made "
    "Set5/Set14 *_LR.png"
)


def training_command(config: dict[str, object], model_name: str) -> str:
    """The command line that (re)produces a run with `config`, with portable data paths."""
    if model_name == "srgan":
        parts = [f"python -m nstcli.training.srgan --init {config.get('init', '?')}"]
        names = (
            "steps", "batch", "patch", "lr", "pixel_weight", "perceptual_weight",
            "adversarial_weight", "phase_weight", "backbone", "layers", "shift_jitter", "seed",
        )  # fmt: skip
    else:
        parts = ["python -m nstcli.training.upscaler"]
        names = ("steps", "batch", "patch", "lr", "blocks", "channels", "res_scale", "seed")
    parts.append("--data ../shared/data/sr/train --val ../shared/data/sr/val")
    parts += [
        f"--{name.replace('_', '-')} {config[name]}"
        for name in names
        if name in config and config[name] != ""
    ]
    if config.get("batch_norm"):
        parts.append("--batch-norm")
    parts.append("--resume")
    return " ".join(parts)


def export_best(
    ckpt_dir: Path, out: Path, val: str | None, model_name: str = "srresnet", prefer: str = "best"
) -> dict:
    """Export `<prefer>.pt` (falling back to the other checkpoint) and update the manifest."""
    candidates = [ckpt_dir / f"{prefer}.pt", ckpt_dir / "latest.pt", ckpt_dir / "best.pt"]
    source = next((path for path in candidates if path.is_file()), None)
    if source is None:
        raise InputError(f"{ckpt_dir}: no best.pt or latest.pt to export")
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    config = checkpoint["config"]
    manifest_file = out.parent / MANIFEST_NAME
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    shipped = manifest.get("srresnet-x4.pth", {})
    if checkpoint.get("init_sha256") and checkpoint["init_sha256"] == shipped.get("sha256"):
        # Started from the very SRResNet shipped beside it: name it portably.
        config = {**config, "init": "nstcli/engine/upscale/data/srresnet-x4.pth"}
    state = fold_res_scale(checkpoint["model"], float(config["res_scale"]))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    atomic_save(half, out)

    entry: dict[str, object] = {
        "model": model_name,
        "sha256": sha256_of(out),
        "bytes": out.stat().st_size,
        "dtype": "float16",
        "architecture": {
            "name": "SRResNet x4 (no BN, bicubic image skip)"
            + (" fine-tuned as SRGAN" if model_name == "srgan" else ""),
            "blocks": config["blocks"],
            "channels": config["channels"],
            "batch_norm": config["batch_norm"],
            "scale": 4,
        },
        "training": {
            "command": training_command(config, model_name),
            "steps": int(checkpoint["step"]),
            "schedule_total_steps": config["steps"],
            "schedule": checkpoint.get("schedule")
            or [{"from_step": 0, "total_steps": config["steps"], "lr": config["lr"]}],
            "batch": config["batch"],
            "hr_patch": config["patch"],
            "loss": checkpoint_loss(checkpoint, model_name),
            "optimizer": f"Adam lr {config['lr']}"
            + (f" cosine to {config['lr_min']}" if "lr_min" in config else " constant"),
            "data": DATA_DESCRIPTION,
            "checkpoint": source.name,
        },
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if val:
        loaded = load_upscaler(out, "export")
        upscale_config = UpscaleConfig(weights=str(out))

        def run(image):
            return upscale_image(image, upscale_config, upscaler=loaded).image

        results = evaluate(run, model_name, Path(val))
        entry["validation"] = {
            "protocol": PROTOCOL,
            "results": {f"{item.dataset}/{item.method}": item.means() for item in results},
        }
    if checkpoint.get("init_sha256"):
        entry["training"]["init_sha256"] = checkpoint["init_sha256"]  # type: ignore[index]
    manifest[out.name] = entry
    with atomic_write(manifest_file) as stream:
        stream.write((json.dumps(manifest, indent=2) + "\n").encode())
    print(json.dumps(entry, indent=2))
    return entry
