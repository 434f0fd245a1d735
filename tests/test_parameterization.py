"""What the optimiser moves (pixels or a Fourier spectrum) and where it starts (palette)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nstcli import samples
from nstcli.engine import color
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import InputError
from nstcli.engine.parameterization import FourierParameters, PixelParameters, parameterize
from nstcli.engine.stylize import stylize


def test_fourier_parameters_stand_for_the_start_image_exactly():
    start = torch.rand(1, 3, 37, 50, generator=torch.Generator().manual_seed(0))
    variables = FourierParameters(start)
    assert variables.variable.requires_grad and variables.variable.shape == (1, 3, 37, 26, 2)
    assert torch.allclose(variables.image(), start, atol=1e-5)


def test_projection_brings_any_spectrum_back_into_range():
    variables = parameterize(torch.full((1, 3, 16, 20), 0.5), "fourier")
    with torch.no_grad():
        variables.variable.add_(torch.randn_like(variables.variable) * 10)
    assert variables.image().abs().max() > 1.5
    variables.project_()
    image = variables.image()
    assert image.min() > -1e-5 and image.max() < 1 + 1e-5


def test_high_frequencies_are_damped_in_the_spectrum():
    variables = FourierParameters(torch.rand(1, 3, 32, 32))
    assert variables.scale[0, 0] == 1.0
    assert variables.scale[16, 16] < 0.05  # the finest frequency moves ~40x less per unit


def test_pixel_parameters_clip():
    variables = PixelParameters(torch.full((1, 3, 4, 4), 0.5))
    with torch.no_grad():
        variables.variable.add_(1.0)
    variables.project_()
    assert float(variables.image().detach().max()) == 1.0


def test_stylize_in_fourier_space_lowers_the_loss(content_image, style_image):
    config = StylizeConfig(backbone="lite", size=48, steps=6, multiscale=False,
                           parameterization="fourier", optimizer="adam", lr=0.05)  # fmt: skip
    result = stylize(content_image, style_image, config)
    assert result.config.parameterization == "fourier"
    assert result.history[-1].total < result.history[0].total


def test_unknown_parameterization_is_refused():
    with pytest.raises(InputError, match="--parameterization"):
        StylizeConfig(parameterization="wavelets")


def test_palette_start_has_the_styles_colour_statistics():
    content = samples.content_scene(64, 48)
    rng = np.random.default_rng(0)  # a palette the recoloured photo can reach without clipping
    mixing = np.array([[20.0, 0, 0], [12, 15, 0], [-6, 4, 10]])
    style_pixels = rng.normal(size=(40, 40, 3)) @ mixing.T + (140, 100, 80)
    style = Image.fromarray(style_pixels.clip(0, 255).astype(np.uint8))
    matched = color.match_palette(content, [style])
    assert matched.size == content.size
    ours = np.asarray(matched, np.float64).reshape(-1, 3)
    theirs = np.asarray(style, np.float64).reshape(-1, 3)
    assert np.allclose(ours.mean(0), theirs.mean(0), atol=2)
    assert np.allclose(np.cov(ours.T), np.cov(theirs.T), atol=0.1 * np.abs(np.cov(theirs.T)).max())
    # The layout stays: a linear colour map keeps the photo's edges where they were.
    before = np.diff(np.asarray(content.convert("L"), np.float64), axis=1).ravel()
    after = np.diff(np.asarray(matched.convert("L"), np.float64), axis=1).ravel()
    assert abs(np.corrcoef(before, after)[0, 1]) > 0.5


def test_palette_init_starts_the_run_from_the_recoloured_photo(content_image, style_image):
    flat_style = Image.new("RGB", (32, 32), (30, 60, 200))
    config = StylizeConfig(backbone="lite", size=48, steps=1, multiscale=False, init="palette",
                           style_weight=0.0, content_weight=0.0)  # fmt: skip
    result = stylize(content_image, flat_style, config)
    pixels = np.asarray(result.image, np.float64).reshape(-1, 3).mean(0)
    assert pixels[2] > pixels[0] + 60  # blue like the style, not the photo's colours
