"""The optimisation loop of Gatys-style neural style transfer.

Reads top to bottom: resolve settings → build the frozen backbone → compute the fixed
targets once (content features, style Gram matrices) → optimise the pixels with L-BFGS or
Adam, guarded against loss spikes → return a `StylizeResult`. Progress is reported through
a callback so the CLI can draw a Rich bar and the bot can edit a message from the same
events; the engine knows neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from nstcli.engine import losses
from nstcli.engine.backbones import FeatureExtractor, load_backbone
from nstcli.engine.config import StylizeConfig
from nstcli.engine.device import pick_device, set_threads
from nstcli.engine.errors import Cancelled
from nstcli.engine.images import image_to_tensor, resize_longer_side, tensor_to_image
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.engine.schedule import SpikeGuard

#: Called after every step with the step's record and the total number of steps.
ProgressCallback = Callable[[StepRecord, int], None]


@dataclass
class Targets:
    """What the output is pulled towards; computed once per run, never recomputed."""

    content: dict[str, torch.Tensor]
    style_grams: dict[str, torch.Tensor]


def compute_targets(
    extractor: FeatureExtractor,
    content: torch.Tensor,
    style: torch.Tensor,
    config: StylizeConfig,
) -> Targets:
    """Content features and style Gram matrices, without building any autograd graph."""
    with torch.inference_mode():
        content_features = extractor(content)
        style_features = extractor(style)
        content_targets = {name: content_features[name] for name in config.content_layers}
        grams = {name: losses.gram_matrix(style_features[name]) for name in config.style_layers}
    # Inference tensors cannot be saved for backward; plain copies can.
    return Targets(
        content={name: tensor.clone() for name, tensor in content_targets.items()},
        style_grams={name: tensor.clone() for name, tensor in grams.items()},
    )


def evaluate(
    extractor: FeatureExtractor,
    image: torch.Tensor,
    targets: Targets,
    config: StylizeConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total loss (with graph) and its parts as floats."""
    features = extractor(image)
    content: torch.Tensor = sum(
        losses.content_loss(features[n], t) for n, t in targets.content.items()
    )
    style: torch.Tensor = sum(
        losses.style_loss(features[n], g) for n, g in targets.style_grams.items()
    )
    content = config.content_weight * content / len(targets.content)
    style = config.style_weight * style
    tv = (
        config.tv_weight * losses.total_variation(image)
        if config.tv_weight
        else image.new_zeros(())
    )
    total = content + style + tv
    parts = {"content": content, "style": style, "tv": tv, "total": total}
    return total, {name: float(value.detach()) for name, value in parts.items()}


def initial_image(content: torch.Tensor, config: StylizeConfig) -> torch.Tensor:
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)
        noise = torch.rand(content.shape, generator=generator)
        return noise.to(content.device)
    return content.clone()


def make_optimizer(image: torch.Tensor, config: StylizeConfig) -> torch.optim.Optimizer:
    if config.optimizer == "lbfgs":
        # One iteration per step, so progress, spikes and cancellation act per evaluation.
        return torch.optim.LBFGS([image], lr=config.lr, max_iter=1, history_size=50)
    return torch.optim.Adam([image], lr=config.lr)


@dataclass
class LoadedBackbone:
    """A ready extractor and where its weights came from (for results and logs)."""

    extractor: FeatureExtractor
    weights_source: str


def load_for(config: StylizeConfig) -> LoadedBackbone:
    """Build the backbone `config` asks for, exposing exactly the layers it uses.

    Separate from `stylize` so front ends can resolve (and maybe download) weights and
    report problems before they start drawing progress for the optimisation itself.
    """
    config = config.resolved()
    layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
    extractor, resolved = load_backbone(
        config.backbone, layers, config.weights_file, config.offline, config.pretrained
    )
    source = f"{resolved.path} ({resolved.source})" if resolved else "random init"
    return LoadedBackbone(extractor, source)


def stylize(
    content: Image.Image,
    style: Image.Image,
    config: StylizeConfig,
    on_step: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    backbone: LoadedBackbone | None = None,
) -> StylizeResult:
    """Render `content` in the style of `style`; see the module docstring for the stages."""
    config = config.resolved()
    device = pick_device(config.device)
    set_threads(config.threads)
    torch.manual_seed(config.seed)

    backbone = backbone or load_for(config)
    extractor = backbone.extractor.to(device)

    content_tensor = image_to_tensor(resize_longer_side(content, config.size)).to(device)
    style_tensor = image_to_tensor(resize_longer_side(style, config.size)).to(device)
    targets = compute_targets(extractor, content_tensor, style_tensor, config)

    image = initial_image(content_tensor, config).requires_grad_(True)
    optimizer = make_optimizer(image, config)
    guard = SpikeGuard(optimizer, config.spike_ratio, config.spike_decay)
    history: list[StepRecord] = []
    started = time.perf_counter()

    # What the latest loss evaluation saw: the closure runs inside optimizer.step, before
    # the pixels move, so the loss belongs to these pixels, not to the updated ones.
    evaluated: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, parts = evaluate(extractor, image, targets, config)
        total.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([image], config.grad_clip)
        evaluated["parts"] = parts
        evaluated["pixels"] = image.detach().clone()
        return total

    for step in range(1, config.steps + 1):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped on request")
        lr = guard.lr
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        parts = evaluated["parts"]
        spike = guard.observe(parts["total"], evaluated["pixels"], image)
        record = StepRecord(
            step=step,
            content=parts["content"],
            style=parts["style"],
            tv=parts["tv"],
            total=parts["total"],
            lr=lr,
            elapsed=time.perf_counter() - started,
            spike=spike,
        )
        history.append(record)
        if on_step is not None:
            on_step(record, config.steps)

    wall_time = time.perf_counter() - started
    return StylizeResult(
        image=tensor_to_image(image),
        history=history,
        wall_time=wall_time,
        config=config,
        device=str(device),
        weights_source=backbone.weights_source,
        spikes=guard.spikes,
    )
