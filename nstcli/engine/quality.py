"""Figures that say whether a stylisation is good, beside a reference result.

Three are model-free, computed at the output's size on Pillow's YCbCr:

- *structure*: does the picture keep the photo's layout? Pearson correlation between the
  gradient-magnitude maps of the output's and the content's luma, each blurred twice with
  the 5-tap binomial filter, gradients by central differences.
- *grain*: colour confetti. Mean |x − blur(x)| of Cb and Cr (averaged), for the output over
  the same for the style image resized to the output's size (the style's floored at 0.5
  levels, so a flat painting does not blow the ratio up).
- *colour*: sliced Wasserstein distance between RGB pixel distributions, output→style over
  content→style: 1 = colours untouched, 0 = the painting's palette.

The fourth, *style*, asks a network that did not make the picture whether the style is
there: the relative Gram distance ‖G(O) − G(S)‖² / ‖G(S)‖², averaged over that network's
default style layers (`gram_distance`). A palette swap without brushwork passes the first
three and fails this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from nstcli.engine.backbones import FeatureExtractor
from nstcli.engine.images import image_to_tensor, resize_longer_side
from nstcli.engine.losses import gram_matrix

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
#: Floor of the style's chroma grain, in 8-bit levels.
STYLE_GRAIN_FLOOR = 0.5


@dataclass(frozen=True)
class Figures:
    """The figures of one picture (style is None when no judge was given)."""

    structure: float
    grain: float
    colour: float
    style: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "structure": round(self.structure, 4),
            "grain": round(self.grain, 4),
            "colour": round(self.colour, 4),
            "style": None if self.style is None else round(self.style, 4),
        }


def binomial_blur(channel: np.ndarray) -> np.ndarray:
    """Separable [1, 4, 6, 4, 1]/16 blur with reflect padding."""
    padded = np.pad(channel, 2, mode="reflect")
    rows = sum(w * padded[:, i : i + channel.shape[1]] for i, w in enumerate(_BINOMIAL))
    return sum(w * rows[i : i + channel.shape[0], :] for i, w in enumerate(_BINOMIAL))


def _ycbcr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB").convert("YCbCr"), dtype=np.float64)


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def gradient_magnitude(luma: np.ndarray) -> np.ndarray:
    smooth = binomial_blur(binomial_blur(luma))
    dy, dx = np.gradient(smooth)  # central differences inside, one-sided at the borders
    return np.hypot(dx, dy)


def structure(output: Image.Image, content: Image.Image) -> float:
    """Pearson correlation of the blurred luma gradient magnitudes (layout kept → high)."""
    ours = gradient_magnitude(_ycbcr(output)[..., 0]).ravel()
    theirs = gradient_magnitude(_ycbcr(_fit(content, output.size))[..., 0]).ravel()
    return float(np.corrcoef(ours, theirs)[0, 1])


def chroma_grain(image: Image.Image) -> float:
    """Mean |x − blur(x)| of Cb and Cr, averaged: high-frequency colour noise in levels."""
    ycc = _ycbcr(image)
    return float(np.mean([np.abs(c - binomial_blur(c)).mean() for c in (ycc[..., 1], ycc[..., 2])]))


def grain(output: Image.Image, style: Image.Image) -> float:
    """The output's chroma grain over the style's at the output's size (≤ 1: no confetti)."""
    reference = max(STYLE_GRAIN_FLOOR, chroma_grain(_fit(style, output.size)))
    return chroma_grain(output) / reference


def sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    directions: int = 64,
    quantiles: int = 200,
    samples: int = 20_000,
    seed: int = 0,
) -> float:
    """Sliced Wasserstein-1 distance between two sets of RGB pixels (N×3 arrays)."""
    rng = np.random.default_rng(seed)
    a = a[rng.integers(0, len(a), samples)]
    b = b[rng.integers(0, len(b), samples)]
    units = rng.normal(size=(directions, 3))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    levels = (np.arange(quantiles) + 0.5) / quantiles
    qa = np.quantile(a @ units.T, levels, axis=0)
    qb = np.quantile(b @ units.T, levels, axis=0)
    return float(np.abs(qa - qb).mean())


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3)


def colour(output: Image.Image, content: Image.Image, style: Image.Image) -> float:
    """SWD(output, style) / SWD(content, style): 1 = the photo's colours, 0 = the painting's."""
    size = output.size
    style_pixels = _pixels(_fit(style, size))
    towards = sliced_wasserstein(_pixels(output), style_pixels)
    start = sliced_wasserstein(_pixels(_fit(content, size)), style_pixels)
    return towards / max(start, 1e-9)


def gram_distance(
    judge: FeatureExtractor, output: Image.Image, style: Image.Image, layers: Sequence[str]
) -> float:
    """Mean over `layers` of ‖G(output) − G(style)‖² / ‖G(style)‖² in `judge`'s features.

    The style is seen at the output's long side, as a default run sees it.
    """
    style = resize_longer_side(style.convert("RGB"), max(output.size))
    with torch.inference_mode():
        ours = judge(image_to_tensor(output.convert("RGB")))
        theirs = judge(image_to_tensor(style))
        distances = []
        for name in layers:
            target = gram_matrix(theirs[name].float())
            difference = gram_matrix(ours[name].float()) - target
            distances.append(float(difference.pow(2).sum() / target.pow(2).sum()))
    return float(np.mean(distances))


def figures(
    output: Image.Image,
    content: Image.Image,
    style: Image.Image,
    judge: FeatureExtractor | None = None,
    judge_layers: Sequence[str] = (),
) -> Figures:
    """All figures of `output` made from `content` and `style`."""
    output = output.convert("RGB")
    # Fitted once here; each figure's own fit is then a no-op.
    fitted_content, fitted_style = _fit(content, output.size), _fit(style, output.size)
    return Figures(
        structure=structure(output, fitted_content),
        grain=grain(output, fitted_style),
        colour=colour(output, fitted_content, fitted_style),
        style=gram_distance(judge, output, style, judge_layers) if judge is not None else None,
    )
