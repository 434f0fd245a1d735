"""ResNet50 (torchvision, IMAGENET1K_V1) with an explicit forward path.

ResNet is not a Sequential, so the forward pass is written out here and every stage
output is a named layer: `conv1` (stem conv + BN + ReLU, 1/2 resolution) and `layerS_B`
(output of bottleneck block B of stage S, after its residual ReLU).

Why these 13 style layers: conv1, all of layer1 (3 blocks, 1/4 res), all of layer2
(4 blocks, 1/8 res) and the first five blocks of layer3 (1/16 res). Together they span
edges → textures → motifs as VGG's conv1_1…conv5_1 do, with a denser sampling that
compensates for ResNet's peakier, less texture-like individual activations. layer4
(1/32 res, 2048 channels) is semantic rather than stylistic and would cost most of the
remaining compute, so the network stops at layer3_4. Content is read at layer2_3, the
last 1/8-resolution layer — the same resolution as VGG's conv4_2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.backbones.base import BackboneSpec, FeatureExtractor, StyleDefaults
from nstcli.engine.strength import StrengthCurve
from nstcli.engine.weights import WeightSpec, build_network

_STAGE_BLOCKS = (3, 4, 6, 3)
LAYERS: tuple[str, ...] = (
    "conv1",
    *(
        f"layer{stage}_{block}"
        for stage, count in enumerate(_STAGE_BLOCKS, 1)
        for block in range(count)
    ),
)

STYLE_LAYERS: tuple[str, ...] = (
    "conv1",
    "layer1_0", "layer1_1", "layer1_2",
    "layer2_0", "layer2_1", "layer2_2", "layer2_3",
    "layer3_0", "layer3_1", "layer3_2", "layer3_3", "layer3_4",
)  # fmt: skip

#: torchvision's `ResNet50_Weights.IMAGENET1K_V1.url`, spelt out so that importing the
#: backbones does not import torchvision (tests/test_backbones.py checks it).
TORCHVISION_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"

WEIGHTS = WeightSpec(
    model="resnet",
    filename=Path(TORCHVISION_URL).name,
    url=TORCHVISION_URL,
    description="torchvision ResNet50 IMAGENET1K_V1",
    licence="BSD-3-Clause (torchvision)",
)


class ResNetFeatures(FeatureExtractor):
    available_layers = LAYERS

    def __init__(self, layers: Sequence[str], state_path: Path | None = None):
        super().__init__(layers)
        # Here, not at the top: only a resnet run pays torchvision's import (about 1 s).
        from torchvision.models import resnet50

        network = build_network(lambda: resnet50(weights=None), state_path, "resnet (ResNet50)")
        self.conv1, self.bn1, self.relu, self.maxpool = (
            network.conv1,
            network.bn1,
            network.relu,
            network.maxpool,
        )
        # Keep only the blocks up to the deepest requested layer.
        blocks: list[tuple[str, nn.Module]] = []
        for stage in range(1, 5):
            for index, block in enumerate(getattr(network, f"layer{stage}")):
                blocks.append((f"layer{stage}_{index}", block))
        keep = self.deepest  # LAYERS[0] is conv1, so block i is LAYERS[i + 1]
        self._block_names = [name for name, _ in blocks[:keep]]
        self.blocks = nn.ModuleList(block for _, block in blocks[:keep])
        self.freeze()

    def _features(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        yield "conv1", x
        x = self.maxpool(x)
        for name, block in zip(self._block_names, self.blocks, strict=False):
            x = block(x)
            yield name, x


SPEC = BackboneSpec(
    facts=BACKBONE_FACTS["resnet"],
    weight_sets={"torchvision": WEIGHTS},
    build=lambda layers, state_path, pooling: ResNetFeatures(layers, state_path),
    available_layers=LAYERS,
    defaults=StyleDefaults(
        style_layers=STYLE_LAYERS,
        content_layers=("layer2_3",),
        style_weight=1e6,
        content_weight=1.0,
        tv_weight=0.0,
        optimizer="lbfgs",
        lr=1.0,
        steps=300,
        # bf16 measured only 1.1x faster here (0.531 → 0.477 s/step at 512 px), too little
        # to accept its rounding; `--precision bf16` still opts in.
        bf16_auto=False,
    ),
    # --strength over these defaults: untuned (vgg's curve, not measured on resnet).
    strength=StrengthCurve(below=2.0, above=2.0),
)
