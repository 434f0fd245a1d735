"""Backbones: named features of the right shapes, truncation, frozen, real lite weights."""

from __future__ import annotations

import pytest
import torch

from nstcli.engine.backbones import BACKBONES, get_spec, load_backbone
from nstcli.engine.backbones.lite import EfficientNetLite0
from nstcli.engine.errors import InputError, WeightsError
from nstcli.engine.weights import load_into, resolve

IMAGE = torch.rand(1, 3, 64, 48)

EXPECTED = {
    # name: {layer: (channels, downsampling factor)}
    "vgg": {
        "conv1_1": (64, 1),
        "conv2_1": (128, 2),
        "conv3_1": (256, 4),
        "conv4_1": (512, 8),
        "conv4_2": (512, 8),
        "conv5_1": (512, 16),
    },
    "resnet": {
        "conv1": (64, 2),
        "layer1_2": (256, 4),
        "layer2_3": (512, 8),
        "layer3_4": (1024, 16),
    },
    "lite": {
        "stem": (32, 2),
        "block1": (24, 4),
        "block3": (40, 8),
        "block7": (80, 16),
        "block10": (112, 16),
        "block12": (192, 32),
    },
}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_default_layers_give_named_features_of_expected_shape(name):
    spec = get_spec(name)
    layers = spec.defaults.style_layers + spec.defaults.content_layers
    extractor, _ = load_backbone(name, layers, pretrained=(name == "lite"))
    features = extractor(IMAGE)
    assert set(features) == set(layers)
    for layer, (channels, factor) in EXPECTED[name].items():
        if layer in features:
            _, c, h, w = features[layer].shape
            assert c == channels, layer
            assert (h, w) == (-(-64 // factor), -(-48 // factor)), layer


@pytest.mark.parametrize("name", list(BACKBONES))
def test_facts_name_layers_the_backbone_has(name):
    facts = get_spec(name).facts
    assert facts.name == name
    assert set(facts.perceptual_layers) <= set(get_spec(name).available_layers)


def test_resnet_exposes_thirteen_default_style_layers():
    assert len(get_spec("resnet").defaults.style_layers) == 13


@pytest.mark.parametrize("name", list(BACKBONES))
def test_frozen_and_in_eval_mode(name):
    extractor, _ = load_backbone(name, get_spec(name).available_layers[:2], pretrained=False)
    assert not extractor.training
    assert all(not parameter.requires_grad for parameter in extractor.parameters())
    # gradients still flow to the input image
    image = IMAGE.clone().requires_grad_(True)
    sum(f.sum() for f in extractor(image).values()).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_truncated_after_deepest_layer():
    shallow, _ = load_backbone("vgg", ["conv2_1"], pretrained=False)
    deep, _ = load_backbone("vgg", ["conv5_1"], pretrained=False)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(shallow) < 0.01 * count(deep)
    resnet, _ = load_backbone("resnet", ["layer1_0"], pretrained=False)
    assert len(resnet.blocks) == 1
    lite, _ = load_backbone("lite", ["block2"], pretrained=False)
    assert len(lite.blocks) == 3


def test_unknown_layer_is_input_error():
    with pytest.raises(InputError, match="unknown layer"):
        load_backbone("vgg", ["conv9_9"], pretrained=False)


def test_unknown_backbone_is_input_error():
    with pytest.raises(InputError, match="unknown backbone"):
        get_spec("alexnet")


def test_lite_packaged_weights_load_strictly_and_verify():
    resolved = resolve(get_spec("lite").weights, offline=True)
    assert resolved.source == "installed package" and resolved.verified
    network = EfficientNetLite0()
    load_into(network, resolved.path, "lite")  # strict: raises on any mismatch
    first = network._conv_stem.weight
    assert first.abs().sum() > 0 and not torch.allclose(
        first, EfficientNetLite0()._conv_stem.weight
    )


def test_vgg_loads_torchvision_state_dict(vgg_random_weights):
    extractor, resolved = load_backbone("vgg", ["conv1_1"], weights=str(vgg_random_weights))
    assert resolved.source == "--weights"
    from torchvision.models import vgg19  # noqa: F401  (same keys as torchvision's)

    state = torch.load(vgg_random_weights, weights_only=True)
    assert torch.equal(extractor.body[0].weight, state["features.0.weight"])


def test_wrong_architecture_file_is_weights_error(resnet_random_weights):
    with pytest.raises(WeightsError, match="does not fit the vgg"):
        load_backbone("vgg", ["conv1_1"], weights=str(resnet_random_weights))


def test_missing_torchvision_vgg_offline_suggests_the_original_set():
    with pytest.raises(WeightsError, match=r"vgg19-dcbb9e9d\.pth not found.*--weights original"):
        load_backbone("vgg", ["conv1_1"], weights="torchvision", offline=True)


def test_missing_resnet_weights_offline_suggests_the_backbones_that_ship_weights():
    with pytest.raises(WeightsError, match="--backbone vgg or lite, which work offline"):
        load_backbone("resnet", ["conv1"], offline=True)


def test_lite_features_with_folded_batch_norms_match_the_network_as_trained():
    """Folding the frozen batch norms into the convs is a speed-up, not a new network: the
    features equal the classifier's own stem and blocks, run with their batch norms."""
    import copy

    from torch.nn import functional as F

    from nstcli.engine.backbones.lite import LiteFeatures

    path = resolve(get_spec("lite").weights, offline=True).path
    extractor = LiteFeatures(("stem", "block3"), path)
    network = EfficientNetLite0()
    load_into(network, path, "lite")
    network.eval()
    image = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        x = F.relu6(network._bn0(network._conv_stem(extractor.normalise(image))))
        expected = {"stem": x}
        for index, block in enumerate(list(network._blocks)[:4]):
            x = copy.deepcopy(block)(x)
            expected[f"block{index}"] = x
        got = extractor(image)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in extractor.modules())
    for name in ("stem", "block3"):
        assert torch.allclose(got[name], expected[name], atol=1e-4, rtol=1e-4), name


# -- vgg and the backbones without torchvision (start-up: issue 22) -------------------------


def test_vgg19_features_are_torchvisions_layout_and_initialisation():
    from torchvision.models import vgg19

    from nstcli.engine.backbones.vgg import vgg19_features

    ours, theirs = vgg19_features(), vgg19(weights=None).features
    assert [repr(m) for m in ours] == [repr(m) for m in theirs]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    for mine, reference in zip(ours, theirs, strict=True):
        if isinstance(mine, torch.nn.Conv2d):  # kaiming normal (fan out), zero bias
            assert mine.bias.abs().max() == 0 == reference.bias.abs().max()
            assert mine.weight.std().item() == pytest.approx(reference.weight.std().item(), rel=0.1)


def test_spelt_out_torchvision_urls_are_the_enums():
    from torchvision.models import ResNet50_Weights, VGG19_Weights

    from nstcli.engine.backbones import resnet, vgg

    assert vgg.WEIGHT_SETS["torchvision"].url == VGG19_Weights.IMAGENET1K_V1.url
    assert resnet.WEIGHTS.url == ResNet50_Weights.IMAGENET1K_V1.url


@pytest.mark.parametrize("sigma", [0.4, 1.5, 6.0])
def test_start_blur_is_torchvisions_gaussian_blur(sigma):
    import math

    from torchvision.transforms.functional import gaussian_blur as torchvision_blur

    from nstcli.engine.stylize import gaussian_blur

    pixels = torch.rand(1, 3, 37, 52)
    size = 2 * math.ceil(2 * sigma) + 1
    expected = torchvision_blur(pixels, [size, size], [sigma, sigma])
    assert torch.allclose(gaussian_blur(pixels, sigma), expected, atol=1e-6)


def test_vgg_and_lite_runs_do_not_import_torchvision():
    """Its import (with torch._dynamo's) was a third of `nst stylize`'s start-up; only
    resnet needs it."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from nstcli.engine.backbones import get_spec, load_backbone\n"
        "from nstcli.engine.stylize import gaussian_blur\n"
        "for name in ('vgg', 'lite'):\n"
        "    load_backbone(name, get_spec(name).defaults.style_layers, offline=True)\n"
        "gaussian_blur(torch.rand(1, 3, 16, 16), 1.0)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
