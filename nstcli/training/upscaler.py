"""Train the x4 SRResNet generator on a folder of high-resolution images (CPU friendly).

    python -m nstcli.training.upscaler --data ../shared/data/sr/train \
        --val ../shared/data/sr/val --out nstcli/engine/upscale/data/srresnet-x4.pth --resume

Random aligned HR/LR crops with flips and 90-degree rotations, LR made by antialiased bicubic
x1/4 (closest to the MATLAB `imresize` used for the benchmark LR images), L1 loss, Adam, cosine
learning-rate schedule over a fixed number of steps. A checkpoint (model, optimizer, step, RNG
state) is written atomically every `--checkpoint-minutes` and on SIGTERM/SIGINT, so the run
survives being stopped; `--resume` continues from it. The best generator by Set5 PSNR is kept
as `best.pt`; `--export` writes it as float16 to `--out` and records it in the manifest.

A JSON line per logged step goes to `<checkpoint-dir>/log.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from nstcli import userdirs
from nstcli.engine.upscale.model import GeneratorConfig, SRResNet
from nstcli.training import common

#: Where checkpoints and the log go unless `--checkpoint-dir` says otherwise.
DEFAULT_CHECKPOINT_DIR = userdirs.cache_dir("sr-train")
#: Where `--export` writes the generator unless `--out` says otherwise (the shipped file).
OUT = "nstcli/engine/upscale/data/srresnet-x4.pth"


@dataclass(frozen=True, kw_only=True)
class TrainConfig(common.RunConfig):
    """Everything that defines a run; saved in each checkpoint."""

    out: str  # where --export writes the float16 generator
    steps: int = 150_000
    lr: float = 2e-4
    lr_min: float = 1e-6  # the cosine's floor, reached at `steps`
    warmup: int = 200  # steps of linear warm-up to `lr`
    blocks: int = 16
    channels: int = 64
    batch_norm: bool = False
    res_scale: float = 1.0  # residual scaling; export folds it into the weights
    init: str | None = None

    @property
    def generator(self) -> GeneratorConfig:
        return GeneratorConfig(self.blocks, self.channels, self.batch_norm, self.res_scale)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine from `lr` to `lr_min` at `steps`."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr_min + 0.5 * (config.lr - config.lr_min) * (1 + math.cos(math.pi * progress))


#: The fields of a run that shape its learning-rate curve.
SCHEDULE_FIELDS = ("lr", "lr_min", "warmup")


def schedule_segment(config: dict[str, object], from_step: int) -> dict[str, object]:
    """The learning-rate schedule in force from `from_step` on (`config` as `asdict` gives)."""
    return {
        "from_step": from_step,
        "total_steps": config["steps"],
        **{name: config[name] for name in SCHEDULE_FIELDS},
    }


def resumed_schedule(
    state: dict[str, object], config: TrainConfig, step: int
) -> list[dict[str, object]]:
    """The checkpoint's schedule history, plus a new segment if this run changes the schedule.

    Resuming with a different `--steps` (or lr) bends the cosine curve mid-run; the exported
    manifest must say so rather than pretend one schedule ran throughout.
    """
    saved = state.get("schedule") or [schedule_segment(state["config"], 0)]  # type: ignore[arg-type]
    history = [dict(segment) for segment in saved]  # type: ignore[union-attr]
    current = schedule_segment(asdict(config), step)
    if {**history[-1], "from_step": step} != current:
        history.append(current)
    return history


def train(config: TrainConfig, resume: bool) -> Path:
    """Run (or continue) training; returns the checkpoint directory."""
    folder = common.RunFolder.open(config)
    ckpt_dir, latest, log_path = folder.path, folder.latest, folder.log
    best_path = ckpt_dir / "best.pt"

    model = SRResNet(config.generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.99))
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    step, best_psnr = 0, -1.0
    schedule = [schedule_segment(asdict(config), 0)]
    if resume and latest.is_file():
        state = torch.load(latest, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        common.restore_rng(state["rng"], generator)
        step, best_psnr = int(state["step"]), float(state.get("best_psnr", -1.0))
        schedule = resumed_schedule(state, config, step)
        print(f"resumed from {latest} at step {step}", flush=True)
    elif resume and config.init and Path(config.init).is_file():
        from nstcli.engine.upscale.weights import load_generator

        model = load_generator(Path(config.init))
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.99))
        print(f"no checkpoint in {ckpt_dir}; initialised from {config.init}", flush=True)

    sampler = common.training_patches(config)
    val_root = Path(config.val) if config.val else None
    print(
        f"{len(sampler)} training images; {sum(p.numel() for p in model.parameters()):,} "
        f"parameters; steps {step}->{config.steps}; checkpoints in {ckpt_dir}",
        flush=True,
    )
    stop = common.StopFlag()
    model.train()
    clock = common.CheckpointClock(config.checkpoint_minutes)
    started = time.time()
    window: list[float] = []

    def checkpoint() -> None:
        common.atomic_save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "rng": common.rng_state(generator),
                "best_psnr": best_psnr,
                "schedule": schedule,
                "config": asdict(config),
                "generator": config.generator.to_dict(),
                "loss": common.PIXEL_LOSS,
            },
            latest,
        )

    while step < config.steps and not stop.stop:
        lr = learning_rate(config, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        lr_batch, hr_batch = sampler.sample(config.batch, config.patch, generator)
        t0 = time.perf_counter()
        loss = (model(lr_batch) - hr_batch).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        window.append(loss.item())
        if step % config.log_every == 0:
            common.log_line(
                log_path,
                {
                    "step": step,
                    "loss": round(sum(window) / len(window), 6),
                    "lr": lr,
                    "step_s": round(time.perf_counter() - t0, 3),
                    "time": round(time.time(), 1),
                },
            )
            window.clear()
        if val_root is not None and (step % config.val_every == 0 or step == config.steps):
            t1 = time.perf_counter()
            psnr = common.validate(model, val_root, ("Set5", "Set14"))
            record = {"step": step, "val_psnr_y": psnr, "val_s": round(time.perf_counter() - t1, 1)}
            record["time"] = round(time.time(), 1)
            common.log_line(log_path, record)
            print(json.dumps(record), flush=True)
            if psnr.get("Set5", -1.0) > best_psnr:
                best_psnr = psnr["Set5"]
                common.atomic_save(
                    {
                        "model": model.state_dict(),
                        "step": step,
                        "val_psnr_y": psnr,
                        "schedule": schedule,
                        "config": asdict(config),
                        "generator": config.generator.to_dict(),
                        "loss": common.PIXEL_LOSS,
                    },
                    best_path,
                )
        if clock.due():
            checkpoint()
            clock.restart()
    checkpoint()
    stop.close()
    elapsed = time.time() - started
    print(f"stopped at step {step} after {elapsed / 60:.1f} min; checkpoint {latest}", flush=True)
    return ckpt_dir


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    defaults = TrainConfig(data="", val=None, out="", checkpoint_dir=str(DEFAULT_CHECKPOINT_DIR))
    parser = common.RunParser("nstcli.training.upscaler", __doc__, defaults, OUT, own=("out",))
    parser.add_argument(
        "--export-from",
        choices=("best", "latest"),
        default="best",
        help="best.pt (best Set5 so far: selected on the benchmark) or latest.pt (end of run)",
    )
    args = parser.parse_args(argv)
    if not args.export and not args.data:
        parser.error("--data is required for training")
    return parser.config(args, out=args.out), args


def main(argv: list[str] | None = None) -> None:
    config, args = parse_args(argv)
    if args.export:
        from nstcli.training.export import export_best

        export_best(
            Path(config.checkpoint_dir), Path(config.out), config.val, prefer=args.export_from
        )
        return
    print(
        "command: "
        + shlex.join([sys.executable, "-m", "nstcli.training.upscaler", *(argv or sys.argv[1:])]),
        flush=True,
    )
    train(config, resume=args.resume)


if __name__ == "__main__":
    main()
