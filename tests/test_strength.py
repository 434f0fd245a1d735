"""`--strength`: a thin, monotonic mapping over each backbone's defaults."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from nstcli.engine import stylize as stylize_module
from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.backbones import get_spec
from nstcli.engine.compare import Sweep, numeric_fields
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import InputError
from nstcli.engine.images import resize_longer_side
from nstcli.engine.job import prepare
from nstcli.engine.strength import DEFAULT_STRENGTH, StrengthCurve
from nstcli.engine.stylize import stylize
from tests.test_careful_cli import one_line_error, run

GRID = [i / 20 for i in range(21)]


def _lite(**overrides) -> StylizeConfig:
    return StylizeConfig(**({"backbone": "lite", "size": 48, "steps": 12} | overrides))


@pytest.mark.parametrize("backbone", list(BACKBONE_FACTS))
def test_each_backbones_curve_is_monotonic_and_exact_at_the_default(backbone):
    curve = get_spec(backbone).strength
    factors = [curve.style_factor(s) for s in GRID]
    assert factors[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(factors))
    assert curve.style_factor(DEFAULT_STRENGTH) == 1.0  # exactly: the default run
    shares = [curve.start_share(s) for s in GRID]
    assert shares[0] == 0.0 and curve.start_share(DEFAULT_STRENGTH) == 1.0 == shares[-1]
    assert all(a <= b for a, b in itertools.pairwise(shares))


def test_strength_scales_the_default_style_weight_only():
    base = get_spec("lite").defaults
    weights = [_lite(strength=s).resolved().style_weight for s in (0.1, 0.25, 0.5, 0.75, 1.0)]
    assert weights[2] == base.style_weight
    assert weights == sorted(weights) and len(set(weights)) == 5
    low = _lite(strength=0.25).resolved()
    assert low.content_weight == base.content_weight and low.tv_weight == base.tv_weight
    curve = StrengthCurve(below=3.0, above=1.0)
    assert curve.style_factor(0.25) == pytest.approx(0.125)
    assert curve.style_factor(1.0) == pytest.approx(2.0)


@pytest.mark.parametrize("explicit", [{"style_weight": 123.0}, {"content_weight": 7.0}])
def test_an_explicit_weight_overrides_the_strength_balance(explicit):
    base = get_spec("lite").defaults
    for strength in (0.1, 0.9):
        resolved = _lite(strength=strength, **explicit).resolved()
        assert resolved.style_weight == explicit.get("style_weight", base.style_weight)


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan, math.inf])
def test_strength_outside_0_to_1_is_refused(bad):
    with pytest.raises(InputError, match="--strength must be between 0 and 1"):
        StylizeConfig(strength=bad)


def test_strength_0_returns_the_photo_exactly(content_image, style_image):
    result = stylize(content_image, style_image, _lite(strength=0.0))
    expected = resize_longer_side(content_image, 48)
    assert result.image.size == expected.size
    assert result.image.tobytes() == expected.tobytes()
    assert result.steps == 0 and result.summary()["final_loss"] is None


def test_default_strength_is_byte_identical_to_the_default_run(
    content_image, style_image, monkeypatch
):
    """At the default strength neither the start nor the weights go through strength's
    arithmetic: a run with lerp made impossible and the default weights given explicitly
    (which bypasses the mapping) is the same image, byte for byte."""
    default = stylize(content_image, style_image, _lite(init="palette"))

    def no_lerp(*args, **kwargs):
        raise AssertionError("the default start was blended")

    monkeypatch.setattr(stylize_module.torch, "lerp", no_lerp)
    base = get_spec("lite").defaults
    explicit = _lite(
        init="palette", strength=0.5, style_weight=base.style_weight,
        content_weight=base.content_weight,
    )  # fmt: skip
    again = stylize(content_image, style_image, explicit)
    assert default.image.tobytes() == again.image.tobytes()
    assert default.config.style_weight == base.style_weight
    with pytest.raises(AssertionError, match="blended"):
        stylize(content_image, style_image, _lite(init="palette", strength=0.3))


@pytest.mark.parametrize("init", ["palette", "noise"])
def test_low_strength_starts_nearer_the_photo(content_image, style_image, init):
    starts = {}
    for strength in (0.1, 0.25, 0.5):
        job = prepare(content_image, style_image, _lite(init=init, strength=strength))
        starts[strength] = stylize_module._first_start(job, list(job.styles), 48)
    photo = torch.from_numpy(np.asarray(resize_longer_side(content_image, 48), np.float32) / 255)
    photo = photo.permute(2, 0, 1)[None]
    distance = {s: float((start - photo).abs().mean()) for s, start in starts.items()}
    assert distance[0.1] < distance[0.25] < distance[0.5], distance


def test_more_strength_moves_further_from_the_photo(content_image, style_image):
    photo = np.asarray(resize_longer_side(content_image, 48), np.float32)
    moved = []
    for strength in (0.0, 0.25, 0.5, 1.0):
        result = stylize(content_image, style_image, _lite(strength=strength))
        moved.append(float(np.abs(np.asarray(result.image, np.float32) - photo).mean()))
    assert moved[0] == 0.0
    assert moved == sorted(moved) and len(set(moved)) == 4, moved


def test_strength_is_sweepable_in_compare():
    sweep = Sweep.parse("strength=0,0.25,0.5", allowed=set(numeric_fields()))
    assert sweep.option == "strength" and sweep.values == (0.0, 0.25, 0.5)


def test_cli_refuses_a_bad_strength_on_one_line(content_path, style_path, tmp_path):
    one_line_error(
        run("stylize", content_path, style_path, "--strength", "1.5", "-o", tmp_path / "o.png"),
        "--strength must be between 0 and 1",
    )


def test_cli_strength_0_writes_the_photo(content_path, style_path, tmp_path):
    out = tmp_path / "photo.png"
    result = run(
        "stylize", content_path, style_path, "--backbone", "lite", "--size", "64",
        "--strength", "0", "-o", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Image.open(out) as written, Image.open(content_path) as original:
        assert written.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_over_the_default_lites_chroma_tv_follows_the_style_factor():
    """More style on lite must not be mostly colour confetti: over the default strength its
    chroma-TV weight takes the style factor too; at and under it, and when given, it stays."""
    spec = get_spec("lite")
    base = spec.defaults
    for strength in (0.75, 1.0):
        resolved = _lite(strength=strength).resolved()
        factor = spec.strength.style_factor(strength)
        assert factor > 1
        assert resolved.chroma_tv_weight == pytest.approx(base.chroma_tv_weight * factor)
    for strength in (0.1, 0.25, 0.5):
        assert _lite(strength=strength).resolved().chroma_tv_weight == base.chroma_tv_weight
    assert _lite(strength=1.0, chroma_tv_weight=5.0).resolved().chroma_tv_weight == 5.0
    vgg = StylizeConfig(backbone="vgg", strength=1.0).resolved()
    assert vgg.chroma_tv_weight == get_spec("vgg").defaults.chroma_tv_weight


def test_over_the_default_lites_first_start_is_blurred_more_with_strength():
    """lite's style saturates in its weight; over the default what gives more style is less
    of the photo's detail in the start. At and under the default the start is untouched."""
    curve = get_spec("lite").strength
    blurs = [curve.start_blur(s) for s in GRID]
    assert all(b == 0 for s, b in zip(GRID, blurs, strict=True) if s <= DEFAULT_STRENGTH)
    over = [b for s, b in zip(GRID, blurs, strict=True) if s > DEFAULT_STRENGTH]
    assert all(a < b for a, b in itertools.pairwise(over)) and over[0] > 0
    content = Image.effect_noise((64, 48), 80).convert("RGB")
    style = Image.new("RGB", (32, 32), (200, 60, 30))

    def start(strength: float) -> torch.Tensor:
        job = prepare(content, style, _lite(size=64, strength=strength))
        return stylize_module._first_start(job, list(job.styles), 64)

    def detail(pixels: torch.Tensor) -> float:
        return float((pixels[..., 1:] - pixels[..., :-1]).abs().mean())

    assert detail(start(0.75)) < detail(start(0.5)) and detail(start(1.0)) < detail(start(0.75))
