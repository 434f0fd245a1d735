"""Super-resolution metrics as the literature reports them.

Y-channel (ITU-R BT.601 luma, studio range 16-235) PSNR and SSIM on 8-bit images, with
`shave` pixels cropped from every border (= the scale factor, 4), like the MATLAB scripts
behind the SRGAN/EDSR tables.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter


def luma(image: Image.Image | np.ndarray) -> np.ndarray:
    """BT.601 Y in [16, 235] as float64, from 8-bit RGB."""
    rgb = np.asarray(image, dtype=np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def _shave(y: np.ndarray, shave: int) -> np.ndarray:
    return y[shave:-shave, shave:-shave] if shave > 0 else y


def y_psnr(output: Image.Image, reference: Image.Image, shave: int = 4) -> float:
    """PSNR in dB of the Y channels (peak 255)."""
    a, b = (_shave(luma(x), shave) for x in (output, reference))
    if a.shape != b.shape:
        raise ValueError(f"size mismatch {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def y_ssim(output: Image.Image, reference: Image.Image, shave: int = 4) -> float:
    """SSIM of the Y channels: Wang et al. 2004, 11x11 Gaussian window (sigma 1.5), valid only."""
    a, b = (
        torch.from_numpy(_shave(luma(x), shave)).to(torch.float64)[None, None]
        for x in (output, reference)
    )
    if a.shape != b.shape:
        raise ValueError(f"size mismatch {tuple(a.shape)} vs {tuple(b.shape)}")
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :])[None, None]

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(ssim_map.mean())


def y_detail(output: Image.Image, reference: Image.Image, shave: int = 4) -> float:
    """High-frequency detail relative to the reference: mean |gradient| of Y, output / HR.

    PSNR and SSIM reward the blur-leaning average of plausible textures; this ratio shows
    what a perceptual/adversarial generator is for. Bicubic and L1-trained generators sit
    well below 1; near 1 means reference-like texture energy (not that it is the right
    texture), and above 1 means invented edges or noise.
    """

    def gradient_energy(y: np.ndarray) -> float:
        return float(np.abs(np.diff(y, axis=0)).mean() + np.abs(np.diff(y, axis=1)).mean())

    a, b = (_shave(luma(x), shave) for x in (output, reference))
    if a.shape != b.shape:
        raise ValueError(f"size mismatch {a.shape} vs {b.shape}")
    return gradient_energy(a) / max(gradient_energy(b), 1e-12)


def y_grid(output: Image.Image, period: int = 4, shave: int = 8) -> float:
    """Fixed-pattern artifact score: spread (std, luma levels) of the mean high-pass Y at
    each of the period x period pixel phases. A x4 pixel-shuffle generator that has learnt a
    grid scores high; natural images have no preferred phase (HR of Set5/Set14 ~0.13,
    bicubic ~0.01). No reference needed.
    """
    y = luma(output)
    high = _shave(y - luma(output.filter(ImageFilter.GaussianBlur(2))), shave)
    height, width = (high.shape[0] // period) * period, (high.shape[1] // period) * period
    cells = high[:height, :width].reshape(height // period, period, width // period, period)
    return float(cells.mean(axis=(0, 2)).std())
