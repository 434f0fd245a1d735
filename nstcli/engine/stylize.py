"""The optimisation loop of Gatys-style neural style transfer.

Reads top to bottom: resolve settings → build the frozen backbone → plan the scales
(coarse to fine) → at each scale compute the fixed targets once (content features, blended
style Gram matrices) and optimise the pixels with L-BFGS or Adam, guarded against loss
spikes → upsample as the next scale's start → return a `StylizeResult`.

Progress is reported through callbacks, so the CLI can draw a Rich bar and the bot can edit
a message from the same events; the engine knows neither.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as F

from nstcli.engine import color, losses
from nstcli.engine.backbones import FeatureExtractor, load_backbone
from nstcli.engine.config import StylizeConfig, scale_plan
from nstcli.engine.device import bf16_native, pick_device, set_threads
from nstcli.engine.errors import Cancelled, InputError, ResourceError
from nstcli.engine.images import image_to_tensor, resize_longer_side, tensor_to_image
from nstcli.engine.memory import estimate
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.engine.schedule import SpikeGuard

#: Called after every step with the step's record and the total number of steps.
ProgressCallback = Callable[[StepRecord, int], None]
#: Called every `snapshot_every` steps (and at the end of each scale) with the current image.
SnapshotCallback = Callable[[StepRecord, Image.Image], None]


@dataclass
class Targets:
    """What the output is pulled towards at one scale; computed once, never recomputed."""

    content: dict[str, torch.Tensor]
    style_grams: dict[str, torch.Tensor]


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
        config.backbone,
        layers,
        config.weights_file,
        config.offline,
        config.pretrained,
        pooling=config.pooling,
    )
    source = f"{resolved.path} ({resolved.source})" if resolved else "random init"
    return LoadedBackbone(extractor, source)


class _Runner:
    """Runs the backbone on one device, in one precision and memory layout."""

    def __init__(self, extractor: FeatureExtractor, device: torch.device, bf16: bool):
        self.device = device
        self.bf16 = bf16
        # channels_last lets oneDNN/cuDNN pick their fastest convolution kernels; on a CPU
        # with native bf16 it is what makes the bf16 path fast at all.
        self.channels_last = device.type in ("cpu", "cuda")
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.extractor = extractor.to(device=device, memory_format=memory_format)

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            features = self.extractor(image)
        return {name: value.float() for name, value in features.items()}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


def _for_style(features: torch.Tensor, smoothing: bool) -> torch.Tensor:
    return losses.smooth_activations(features) if smoothing else features


def blended_style_grams(
    runner: _Runner,
    styles: Sequence[torch.Tensor],
    blend: Sequence[float],
    layers: Sequence[str],
    smoothing: bool = False,
) -> dict[str, torch.Tensor]:
    """Weighted sum of each style image's Gram matrices (weights already normalised)."""
    grams: dict[str, torch.Tensor] = {}
    for style, weight in zip(styles, blend, strict=True):
        if weight == 0:
            continue
        features = runner.features(style)
        for name in layers:
            gram = weight * losses.gram_matrix(_for_style(features[name], smoothing))
            grams[name] = grams[name] + gram if name in grams else gram
    return grams


def compute_targets(
    runner: _Runner,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    blend: Sequence[float],
    config: StylizeConfig,
) -> Targets:
    """Content features and blended style Gram matrices, without building any graph."""
    with torch.inference_mode():
        content_features = runner.features(content)
        content_targets = {name: content_features[name] for name in config.content_layers}
        grams = blended_style_grams(
            runner, styles, blend, config.style_layers, bool(config.smoothing)
        )
    # Inference tensors cannot be saved for backward; plain copies can.
    return Targets(
        content={name: tensor.clone() for name, tensor in content_targets.items()},
        style_grams={name: tensor.clone() for name, tensor in grams.items()},
    )


def evaluate(
    runner: _Runner, image: torch.Tensor, targets: Targets, config: StylizeConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total loss (with graph) and its parts as floats."""
    features = runner.features(image)
    content = sum(losses.content_loss(features[n], t) for n, t in targets.content.items())
    smoothing = bool(config.smoothing)
    style = sum(
        losses.style_loss(_for_style(features[n], smoothing), g)
        for n, g in targets.style_grams.items()
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


def normalised_blend(config: StylizeConfig, count: int) -> tuple[float, ...]:
    weights = config.style_blend or (1.0,) * count
    if len(weights) != count:
        raise InputError(
            f"--style-blend has {len(weights)} weights but {count} style image(s) were given"
        )
    total = sum(weights)
    return tuple(weight / total for weight in weights)


def use_bf16(config: StylizeConfig, device: torch.device) -> bool:
    if config.precision == "bf16":
        return True
    return config.precision == "auto" and bf16_native(device)


def check_memory(extractor: FeatureExtractor, content: Image.Image, config: StylizeConfig) -> None:
    """Refuse, with an estimate, a size whose optimisation would not fit in memory."""
    width, height = resize_longer_side(content, config.size).size
    needed = estimate(extractor, width, height)
    if not needed.fits:
        raise ResourceError(
            f"--size {config.size} ({width}×{height}) would not fit in memory: "
            f"{needed.describe()}; use a smaller --size"
        )


def preflight(
    content: Image.Image,
    styles: Sequence[Image.Image],
    config: StylizeConfig,
    backbone: LoadedBackbone,
) -> tuple[float, ...]:
    """Every check that can fail before optimising; returns the normalised style blend.

    Front ends call it before drawing progress; `stylize` calls it again (it is cheap).
    """
    if not styles:
        raise InputError("at least one style image is needed")
    blend = normalised_blend(config, len(styles))
    if pick_device(config.device).type == "cpu":
        check_memory(backbone.extractor, content, config)
    return blend


def stylize(
    content: Image.Image,
    style: Image.Image | Sequence[Image.Image],
    config: StylizeConfig,
    on_step: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    backbone: LoadedBackbone | None = None,
    on_snapshot: SnapshotCallback | None = None,
    snapshot_every: int = 0,
) -> StylizeResult:
    """Render `content` in the style of `style` (one image or several, blended)."""
    config = config.resolved()
    styles = [style] if isinstance(style, Image.Image) else list(style)
    device = pick_device(config.device)
    set_threads(config.threads)
    torch.manual_seed(config.seed)
    backbone = backbone or load_for(config)
    blend = preflight(content, styles, config, backbone)
    runner = _Runner(backbone.extractor, device, use_bf16(config, device))
    if config.preserve_color:
        styles = [color.luminance_only_style(image, content) for image in styles]

    plan = scale_plan(config)
    total_steps = sum(steps for _, steps in plan)
    history: list[StepRecord] = []
    spikes = 0
    image: torch.Tensor | None = None
    started = time.perf_counter()

    for size, steps in plan:
        content_tensor = image_to_tensor(resize_longer_side(content, size)).to(device)
        style_size = max(16, round(size * config.style_scale))
        style_tensors = [
            image_to_tensor(resize_longer_side(image, style_size)).to(device) for image in styles
        ]
        targets = compute_targets(runner, content_tensor, style_tensors, blend, config)
        if image is None:
            start = initial_image(content_tensor, config)
        else:  # coarse result, upsampled, is this scale's starting point
            start = F.interpolate(
                image.detach(), size=content_tensor.shape[-2:], mode="bicubic", align_corners=False
            ).clamp(0, 1)
        image = start.contiguous().requires_grad_(True)
        for record in _optimise(runner, image, targets, config, steps, size, len(history), started):
            if should_stop is not None and should_stop():
                raise Cancelled("stopped on request")
            history.append(record)
            spikes += record.spike
            if on_step is not None:
                on_step(record, total_steps)
            if on_snapshot is not None and snapshot_every and record.step % snapshot_every == 0:
                on_snapshot(record, tensor_to_image(image))

    assert image is not None
    result_image = tensor_to_image(image)
    pixels = image.detach()[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
    if config.preserve_color:
        result_image = color.recombine_chroma(result_image, content)
        pixels = None  # recombined in 8-bit YCbCr; the 8-bit image is the result
    return StylizeResult(
        image=result_image,
        history=history,
        wall_time=time.perf_counter() - started,
        config=config,
        device=str(device),
        weights_source=backbone.weights_source,
        spikes=spikes,
        precision="bf16" if runner.bf16 else "fp32",
        scales=[size for size, _ in plan],
        pixels=pixels,
    )


def _optimise(
    runner: _Runner,
    image: torch.Tensor,
    targets: Targets,
    config: StylizeConfig,
    steps: int,
    size: int,
    steps_before: int,
    started: float,
) -> Iterator[StepRecord]:
    """Optimise `image` in place for `steps` steps at one scale, yielding each step's record."""
    optimizer = make_optimizer(image, config)
    guard = SpikeGuard(optimizer, config.spike_ratio, config.spike_decay)
    # What the latest loss evaluation saw: the closure runs inside optimizer.step, before
    # the pixels move, so the loss belongs to these pixels, not to the updated ones.
    evaluated: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, parts = evaluate(runner, image, targets, config)
        total.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([image], config.grad_clip)
        evaluated["parts"] = parts
        evaluated["pixels"] = image.detach().clone()
        return total

    for step in range(1, steps + 1):
        lr = guard.lr
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0.0, 1.0)
        parts = evaluated["parts"]
        spike = guard.observe(parts["total"], evaluated["pixels"], image)
        yield StepRecord(
            step=steps_before + step,
            content=parts["content"],
            style=parts["style"],
            tv=parts["tv"],
            total=parts["total"],
            lr=lr,
            elapsed=time.perf_counter() - started,
            spike=spike,
            size=size,
        )
