"""Losses: zero for identical inputs, scale-normalised Gram, smoothness penalty."""

from __future__ import annotations

import torch

from nstcli.engine import losses


def test_losses_are_zero_for_identical_inputs():
    features = torch.rand(1, 8, 5, 7)
    assert losses.content_loss(features, features.clone()) == 0
    assert losses.style_loss(features, losses.gram_matrix(features)) == 0


def test_gram_is_normalised_by_layer_size():
    ones = torch.ones(1, 4, 10, 10)
    gram = losses.gram_matrix(ones)
    assert gram.shape == (1, 4, 4)
    assert torch.allclose(gram, torch.full((1, 4, 4), 1 / 4))
    # tiling the same texture twice as large leaves the Gram unchanged
    texture = torch.rand(1, 3, 6, 6)
    assert torch.allclose(
        losses.gram_matrix(texture), losses.gram_matrix(texture.repeat(1, 1, 2, 2))
    )


def test_style_loss_positive_for_different_textures():
    a, b = torch.rand(1, 4, 8, 8), torch.rand(1, 4, 8, 8) * 3
    assert losses.style_loss(a, losses.gram_matrix(b)) > 0


def test_total_variation_zero_for_flat_and_positive_for_noise():
    assert losses.total_variation(torch.full((1, 3, 8, 8), 0.5)) == 0
    assert losses.total_variation(torch.rand(1, 3, 8, 8)) > 0


def test_smoothed_activations_are_positive_with_mean_one_per_channel():
    features = torch.randn(1, 5, 6, 7) * 10
    smoothed = losses.smooth_activations(features)
    assert smoothed.shape == features.shape and (smoothed > 0).all()
    assert torch.allclose(smoothed.mean(dim=(2, 3)), torch.ones(1, 5), atol=1e-5)
    # a single dominant activation no longer swamps the Gram matrix as badly
    peaky = torch.zeros(1, 2, 4, 4)
    peaky[0, 0, 0, 0] = 50
    assert (
        losses.gram_matrix(losses.smooth_activations(peaky)).max() < losses.gram_matrix(peaky).max()
    )


def test_gram_of_channels_last_features_is_the_same_and_keeps_their_layout_in_backward():
    """The backbone runs channels-last: its Gram must equal the NCHW one, and the gradient it
    sends back must stay channels-last (a layout switch made autograd's add slow)."""
    features = torch.rand(1, 6, 9, 11)
    last = features.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    assert torch.allclose(losses.gram_sum(last), losses.gram_sum(features), atol=1e-5)
    seen: list[torch.Tensor] = []
    last.register_hook(lambda grad: seen.append(grad))
    losses.gram_sum(last).square().sum().backward()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()


def test_gram_gradient_written_out_equals_autograds():
    """`gram_sum`'s hand-written backward against autograd's own, both layouts, with an
    asymmetric upstream gradient (the formula must symmetrise it)."""
    features = torch.rand(2, 5, 4, 6, dtype=torch.float64)
    weights = torch.rand(2, 5, 5, dtype=torch.float64)
    for layout in (torch.contiguous_format, torch.channels_last):
        ours = features.clone(memory_format=layout).requires_grad_(True)
        (losses.gram_sum(ours) * weights).sum().backward()
        plain = features.clone().requires_grad_(True)
        flat = plain.reshape(2, 5, 24)
        ((flat @ flat.transpose(1, 2)) * weights).sum().backward()
        assert torch.allclose(ours.grad, plain.grad)
    assert torch.autograd.gradcheck(
        losses.gram_sum, (torch.rand(1, 3, 2, 3, dtype=torch.float64, requires_grad=True),)
    )
