"""Backbone registry: name → `BackboneSpec`, and one function to build a frozen extractor."""

from __future__ import annotations

from collections.abc import Sequence

from nstcli.engine.backbones import lite, resnet, vgg
from nstcli.engine.backbones.base import BackboneSpec, FeatureExtractor, StyleDefaults
from nstcli.engine.errors import InputError, WeightsError
from nstcli.engine.weights import ResolvedWeights, resolve

BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec for spec in (vgg.SPEC, resnet.SPEC, lite.SPEC)
}

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "FeatureExtractor",
    "StyleDefaults",
    "get_spec",
    "load_backbone",
]


def get_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise InputError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}") from None


def load_backbone(
    name: str,
    layers: Sequence[str],
    weights_file: str | None = None,
    offline: bool = False,
    pretrained: bool = True,
    progress: bool = True,
    pooling: str = "max",
) -> tuple[FeatureExtractor, ResolvedWeights | None]:
    """Build backbone `name` exposing `layers`, with resolved weights (or random init)."""
    spec = get_spec(name)
    resolved = None
    if pretrained:
        try:
            resolved = resolve(spec.weights, weights_file, offline, progress)
        except WeightsError as error:
            if spec.weights.packaged is None and weights_file is None:
                raise WeightsError(
                    f"{error} Or use --backbone lite, which works offline."
                ) from None
            raise
    extractor = spec.build(layers, resolved.path if resolved else None, pooling)
    return extractor, resolved
