"""The one small interface every backbone implements: image in, named feature maps out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nstcli.engine.backbone_facts import BackboneFacts
from nstcli.engine.errors import InputError
from nstcli.engine.strength import StrengthCurve
from nstcli.engine.weights import WeightSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureExtractor(nn.Module):
    """A frozen CNN that maps an RGB image in [0, 1] to a dict of named feature maps.

    Subclasses list every layer they can expose in `available_layers` (forward order) and
    implement `_features`, stopping after the deepest requested layer so no compute is
    spent on layers nobody reads. ImageNet normalisation happens inside, so callers work
    in plain pixel space.
    """

    available_layers: tuple[str, ...] = ()

    def __init__(self, layers: Sequence[str]) -> None:
        super().__init__()
        self.layers = check_layers(type(self).__name__, layers, self.available_layers)
        order = {name: index for index, name in enumerate(self.available_layers)}
        self.deepest = max(order[name] for name in self.layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] → the input convention the weights were trained with (ImageNet
        mean/std here; VGG's original weights override it with Caffe's)."""
        return (image - self.mean) / self.std

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.layers)
        features: dict[str, torch.Tensor] = {}
        for name, output in self._features(self.normalise(image)):
            if name in wanted:
                features[name] = output
                if len(features) == len(wanted):
                    break
        return features

    def _features(self, x: torch.Tensor):  # pragma: no cover - abstract
        """Yield (layer name, activation) pairs in forward order."""
        raise NotImplementedError

    def freeze(self) -> FeatureExtractor:
        """Eval mode (batch-norm statistics fixed) and no parameter gradients."""
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self


def check_layers(model: str, layers: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    if not layers:
        raise InputError(f"{model}: at least one layer is needed")
    unknown = [name for name in layers if name not in available]
    if unknown:
        raise InputError(
            f"unknown layer(s) {', '.join(unknown)} for this backbone; "
            f"choose from {', '.join(available)}"
        )
    return tuple(dict.fromkeys(layers))


@dataclass(frozen=True)
class StyleDefaults:
    """Per-backbone settings chosen by measurement; any of them can be overridden."""

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    style_weight: float
    content_weight: float
    tv_weight: float
    optimizer: str
    lr: float
    steps: int
    #: Total variation of the chroma only (`losses.chroma_total_variation`).
    chroma_tv_weight: float = 0.0
    #: Where the first scale starts: the photo, the photo in the painting's colours, or noise.
    init: str = "content"
    #: Long side of the first scale of a multi-scale run.
    start_size: int = 128
    #: Each finer scale runs this share of the previous scale's steps (see `plan.scale_plan`).
    finer_share: float = 2 / 3
    #: What the optimiser moves: "pixels" or "fourier" (see `engine.parameterization`).
    parameterization: str = "pixels"
    #: Softmax-smooth activations before the Gram matrix (see `losses.smooth_activations`).
    smoothing: bool = False
    #: Whether `--precision auto` may use bfloat16: measured in bench/stylize_speed.py, it
    #: pays off for VGG (1.46x), barely for ResNet (1.1x) and not for lite's depthwise convs.
    bf16_auto: bool = True


@dataclass(frozen=True)
class BackboneSpec:
    """Everything the engine needs to know about one backbone."""

    #: Name, titles, colours and the like: its row of `backbone_facts.BACKBONE_FACTS`.
    facts: BackboneFacts
    #: Named weight sets; the first is the default (`--weights NAME`, or a file).
    weight_sets: dict[str, WeightSpec]
    #: Builds the extractor for (layers, state_path or None for random init, pooling).
    build: Callable[[Sequence[str], Path | None, str], FeatureExtractor]
    available_layers: tuple[str, ...]
    defaults: StyleDefaults
    #: How `--strength` maps onto `defaults` (calibrated per backbone beside them).
    strength: StrengthCurve

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def title(self) -> str:
        return self.facts.title

    @property
    def default_weights(self) -> str:
        return next(iter(self.weight_sets))

    @property
    def weights(self) -> WeightSpec:
        """The default weight set."""
        return self.weight_sets[self.default_weights]

    def weight_set(self, name: str | None) -> WeightSpec:
        """The named weight set (None: the default); an unknown name is an `InputError`."""
        if name is None:
            return self.weights
        try:
            return self.weight_sets[name]
        except KeyError:
            raise InputError(
                f"{self.name} has no weight set {name!r}; choose from "
                f"{', '.join(self.weight_sets)}, or give a weights file"
            ) from None
