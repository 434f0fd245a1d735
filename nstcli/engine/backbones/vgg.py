"""VGG19 (torchvision, IMAGENET1K_V1): the classic Gatys et al. backbone.

Layers are named after the paper (conv1_1 … conv5_4) and read *after* their ReLU, as in
Gatys et al. and most reference implementations. The network is truncated after the
deepest requested layer; the classifier is dropped once the weights are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn
from torchvision.models import VGG19_Weights, vgg19

from nstcli.engine.backbones.base import BackboneSpec, FeatureExtractor, StyleDefaults
from nstcli.engine.weights import WeightSpec, build_network

_BLOCK_SIZES = (2, 2, 4, 4, 4)
LAYERS: tuple[str, ...] = tuple(
    f"conv{block}_{index}"
    for block, count in enumerate(_BLOCK_SIZES, start=1)
    for index in range(1, count + 1)
)

WEIGHTS = WeightSpec(
    model="vgg",
    filename=Path(VGG19_Weights.IMAGENET1K_V1.url).name,
    url=VGG19_Weights.IMAGENET1K_V1.url,
    description="torchvision VGG19 IMAGENET1K_V1",
)


class VGGFeatures(FeatureExtractor):
    available_layers = LAYERS

    def __init__(self, layers: Sequence[str], state_path: Path | None = None, pooling: str = "max"):
        super().__init__(layers)
        network = build_network(lambda: vgg19(weights=None), state_path, "vgg (VGG19)")
        modules = list(network.features.children())
        named: list[tuple[str, nn.Module]] = []
        block, index = 1, 1
        for module in modules:
            if isinstance(module, nn.Conv2d):
                named.append((f"conv{block}_{index}", module))
            elif isinstance(module, nn.ReLU):
                named.append((f"_relu{block}_{index}", nn.ReLU(inplace=False)))
                index += 1
            elif isinstance(module, nn.MaxPool2d):
                pool = nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2)
                named.append((f"_pool{block}", pool))
                block, index = block + 1, 1
        # Keep modules up to (and including) the ReLU of the deepest requested conv.
        last = LAYERS[self.deepest]
        cut = next(i for i, (name, _) in enumerate(named) if name == f"_relu{last[4:]}")
        self.body = nn.ModuleList(module for _, module in named[: cut + 1])
        self._names = [name for name, _ in named[: cut + 1]]
        self.freeze()

    def _features(self, x):
        for name, module in zip(self._names, self.body, strict=False):
            x = module(x)
            if name.startswith("_relu"):
                yield "conv" + name[5:], x


SPEC = BackboneSpec(
    name="vgg",
    title="VGG19",
    weights=WEIGHTS,
    build=lambda layers, state_path, pooling: VGGFeatures(layers, state_path, pooling),
    available_layers=LAYERS,
    defaults=StyleDefaults(
        style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        content_layers=("conv4_2",),
        style_weight=1e6,
        content_weight=1.0,
        tv_weight=0.0,
        optimizer="lbfgs",
        lr=1.0,
        steps=300,
    ),
)
