"""What the optimiser moves: the pixels themselves, or a decorrelated, Fourier-scaled
spectrum that maps to them (Mordvintsev et al. 2018, "Differentiable Image
Parameterizations", distill.pub).

In pixel space every pixel and colour channel is an independent variable, so a network
that reacts strongly to high frequencies (EfficientNet, ResNet) is free to satisfy its
style loss with single-pixel colour noise ("confetti"). In the Fourier parameterisation
each frequency's coefficient is scaled by 1/frequency and the colour channels are
decorrelated first, so gradient steps move smooth, natural-image-like structures; fine
detail still forms, but only where the loss really asks for it.

Both keep the image in [0, 1] the same way: after each optimiser step the image is
clipped and, for the spectrum, the clipped image is transformed back (the map is linear
and invertible, so this is the same projection as clipping pixels).
"""

from __future__ import annotations

from typing import Protocol

import torch

#: Square root of the colour correlation of ImageNet photos (Lucid's
#: `color_correlation_svd_sqrt`), normalised by its largest column norm.
_COLOUR_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=torch.float64
)
_COLOUR = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()


class ImageParameters(Protocol):
    """The optimised tensor and the image it stands for."""

    #: The leaf tensor the optimiser updates (pixels, or the spectrum).
    variable: torch.Tensor

    def image(self) -> torch.Tensor:
        """The (1, 3, H, W) image in [0, 1], differentiable with respect to `variable`."""
        ...

    def project_(self) -> None:
        """Bring the image back into [0, 1] after an optimiser step, in place."""
        ...


class PixelParameters:
    """The pixels are the variables (the classic Gatys et al. set-up)."""

    def __init__(self, start: torch.Tensor) -> None:
        self.variable = start.detach().clone().contiguous().requires_grad_(True)

    def image(self) -> torch.Tensor:
        return self.variable

    @torch.no_grad()
    def project_(self) -> None:
        # Deviation from Gatys et al. (unconstrained L-BFGS): pixels are clamped after each
        # step, also under L-BFGS, whose curvature history then sees a projected point.
        self.variable.clamp_(0.0, 1.0)


class FourierParameters:
    """The image is irfft2(scale · spectrum) in decorrelated colour, plus the mean colour.

    `scale` is 1 / max(frequency, 1 / long side) ** `decay`, normalised to 1 at the lowest
    frequency, so high frequencies need large coefficient changes to appear.
    """

    def __init__(self, start: torch.Tensor, decay: float = 1.0) -> None:
        height, width = start.shape[-2:]
        self.size = (height, width)
        fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
        fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]
        frequency = torch.sqrt(fx * fx + fy * fy)
        floor = 1.0 / max(height, width)
        scale = (floor / frequency.clamp(min=floor)) ** decay
        self.scale = scale.to(start.device, torch.float32)
        self.colour = _COLOUR.to(start.device, torch.float32)
        self.colour_inverse = torch.linalg.inv(_COLOUR).to(start.device, torch.float32)
        self.variable = self._to_spectrum(start.detach().float()).requires_grad_(True)

    def _to_spectrum(self, image: torch.Tensor) -> torch.Tensor:
        decorrelated = torch.einsum("ij,bjhw->bihw", self.colour_inverse, image - 0.5)
        spectrum = torch.fft.rfft2(decorrelated, norm="ortho") / self.scale
        return torch.view_as_real(spectrum).contiguous()

    def image(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.variable) * self.scale
        decorrelated = torch.fft.irfft2(spectrum, s=self.size, norm="ortho")
        return torch.einsum("ij,bjhw->bihw", self.colour, decorrelated) + 0.5

    @torch.no_grad()
    def project_(self) -> None:
        self.variable.copy_(self._to_spectrum(self.image().clamp(0.0, 1.0)))


def parameterize(start: torch.Tensor, kind: str) -> ImageParameters:
    """`start` (1, 3, H, W) in [0, 1] as the variables of parameterisation `kind`."""
    if kind == "fourier":
        return FourierParameters(start)
    return PixelParameters(start)
