"""Style-transfer losses as pure functions on tensors (Gatys et al. 2016)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def gram_sum(features: torch.Tensor) -> torch.Tensor:
    """Unnormalised channel correlations of (B, C, H, W) features: a sum over positions.

    Being a sum, it can be accumulated over tiles of a large image (`targets.style_grams`).
    Channels-last features (what `FeatureRunner` produces) are read as (B, H·W, C), a view:
    reshaping them to (B, C, H·W) would copy, and the copy's gradient, in the other layout,
    makes autograd's sum with the gradient from deeper layers a slow strided add (measured:
    a third of a VGG19 step at 512 px).
    """
    batch, channels, height, width = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        positions = features.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
    else:
        positions = features.reshape(batch, channels, height * width).transpose(1, 2)
    return _PositionsGram.apply(positions)


class _PositionsGram(torch.autograd.Function):
    """G = Pᵀ P for positions P (B, N, C), with its gradient written out.

    Autograd would take the two operands' gradients apart (two N×C×C products and an N×C
    sum); since G is symmetric in P, dL/dP = P (dG + dGᵀ) is one product and a C×C sum.
    """

    @staticmethod
    def forward(ctx, positions: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(positions)
        return positions.transpose(1, 2) @ positions

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (positions,) = ctx.saved_tensors
        return positions @ (grad + grad.transpose(1, 2))


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations of (B, C, H, W) features, normalised by C·H·W.

    The normalisation makes layers of different sizes (and images of different sizes)
    contribute on comparable scales, so one style weight works across resolutions.
    """
    _, channels, height, width = features.shape
    # Deviation from Gatys et al.: they take the plain sum and scale the loss by
    # 1/(4·N²·M²); dividing the Gram by C·H·W here is what makes the weights size-free.
    return gram_sum(features) / (channels * height * width)


def smooth_activations(features: torch.Tensor) -> torch.Tensor:
    """Softmax over spatial positions, per channel, rescaled to mean 1 (Wang et al. 2021).

    Networks other than VGG (ResNets, EfficientNets) have a few very large, peaky
    activations that dominate their Gram matrices and make stylisation weak and noisy;
    the softmax evens them out ("Rethinking and improving the robustness of image style
    transfer", CVPR 2021). Multiplying by H·W keeps values O(1) at every resolution, so one
    style weight works across the scales of a multi-scale run.
    """
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return (flat.softmax(dim=-1) * (height * width)).reshape_as(features)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of feature maps."""
    return F.mse_loss(features, target)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between this layer's Gram matrix and the style's."""
    return F.mse_loss(gram_matrix(features), target_gram)


def masked_style_loss(
    features: torch.Tensor, target_gram: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Style loss restricted to a soft region: the Gram of mask-weighted features,
    normalised by the region's area so it compares with a whole-image style Gram.

    `mask` is (1, 1, H, W) in [0, 1] at any resolution; it is resized to the features.
    """
    _, channels, height, width = features.shape
    weights = F.interpolate(mask, size=(height, width), mode="area")
    area = weights.sum()
    if float(area) < 1e-6:
        return features.new_zeros(())
    gram = gram_sum(features * weights) / (channels * area)
    return F.mse_loss(gram, target_gram)


#: Cb and Cr rows of the BT.601 RGB → YCbCr matrix (what Pillow's "YCbCr" uses).
_CHROMA = torch.tensor([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def chroma_total_variation(image: torch.Tensor) -> torch.Tensor:
    """Total variation of the image's chroma (Cb, Cr) only.

    Penalises single-pixel colour noise ("confetti", which networks other than VGG tend to
    paint) while leaving luminance free for brush strokes and edges.
    """
    chroma = torch.einsum("cj,bjhw->bchw", _CHROMA.to(image), image)
    return total_variation(chroma)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels: penalises high-frequency noise."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def anchored_difference(
    image: torch.Tensor, anchor: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted mean squared difference to `anchor` (Ruder et al. 2016's temporal loss:
    (1/D) Σ c·(x − ω)², with c the per-pixel `weights`, 0 where the output is free)."""
    return (weights * (image - anchor).pow(2)).mean()
