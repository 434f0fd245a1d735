"""Backbone registry: name → `BackboneSpec`, and one function to build a frozen extractor.

The backbones are the rows of `backbone_facts.BACKBONE_FACTS`, in its order; each one's
`SPEC` lives in the module of its name here (`vgg`, `resnet`, `lite`), imported below.
"""

from __future__ import annotations

from collections.abc import Sequence

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.backbones import lite, resnet, vgg
from nstcli.engine.backbones.base import BackboneSpec, FeatureExtractor, StyleDefaults
from nstcli.engine.errors import InputError, WeightsError
from nstcli.engine.weights import ResolvedWeights, WeightSpec, resolve

_SPECS = {spec.name: spec for spec in (vgg.SPEC, resnet.SPEC, lite.SPEC)}
#: In the facts table's order; a row without a module fails here, at import.
BACKBONES: dict[str, BackboneSpec] = {name: _SPECS[name] for name in BACKBONE_FACTS}

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "FeatureExtractor",
    "StyleDefaults",
    "get_spec",
    "load_backbone",
    "split_weights",
]


def get_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise InputError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}") from None


def load_backbone(
    name: str,
    layers: Sequence[str],
    weights: str | None = None,
    offline: bool = False,
    pretrained: bool = True,
    progress: bool = True,
    pooling: str = "max",
) -> tuple[FeatureExtractor, ResolvedWeights | None]:
    """Build backbone `name` exposing `layers`, with resolved weights (or random init).

    `weights` names one of the backbone's weight sets (None: its default) or a file.
    """
    spec = get_spec(name)
    resolved = None
    if pretrained:
        weight_set, weights_file = split_weights(spec, weights)
        try:
            resolved = resolve(weight_set, weights_file, offline, progress)
        except WeightsError as error:
            if weight_set.packaged is None and weights_file is None:
                offline_sets = [n for n, s in spec.weight_sets.items() if s.packaged is not None]
                hint = f"--weights {offline_sets[0]}" if offline_sets else _offline_backbones()
                raise WeightsError(f"{error} Or use {hint}.") from None
            raise
    extractor = spec.build(layers, resolved.path if resolved else None, pooling)
    return extractor, resolved


def _offline_backbones() -> str:
    """'--backbone vgg or lite, which work offline': those whose default weights ship."""
    names = [name for name, spec in BACKBONES.items() if spec.weights.packaged is not None]
    verb = "works" if len(names) == 1 else "work"
    return f"--backbone {' or '.join(names)}, which {verb} offline"


def split_weights(spec: BackboneSpec, weights: str | None) -> tuple[WeightSpec, str | None]:
    """`--weights` value → (the weight set it names or the default, the file it names)."""
    if weights is None or weights in spec.weight_sets:
        return spec.weight_set(weights), None
    return spec.weights, weights
