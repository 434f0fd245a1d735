"""What both trainers (`upscaler`, `srgan`) and `export` share: the fields and flags every
run has, the checkpoint folder and clock, checkpoint writing, RNG state, validation, the JSON
log line, the stop flag and how a run's loss is described.

Kept apart so that no module in `nstcli.training` imports another in a circle.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch

from nstcli.engine.atomic import atomic_write
from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.images import image_to_tensor, tensor_to_image
from nstcli.engine.upscale.evaluate import score
from nstcli.engine.upscale.model import SRResNet
from nstcli.engine.upscale.pairs import load_pairs
from nstcli.training.data import PatchSampler, list_images

#: The SRResNet stage's loss, as its checkpoints and the manifest name it.
PIXEL_LOSS = "L1"


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """The fields every training run has; each trainer's config extends it (and gives
    `steps` and `lr` their defaults). Saved flat, as `asdict` gives, in each checkpoint."""

    data: str
    val: str | None
    checkpoint_dir: str
    steps: int
    batch: int = 16
    patch: int = 96
    lr: float
    seed: int = 0
    threads: int = 2
    log_every: int = 20
    val_every: int = 500
    checkpoint_minutes: float = 5.0


#: The `RunConfig` fields that `RunParser` gives flags of their own (paths, not values).
PATH_FIELDS = ("data", "val", "checkpoint_dir")


ConfigT = TypeVar("ConfigT", bound=RunConfig)


class RunParser(argparse.ArgumentParser, Generic[ConfigT]):
    """The flags both trainers have (data, validation, export target, checkpoint folder,
    resume, export), then a `--flag` for each field of `defaults` outside `PATH_FIELDS` and
    `own` (those the trainer adds itself), typed by its default: a `None` default takes a
    string; a boolean is a switch."""

    def __init__(
        self, module: str, doc: str, defaults: ConfigT, out: str, own: tuple[str, ...]
    ) -> None:
        super().__init__(prog=f"python -m {module}", description=doc.split("\n\n")[0])
        self.add_argument("--data", help="folder of high-resolution training images")
        self.add_argument("--val", help="folder holding Set5/ and Set14/ (*_HR, *_LR pairs)")
        self.add_argument("--out", default=out, help="exported generator")
        self.add_argument("--checkpoint-dir", default=defaults.checkpoint_dir)
        self.add_argument("--resume", action="store_true", help="continue from the checkpoint")
        self.add_argument(
            "--export", action="store_true", help="export a checkpoint to --out (float16) and exit"
        )
        self.config_class: type[ConfigT] = type(defaults)
        self.names = [f.name for f in fields(defaults) if f.name not in PATH_FIELDS + own]
        for name in self.names:
            default = getattr(defaults, name)
            flag = f"--{name.replace('_', '-')}"
            if isinstance(default, bool):
                self.add_argument(flag, action="store_true")
            else:
                kind = type(default) if default is not None else str
                self.add_argument(flag, type=kind, default=default)

    def config(self, args: argparse.Namespace, **own: object) -> ConfigT:
        """The run's config from parsed `args` (data and val made absolute, the checkpoint
        folder expanded) and the values of the trainer's `own` fields."""
        return self.config_class(
            data=str(Path(args.data).resolve()) if args.data else "",
            val=str(Path(args.val).resolve()) if args.val else None,
            checkpoint_dir=str(Path(args.checkpoint_dir).expanduser()),
            **{name: getattr(args, name) for name in self.names},
            **own,
        )


@dataclass(frozen=True)
class RunFolder:
    """A run's checkpoint folder (created, and the thread count set, by `open`)."""

    path: Path

    @classmethod
    def open(cls, config: RunConfig) -> RunFolder:
        torch.set_num_threads(config.threads)
        path = Path(config.checkpoint_dir)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def latest(self) -> Path:
        return self.path / "latest.pt"

    @property
    def log(self) -> Path:
        return self.path / "log.jsonl"


def training_patches(config: RunConfig) -> PatchSampler:
    """Every usable image of `config.data`, held for random `config.patch`-px crops."""
    return PatchSampler(list_images(Path(config.data)), min_size=config.patch)


class CheckpointClock:
    """Says when `minutes` have passed since it started or was last restarted."""

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.restart()

    def restart(self) -> None:
        self.started = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.started > self.seconds


def perceptual_layers(backbone: str, layers: str) -> tuple[str, ...]:
    """`--layers` (comma-separated) as names, else the backbone's default perceptual layers
    (none for a backbone without defaults)."""
    chosen = tuple(name.strip() for name in layers.split(",") if name.strip())
    facts = BACKBONE_FACTS.get(backbone)
    return chosen or (facts.perceptual_layers if facts else ())


def gan_loss_description(config: Mapping[str, object]) -> str:
    """The SRGAN stage's loss in words, from its config (as `asdict` gives)."""
    default = ",".join(perceptual_layers(str(config["backbone"]), ""))
    layers = config.get("layers") or default or "?"
    return (
        f"{config['pixel_weight']} * L1 + {config['perceptual_weight']} * perceptual "
        f"({config['backbone']} features {layers}, shift "
        f"jitter {config.get('shift_jitter', 0)}) + {config['adversarial_weight']} * adversarial"
        f" + {config.get('phase_weight', 0)} * sub-pixel phase"
    )


def checkpoint_loss(checkpoint: Mapping[str, object], model_name: str) -> str:
    """The loss description a checkpoint carries. Checkpoints written before they carried one
    (those of the shipped weights) get it rebuilt from their config, in the same words."""
    if "loss" in checkpoint:
        return str(checkpoint["loss"])
    if model_name == "srresnet":
        return PIXEL_LOSS
    return gan_loss_description(checkpoint["config"])  # type: ignore[arg-type]


def atomic_save(obj: object, path: Path) -> None:
    """torch.save to a temp file beside `path`, fsync, then rename over it (`atomic_write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as stream:
        torch.save(obj, stream)


def rng_state(generator: torch.Generator) -> dict[str, object]:
    return {
        "torch": torch.get_rng_state(),
        "sampler": generator.get_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, object], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])  # type: ignore[arg-type]
    generator.set_state(state["sampler"])  # type: ignore[arg-type]
    np.random.set_state(state["numpy"])  # type: ignore[arg-type]
    random.setstate(state["python"])  # type: ignore[arg-type]


def model_upscaler(model: SRResNet):
    """A PIL → PIL x4 function running `model` on the whole image (validation sizes are small)."""

    def upscale(image):
        with torch.inference_mode():
            return tensor_to_image(model(image_to_tensor(image)))

    return upscale


def validate(model: SRResNet, val_root: Path, sets: tuple[str, ...]) -> dict[str, float]:
    """Mean Y-PSNR (dB) on each benchmark set under `val_root` that exists."""
    was_training = model.training
    model.eval()
    results = {}
    for name in sets:
        folder = val_root / name
        if folder.is_dir():
            pairs = load_pairs(folder)
            scores = score("srresnet", name, pairs, model_upscaler(model), psnr_only=True)
            results[name] = round(scores.mean_psnr, 3)
    model.train(was_training)
    return results


def log_line(path: Path, record: dict[str, object]) -> None:
    with path.open("a") as stream:
        stream.write(json.dumps(record) + "\n")


class StopFlag:
    """Set by SIGTERM/SIGINT so the loop can checkpoint before exiting; restores the
    previous handlers on `close()`."""

    def __init__(self) -> None:
        self.stop = False
        self._previous = {
            sig: signal.signal(sig, self._set) for sig in (signal.SIGTERM, signal.SIGINT)
        }

    def _set(self, signum, frame) -> None:
        self.stop = True

    def close(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
