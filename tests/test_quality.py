"""The quality figures of `nstcli.engine.quality` on synthetic pictures with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nstcli import samples
from nstcli.engine import quality
from nstcli.engine.backbones import get_spec, load_backbone


@pytest.fixture
def content() -> Image.Image:
    return samples.content_scene(96, 72)


@pytest.fixture
def style() -> Image.Image:
    return samples.style_picture(80, 80)


def test_binomial_blur_keeps_flat_images_and_the_mean():
    flat = np.full((9, 11), 7.0)
    assert np.allclose(quality.binomial_blur(flat), 7.0)
    noise = np.random.default_rng(0).normal(size=(32, 32))
    blurred = quality.binomial_blur(noise)
    assert blurred.std() < noise.std() / 2
    assert blurred.mean() == pytest.approx(noise.mean(), abs=0.05)


def test_structure_is_one_for_the_content_and_low_for_unrelated_noise(content):
    assert quality.structure(content, content) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    assert abs(quality.structure(noise, content)) < 0.3


def test_grain_is_one_for_the_style_itself_and_high_for_colour_confetti(content, style):
    fitted = style.resize(content.size, Image.Resampling.LANCZOS)
    assert quality.grain(fitted, style) == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    pixels = np.asarray(content, np.int16) + rng.integers(-60, 60, (72, 96, 3))
    confetti = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    assert quality.grain(confetti, style) > 2 * quality.grain(content, style)


def test_grain_floors_a_flat_style_at_half_a_level(content):
    flat_style = Image.new("RGB", (50, 50), (120, 80, 40))
    assert quality.grain(content, flat_style) == pytest.approx(
        quality.chroma_grain(content) / quality.STYLE_GRAIN_FLOOR
    )


def test_colour_is_one_for_the_content_and_near_zero_for_the_style(content, style):
    assert quality.colour(content, content, style) == pytest.approx(1.0)
    assert quality.colour(style.resize(content.size), content, style) < 0.05


def test_sliced_wasserstein_measures_a_shift_in_levels():
    rng = np.random.default_rng(3)
    pixels = rng.uniform(0, 200, (5000, 3))
    assert quality.sliced_wasserstein(pixels, pixels) < 2.0
    # Shifting every channel by 30 moves each 1-D projection by 30·(sum of the unit's
    # components), whose mean absolute value over random directions is about 30·0.9.
    shifted = quality.sliced_wasserstein(pixels, pixels + 30)
    assert 15 < shifted < 45


def test_gram_distance_is_zero_for_the_style_and_larger_for_the_content(content, style):
    layers = get_spec("lite").defaults.style_layers
    judge, _ = load_backbone("lite", layers)
    same = style.resize((80, 80))
    assert quality.gram_distance(judge, same, style, layers) < 1e-3
    assert quality.gram_distance(judge, content, style, layers) > 0.05


def test_figures_bundle_every_figure(content, style):
    result = quality.figures(content, content, style)
    assert result.structure == pytest.approx(1.0) and result.colour == pytest.approx(1.0)
    assert result.style is None
    assert set(result.as_dict()) == {"structure", "grain", "colour", "style"}
