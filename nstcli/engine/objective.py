"""The objective: a weighted sum of named loss terms.

As crowsonkb's `SumLoss` in style-transfer-pytorch
(https://github.com/crowsonkb/style-transfer-pytorch), but as data.

Each term is one function of (features, image, targets) and one weight field of
`StylizeConfig`; a new term is one entry in `TERMS`. Every step reports each term's
weighted value by name (`StepRecord.losses`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from nstcli.engine import losses
from nstcli.engine.config import StylizeConfig
from nstcli.engine.targets import Targets, for_style

Features = dict[str, torch.Tensor]


def content_term(features: Features, image: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Mean over the content layers of the feature-map distance to the photo's."""
    total = sum(losses.content_loss(features[n], t) for n, t in targets.content.items())
    return total / len(targets.content)  # type: ignore[return-value]


def style_term(features: Features, image: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Sum over regions and style layers of the Gram distance to the painting's."""
    total = image.new_zeros(())
    for region in targets.regions:
        for name, target in region.grams.items():
            feature = for_style(features[name], targets.smoothing)
            if region.mask is None:
                total = total + losses.style_loss(feature, target)
            else:
                total = total + losses.masked_style_loss(feature, target, region.mask)
    return total


def tv_term(features: Features, image: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Smoothness of the whole image (against high-frequency noise)."""
    return losses.total_variation(image)


def chroma_tv_term(features: Features, image: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Smoothness of the colour only (against colour confetti; luminance stays free)."""
    return losses.chroma_total_variation(image)


def temporal_term(features: Features, image: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Closeness to the guide (a clip's previous result, warped) where it is trusted."""
    anchor = targets.anchor
    if anchor is None:
        return image.new_zeros(())
    return losses.anchored_difference(image, anchor.image, anchor.weights)


@dataclass(frozen=True)
class LossTerm:
    #: Key in `StepRecord.losses`.
    name: str
    #: The `StylizeConfig` field holding this term's weight.
    weight_field: str
    compute: Callable[[Features, torch.Tensor, Targets], torch.Tensor]


TERMS: tuple[LossTerm, ...] = (
    LossTerm("content", "content_weight", content_term),
    LossTerm("style", "style_weight", style_term),
    LossTerm("tv", "tv_weight", tv_term),
    LossTerm("chroma_tv", "chroma_tv_weight", chroma_tv_term),
    LossTerm("temporal", "temporal_weight", temporal_term),
)

WeightedTerms = list[tuple[LossTerm, float]]


def weighted_terms(config: StylizeConfig) -> WeightedTerms:
    """Every term with its weight from a resolved config."""
    return [(term, float(getattr(config, term.weight_field))) for term in TERMS]


def evaluate(
    features: Features, image: torch.Tensor, targets: Targets, terms: WeightedTerms
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total loss (with graph) and each weighted term as a float.

    A term at weight 0 is not computed; it reports 0.
    """
    zero = image.new_zeros(())
    parts = {
        term.name: weight * term.compute(features, image, targets) if weight else zero
        for term, weight in terms
    }
    total = sum(parts.values(), zero)
    return total, {name: float(value.detach()) for name, value in parts.items()}
