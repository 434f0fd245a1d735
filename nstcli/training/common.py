"""What both trainers (`upscaler`, `srgan`) and `export` share: checkpoint writing, RNG
state, validation, the JSON log line and the stop flag.

Kept apart so that no module in `nstcli.training` imports another in a circle.
"""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import numpy as np
import torch

from nstcli.engine.atomic import atomic_write
from nstcli.engine.images import image_to_tensor, tensor_to_image
from nstcli.engine.upscale.data import load_pairs
from nstcli.engine.upscale.evaluate import score
from nstcli.engine.upscale.model import SRResNet


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
