"""Getting a run ready: resolve the settings once, check every input, load the backbone
and plan the scales and tiles.

Everything that can fail before optimising fails here, so front ends can report a
problem (bad input, missing weights, too large) before they start drawing progress. The
result, a `StylizeJob`, is what `stylize.run` needs and nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from nstcli.engine import sizing
from nstcli.engine.backbones import FeatureExtractor, load_backbone
from nstcli.engine.config import StylizeConfig
from nstcli.engine.device import pick_device, set_threads
from nstcli.engine.errors import InputError
from nstcli.engine.guide import Guide
from nstcli.engine.plan import RunPlan, plan_run


@dataclass
class LoadedBackbone:
    """A ready extractor and where its weights came from (for results and logs)."""

    extractor: FeatureExtractor
    weights_source: str


@dataclass(frozen=True)
class StylizeJob:
    """A checked run: inputs, resolved settings, backbone and plan."""

    content: Image.Image
    styles: tuple[Image.Image, ...]
    #: One per style (white = this style's region), or None for one blended style.
    masks: tuple[Image.Image, ...] | None
    #: Resolved: every backbone default filled in, so results record what really ran.
    config: StylizeConfig
    #: Style weights summing to 1 (equal unless `--style-blend`).
    blend: tuple[float, ...]
    backbone: LoadedBackbone
    plan: RunPlan
    device: torch.device
    #: Where to start and what to stay close to (a clip's warped previous frame), if any.
    guide: Guide | None = None


def load_backbone_for(config: StylizeConfig) -> LoadedBackbone:
    """Build the backbone a resolved `config` asks for, exposing exactly its layers.

    Front ends that run many jobs on one backbone (compare, the bot) load it once and
    pass it to `prepare`.
    """
    assert config.style_layers is not None and config.content_layers is not None, (
        "resolve the config first"
    )
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    extractor, resolved = load_backbone(
        config.backbone,
        layers,
        config.weights,
        config.offline,
        config.pretrained,
        pooling=config.pooling,
    )
    source = f"{resolved.path} ({resolved.source})" if resolved else "random init"
    return LoadedBackbone(extractor, source)


def prepare(
    content: Image.Image,
    styles: Image.Image | Sequence[Image.Image],
    config: StylizeConfig,
    masks: Sequence[Image.Image] | None = None,
    backbone: LoadedBackbone | None = None,
    guide: Guide | None = None,
) -> StylizeJob:
    """Check and plan a run of `content` in the style of `styles` (one image or several).

    Several styles are blended (`config.style_blend`), or, with `masks` (one per style,
    white = this style, black = keep the content), each fills its own region. A `guide`
    replaces the first scale's start and feeds the `temporal` loss term.
    """
    config = config.resolved()
    device = pick_device(config.device)  # an absent --device fails before anything else
    styles = (styles,) if isinstance(styles, Image.Image) else tuple(styles)
    blend = checked_blend(styles, masks, config)
    # Seeded before the backbone is built: random-init weights follow --seed too.
    set_threads(config.threads)
    torch.manual_seed(config.seed)
    backbone = backbone or load_backbone_for(config)
    plan = plan_run(content, config, backbone.extractor)
    masks = tuple(masks) if masks is not None else None
    return StylizeJob(content, styles, masks, config, blend, backbone, plan, device, guide)


def checked_blend(
    styles: Sequence[Image.Image], masks: Sequence[Image.Image] | None, config: StylizeConfig
) -> tuple[float, ...]:
    """The style weights, normalised to sum 1, once the style images and masks are checked
    (a refusal is an `InputError`)."""
    if not styles:
        raise InputError("at least one style image is needed")
    for number, style in enumerate(styles, start=1):
        name = f"style image {number}" if len(styles) > 1 else "the style image"
        sizing.check_picture(name, *style.size, role="style")
    weights = config.style_blend or (1.0,) * len(styles)
    if len(weights) != len(styles):
        raise InputError(
            f"--style-blend has {len(weights)} weights but {len(styles)} style image(s) were given"
        )
    if masks is not None:
        if len(masks) != len(styles):
            raise InputError(
                f"{len(masks)} mask(s) for {len(styles)} style image(s): give one --mask per style"
            )
        if config.style_blend is not None:
            raise InputError(
                "--style-blend cannot be combined with --mask (each style has its region)"
            )
    total = sum(weights)
    return tuple(weight / total for weight in weights)
