"""The upscaler's weights: specs for the shipped generators and loading any weights file.

Our own generators are plain state dicts (float16) shipped as package data in
`nstcli/engine/upscale/data/`, described in `manifest.json` beside them, and read with
`importlib.resources`, so every kind of install (wheel, `--target`, `--prefix`, editable)
finds them. Any other file given with `--weights` is handed to `spandrel`, which
recognises ESRGAN, Real-ESRGAN, SwinIR, HAT, … from the tensors alone.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nstcli.engine import weights as weights_module
from nstcli.engine.errors import WeightsError
from nstcli.engine.upscale.model import SRResNet, infer_config
from nstcli.engine.weights import WeightSpec, load_state_dict

MANIFEST_NAME = "manifest.json"


def shipped_path(filename: str) -> Path:
    """Where the package carries `filename` (the shipped generators and their manifest)."""
    return Path(str(importlib.resources.files("nstcli.engine.upscale").joinpath("data", filename)))


def _shipped(filename: str) -> Callable[[], Path | None]:
    """A `WeightSpec.packaged` callable for a generator shipped as package data."""

    def locate() -> Path | None:
        path = shipped_path(filename)
        return path if path.is_file() else None

    return locate


#: Shipped generators, by `--model` name.
UPSCALERS: dict[str, WeightSpec] = {
    "srresnet": WeightSpec(
        model="srresnet",
        filename="srresnet-x4.pth",
        packaged=_shipped("srresnet-x4.pth"),
        description="x4 SRResNet (16x64, no BN), L1-trained by this project on BSD100",
    ),
    "srgan": WeightSpec(
        model="srgan",
        filename="srgan-x4.pth",
        packaged=_shipped("srgan-x4.pth"),
        description="x4 SRResNet fine-tuned with perceptual + adversarial loss (SRGAN)",
    ),
}


@dataclass
class LoadedUpscaler:
    """A ready x4 network: `forward(tensor in [0, 1]) -> tensor`, and where it came from."""

    #: An `nn.Module`, or a spandrel descriptor (callable, with `.to(device)`).
    network: Any
    scale: int
    architecture: str
    path: Path
    source: str


def manifest_path() -> Path:
    return shipped_path(MANIFEST_NAME)


def read_manifest(path: Path | None = None) -> dict[str, dict[str, object]]:
    path = path or manifest_path()
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def load_generator(path: Path, state: dict[str, torch.Tensor] | None = None) -> SRResNet:
    """Our SRResNet from a state-dict file (`state`: its content, if read already);
    architecture inferred, loaded strictly."""
    state = load_state_dict(path) if state is None else state
    config = infer_config(state)
    if config is None:
        raise WeightsError(f"{path}: not an SRResNet state dict (no 9x9 RGB head conv)")
    model = SRResNet(config)
    # Strict key/shape check with clear messages; copy_ upcasts the float16 file to float32.
    weights_module.load_into(model, path, "srresnet", state=state)
    return model.eval()


def load_upscaler(path: Path, source: str) -> LoadedUpscaler:
    """Load `path` as our SRResNet if it is one, else through spandrel; clear error otherwise."""
    state = load_state_dict_or_none(path)
    if state is not None and infer_config(state) is not None:
        model = load_generator(path, state)
        architecture = f"srresnet {model.config.blocks}x{model.config.channels}"
        return LoadedUpscaler(model, 4, architecture, path, source)
    return _load_with_spandrel(path, source)


def load_state_dict_or_none(path: Path) -> dict[str, torch.Tensor] | None:
    try:
        return load_state_dict(path)
    except WeightsError:
        if weights_module.unreadable_reason(path):
            raise  # an image or a truncated file: no other loader can read it either
        return None


def _load_with_spandrel(path: Path, source: str) -> LoadedUpscaler:
    import spandrel  # a dependency; imported here because only --weights FILE needs it

    try:
        descriptor = spandrel.ModelLoader().load_from_file(str(path))
    except spandrel.UnsupportedModelError:
        raise WeightsError(
            f"{path}: unknown checkpoint: neither nst's SRResNet nor an architecture spandrel "
            "recognises (ESRGAN, Real-ESRGAN, SwinIR, HAT, …)"
        ) from None
    except Exception as error:  # spandrel/torch raise many types for unreadable files
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise WeightsError(f"{path}: cannot load weights ({first_line})") from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise WeightsError(f"{path}: {descriptor.architecture.name} is not an image upscaler")
    # The descriptor pads inputs to the architecture's size requirements (e.g. SwinIR's window).
    descriptor.eval()
    name = str(getattr(descriptor.architecture, "name", type(descriptor.model).__name__))
    return LoadedUpscaler(descriptor, int(descriptor.scale), name, path, source)


def resolve_upscaler(
    model: str, explicit: str | None, loader: Callable[[Path, str], LoadedUpscaler] = load_upscaler
) -> LoadedUpscaler:
    """`--weights FILE` if given, else the shipped file for `--model`, verified by the manifest."""
    if model not in UPSCALERS:
        raise WeightsError(f"unknown upscaler model {model!r}; choose from {', '.join(UPSCALERS)}")
    spec = UPSCALERS[model]
    resolved = weights_module.resolve(spec, explicit, offline=True)
    if explicit is None:
        verify_against_manifest(resolved.path, spec.filename)
    loaded = loader(resolved.path, resolved.source)
    if explicit is None and model != "srresnet":
        # Same network shape, different training: say which one ran ("srgan (srresnet 16x64)").
        loaded.architecture = f"{model} ({loaded.architecture})"
    return loaded


def verify_against_manifest(path: Path, filename: str) -> None:
    """A shipped file must match the sha256 recorded in the manifest beside it (if recorded)."""
    manifest = read_manifest(path.parent / MANIFEST_NAME)
    entry = manifest.get(filename)
    if not entry or "sha256" not in entry:
        return
    actual, expected = weights_module.sha256_of(path), str(entry["sha256"])
    if actual != expected:
        raise WeightsError(
            f"{path}: sha256 {actual[:12]}… does not match the manifest ({expected[:12]}…); "
            "the file is corrupt or was replaced"
        )
