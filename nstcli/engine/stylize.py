"""The optimisation loop of Gatys-style neural style transfer.

Reads top to bottom: resolve settings → build the frozen backbone → plan the run (scales,
and tiles when the full size would not fit in memory) → at each scale compute the fixed
targets once (content features, style Gram matrices per region) and optimise the pixels with
L-BFGS or Adam, guarded against loss spikes → upsample as the next scale's start → refine
in overlapping tiles if planned → return a `StylizeResult`.

Progress is reported through callbacks, so the CLI can draw Rich bars and the bot can edit a
message from the same events; the engine knows neither.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from nstcli.engine import color, losses, memory, sizing
from nstcli.engine.backbones import FeatureExtractor, load_backbone
from nstcli.engine.config import StylizeConfig, scale_plan
from nstcli.engine.device import bf16_native, pick_device, set_threads
from nstcli.engine.errors import Cancelled, DivergedError, InputError, ResourceError
from nstcli.engine.images import image_to_tensor, resize_longer_side, tensor_to_image
from nstcli.engine.parameterization import ImageParameters, parameterize
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.engine.schedule import SpikeGuard
from nstcli.engine.tiling import MIN_TILE, TILE_MULTIPLE, Box, Canvas, RunPlan, tile_boxes

#: Called after every step with the step's record and the total number of steps.
ProgressCallback = Callable[[StepRecord, int], None]
#: Called every `snapshot_every` steps with the current image.
SnapshotCallback = Callable[[StepRecord, Image.Image], None]

#: Non-finite losses in a row (each rolled back by the spike guard) after which a run stops.
MAX_NONFINITE_IN_A_ROW = 3


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
        config.weights,
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


@dataclass
class StyleRegion:
    """Style Gram targets for one region: the whole image (mask None) or a soft mask."""

    grams: dict[str, torch.Tensor]
    #: (1, 1, H, W) in [0, 1] at the resolution of the image being optimised.
    mask: torch.Tensor | None = None


@dataclass
class Targets:
    """What the output is pulled towards; computed once per scale or tile, never again."""

    content: dict[str, torch.Tensor]
    regions: list[StyleRegion]


def _for_style(features: torch.Tensor, smoothing: bool) -> torch.Tensor:
    return losses.smooth_activations(features) if smoothing else features


def style_grams(
    runner: _Runner,
    style: torch.Tensor,
    layers: Sequence[str],
    smoothing: bool,
    tile: int | None = None,
) -> dict[str, torch.Tensor]:
    """Gram matrices of one style image; in tiles when it is larger than `tile`².

    Grams are sums over positions, so they can be accumulated tile by tile: each tile is
    extracted with a margin for context, and only the feature positions of its core count.
    """
    height, width = style.shape[-2:]
    if tile is None or height * width <= tile * tile:
        with torch.inference_mode():
            features = runner.features(style)
            grams = {n: losses.gram_matrix(_for_style(features[n], smoothing)) for n in layers}
        return _trackable(grams)
    margin = TILE_MULTIPLE * 2
    core = max(TILE_MULTIPLE, tile - 2 * margin)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = dict.fromkeys(layers, 0)
    with torch.inference_mode():
        for top in range(0, height, core):
            for left in range(0, width, core):
                right, bottom = min(width, left + core + margin), min(height, top + core + margin)
                box = Box(max(0, left - margin), max(0, top - margin), right, bottom)
                features = runner.features(style[..., box.top : box.bottom, box.left : box.right])
                for name in layers:
                    feature = _for_style(features[name], smoothing)
                    scale_y = feature.shape[-2] / box.height
                    scale_x = feature.shape[-1] / box.width
                    y0, x0 = round((top - box.top) * scale_y), round((left - box.left) * scale_x)
                    y1 = round((min(height, top + core) - box.top) * scale_y)
                    x1 = round((min(width, left + core) - box.left) * scale_x)
                    part = feature[..., y0:y1, x0:x1]
                    flat = part.reshape(part.shape[0], part.shape[1], -1)
                    product = flat @ flat.transpose(1, 2)
                    sums[name] = sums[name] + product if name in sums else product
                    counts[name] += flat.shape[-1]
    return _trackable({n: sums[n] / (sums[n].shape[-1] * max(1, counts[n])) for n in layers})


def content_targets(runner: _Runner, content: torch.Tensor, layers: Sequence[str]) -> dict:
    with torch.inference_mode():
        features = runner.features(content)
    return _trackable({name: features[name] for name in layers})


def _trackable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies made outside inference mode: inference tensors cannot be saved for backward."""
    return {name: tensor.clone() for name, tensor in tensors.items()}


def evaluate(
    runner: _Runner, image: torch.Tensor, targets: Targets, config: StylizeConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total loss (with graph) and its parts as floats."""
    features = runner.features(image)
    content = sum(losses.content_loss(features[n], t) for n, t in targets.content.items())
    smoothing = bool(config.smoothing)
    style = image.new_zeros(())
    for region in targets.regions:
        for name, target in region.grams.items():
            feature = _for_style(features[name], smoothing)
            if region.mask is None:
                style = style + losses.style_loss(feature, target)
            else:
                style = style + losses.masked_style_loss(feature, target, region.mask)
    content = config.content_weight * content / len(targets.content)
    style = config.style_weight * style
    tv = image.new_zeros(())
    if config.tv_weight:
        tv = tv + config.tv_weight * losses.total_variation(image)
    if config.chroma_tv_weight:
        tv = tv + config.chroma_tv_weight * losses.chroma_total_variation(image)
    total = content + style + tv
    parts = {"content": content, "style": style, "tv": tv, "total": total}
    return total, {name: float(value.detach()) for name, value in parts.items()}


def initial_image(start: torch.Tensor, config: StylizeConfig) -> torch.Tensor:
    """The first scale's start: `start` (the photo, maybe recoloured), or noise."""
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)
        return torch.rand(start.shape, generator=generator)
    return start.clone()


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
    return config.precision == "auto" and bool(config.bf16_auto) and bf16_native(device)


def output_size(content: Image.Image, size: int) -> tuple[int, int]:
    """The result's size, by arithmetic: nothing full-size is allocated to learn it."""
    return sizing.fit_longer_side(*content.size, size)


def plan_run(content: Image.Image, config: StylizeConfig, extractor: FeatureExtractor) -> RunPlan:
    """Scales, and tiles when the whole image would not fit the memory budget.

    Refuses (ResourceError) only when not even a minimal tile fits.
    """
    config = config.resolved()
    width, height = sizing.check_request(content.size, config.size, config.max_memory)
    budget = sizing.memory_budget(config.max_memory)
    cost = memory.model_for(extractor)
    whole = cost.peak_bytes(width, height)

    def fits(w: int, h: int) -> bool:
        return budget is None or cost.peak_bytes(w, h) <= budget

    if config.tile is None and fits(width, height):
        scales = scale_plan(config)
        sizing.check_scales("content", *content.size, [size for size, _ in scales])
        return RunPlan(width, height, scales, budget, whole)
    if not fits(MIN_TILE, MIN_TILE):
        needed = cost.peak_bytes(MIN_TILE, MIN_TILE)
        raise ResourceError(
            f"not even a {MIN_TILE}px tile fits the memory budget of {budget / 2**30:.1f} GiB "
            f"(needs about {needed / 2**30:.1f} GiB); raise --max-memory"
        )
    tile = config.tile or _largest_square(fits, max(width, height))
    tile = max(MIN_TILE, min(tile, max(width, height)))
    base = _largest_long_side(content, fits, config.size // 2 if config.tile else config.size)
    overlap = min(config.tile_overlap, tile // 4)
    tiles = tile_boxes(width, height, tile, overlap)
    base_steps, tile_steps = split_steps(config.steps, len(tiles), config.tile_steps)
    base_config = dataclasses.replace(config, size=base, steps=base_steps)
    scales = scale_plan(base_config)
    sizing.check_scales("content", *content.size, [size for size, _ in scales])
    return RunPlan(
        width, height, scales, budget, whole,
        tiles=tiles, tile_size=tile, overlap=overlap, tile_steps=tile_steps,
        steps_budget=config.steps,
    )  # fmt: skip


def split_steps(steps: int, tiles: int, most_per_tile: int) -> tuple[int, int]:
    """(whole-image steps, steps per tile) of a tiled run, within the `--steps` budget.

    `--steps` is the user's budget for the whole run: at least a third goes to the whole
    image (where the style's structure forms), the tiles share the rest, up to
    `most_per_tile` each. Only when the budget is smaller than one step per tile plus one
    does the run take more (one per tile), and the plan line says so.
    """
    per_tile = max(1, min(most_per_tile, (steps - steps // 3) // max(1, tiles)))
    return max(1, steps - per_tile * tiles), per_tile


def _largest_square(fits: Callable[[int, int], bool], limit: int) -> int:
    tile = MIN_TILE
    while tile + TILE_MULTIPLE <= min(limit, 2048) and fits(
        tile + TILE_MULTIPLE, tile + TILE_MULTIPLE
    ):
        tile += TILE_MULTIPLE
    return tile


def _largest_long_side(content: Image.Image, fits: Callable[[int, int], bool], limit: int) -> int:
    side = max(16, limit)
    while side > MIN_TILE and not fits(*output_size(content, side)):
        side = int(side * 0.9)
    return side


def preflight(
    content: Image.Image,
    styles: Sequence[Image.Image],
    config: StylizeConfig,
    backbone: LoadedBackbone,
    masks: Sequence[Image.Image] | None = None,
) -> RunPlan:
    """Every check that can fail before optimising; returns the plan to print and run.

    Front ends call it before drawing progress; `stylize` calls it again (it is cheap).
    """
    if not styles:
        raise InputError("at least one style image is needed")
    for number, style in enumerate(styles, start=1):
        sizing.check_picture(f"style image {number}", *style.size)
    normalised_blend(config, len(styles))
    if masks is not None:
        if len(masks) != len(styles):
            raise InputError(
                f"{len(masks)} mask(s) for {len(styles)} style image(s): give one --mask per style"
            )
        if config.style_blend is not None:
            raise InputError(
                "--style-blend cannot be combined with --mask (each style has its region)"
            )
    return plan_run(content, config.resolved(), backbone.extractor)


def _mask_tensor(mask: Image.Image, width: int, height: int, device: torch.device) -> torch.Tensor:
    grey = mask.convert("L")
    if grey.size != (width, height):
        grey = grey.resize((width, height), Image.Resampling.BILINEAR)
    return image_to_tensor(grey.convert("RGB"))[:, :1].to(device)


def stylize(
    content: Image.Image,
    style: Image.Image | Sequence[Image.Image],
    config: StylizeConfig,
    on_step: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    backbone: LoadedBackbone | None = None,
    on_snapshot: SnapshotCallback | None = None,
    snapshot_every: int = 0,
    masks: Sequence[Image.Image] | None = None,
    plan: RunPlan | None = None,
) -> StylizeResult:
    """Render `content` in the style of `style` (one image or several).

    Several styles are blended (`config.style_blend`), or, with `masks` (one per style,
    white = this style, black = keep the content), each fills its own region.
    """
    config = config.resolved()
    styles = [style] if isinstance(style, Image.Image) else list(style)
    device = pick_device(config.device)
    set_threads(config.threads)
    torch.manual_seed(config.seed)
    backbone = backbone or load_for(config)
    plan = plan or preflight(content, styles, config, backbone, masks)
    runner = _Runner(backbone.extractor, device, use_bf16(config, device))
    if config.preserve_color:
        styles = [color.luminance_only_style(image, content) for image in styles]
    blend = normalised_blend(config, len(styles))

    history: list[StepRecord] = []
    started = time.perf_counter()
    work_fractions = plan.work_fractions()

    def report(record: StepRecord, current: ImageParameters) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("stopped on request")
        done = work_fractions[min(record.step, len(work_fractions)) - 1]
        record = dataclasses.replace(record, work_done=done)
        history.append(record)
        if on_step is not None:
            on_step(record, plan.total_steps)
        if on_snapshot is not None and snapshot_every and record.step % snapshot_every == 0:
            on_snapshot(record, tensor_to_image(current.image().detach()))

    def regions_at(
        width: int, height: int, crop: Box | None, grams: list[dict]
    ) -> list[StyleRegion]:
        if masks is None:
            merged: dict[str, torch.Tensor] = {}
            for weight, style_gram in zip(blend, grams, strict=True):
                for name, gram in style_gram.items():
                    merged[name] = merged[name] + weight * gram if name in merged else weight * gram
            return [StyleRegion(merged)]
        regions = []
        for mask, style_gram in zip(masks, grams, strict=True):
            if crop is None:
                tensor = _mask_tensor(mask, width, height, device)
            else:
                full = _mask_tensor(mask, plan.width, plan.height, device)
                tensor = full[..., crop.top : crop.bottom, crop.left : crop.right]
            regions.append(StyleRegion(style_gram, tensor))
        return regions

    image: torch.Tensor | None = None
    for size, steps in plan.scales:
        content_tensor = image_to_tensor(resize_longer_side(content, size)).to(device)
        height, width = content_tensor.shape[-2:]
        style_size = max(16, round(size * config.style_scale))
        grams = [
            style_grams(runner, image_to_tensor(resize_longer_side(s, style_size)).to(device),
                        config.style_layers, bool(config.smoothing))
            for s in styles
        ]  # fmt: skip
        targets = Targets(
            content_targets(runner, content_tensor, config.content_layers),
            regions_at(width, height, None, grams),
        )
        if image is None:  # the photo, the photo in the painting's colours, or noise
            start = resize_longer_side(content, size)
            if config.init == "palette" and not config.preserve_color:
                start = _palette_start(start, styles, blend, masks)
            image = initial_image(image_to_tensor(start), config)
        variables = parameterize(_start_from(image, content_tensor), str(config.parameterization))
        for record in _optimise(runner, variables, targets, config, steps, len(history), started,
                                stage=f"{size}px"):  # fmt: skip
            report(record, variables)
        image = variables.image().detach()

    assert image is not None
    if plan.tiled:
        image = _refine_tiles(runner, image, content, styles, config, plan, regions_at,
                              report, len(history), started)  # fmt: skip

    result_image = tensor_to_image(image)
    pixels = image.detach()[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
    if masks is not None:
        result_image, pixels = _keep_content_outside(result_image, content, masks)
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
        spikes=sum(record.spike for record in history),
        precision="bf16" if runner.bf16 else "fp32",
        scales=[size for size, _ in plan.scales],
        pixels=pixels,
        tiles=len(plan.tiles),
    )


def _start_from(previous: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """`previous` (the last scale's result, or the first start) at `content`'s size."""
    if previous.shape[-2:] != content.shape[-2:]:
        previous = F.interpolate(
            previous.detach(), size=content.shape[-2:], mode="bicubic", align_corners=False
        ).clamp(0, 1)
    return previous.to(content.device).contiguous()


def _refine_tiles(
    runner: _Runner,
    base: torch.Tensor,
    content: Image.Image,
    styles: Sequence[Image.Image],
    config: StylizeConfig,
    plan: RunPlan,
    regions_at: Callable[..., list[StyleRegion]],
    report: Callable[[StepRecord, ImageParameters], None],
    steps_before: int,
    started: float,
) -> torch.Tensor:
    """Refine the upsampled whole-image result at full size, tile by tile, and blend."""
    device = runner.device
    full_content = image_to_tensor(
        content.resize((plan.width, plan.height), Image.Resampling.LANCZOS)
    )
    start = F.interpolate(base.detach().cpu(), size=(plan.height, plan.width), mode="bicubic",
                          align_corners=False).clamp(0, 1)  # fmt: skip
    style_size = max(16, round(max(plan.width, plan.height) * config.style_scale))
    grams = [
        style_grams(runner, image_to_tensor(resize_longer_side(s, style_size)).to(device),
                    config.style_layers, bool(config.smoothing), tile=plan.tile_size)
        for s in styles
    ]  # fmt: skip
    canvas = Canvas(plan.height, plan.width)
    done = steps_before
    for index, box in enumerate(plan.tiles, start=1):
        window = (slice(None), slice(None), slice(box.top, box.bottom), slice(box.left, box.right))
        content_tile = full_content[window].to(device)
        targets = Targets(
            content_targets(runner, content_tile, config.content_layers),
            regions_at(box.width, box.height, box, grams),
        )
        variables = parameterize(start[window].to(device), str(config.parameterization))
        stage = f"tile {index}/{len(plan.tiles)}"
        for record in _optimise(
            runner, variables, targets, config, plan.tile_steps, done, started, stage
        ):
            report(record, variables)
        done += plan.tile_steps
        canvas.add(box, variables.image().detach().clamp(0, 1), plan.overlap)
    return canvas.result().to(device)


def _palette_start(
    content: Image.Image,
    styles: Sequence[Image.Image],
    blend: Sequence[float],
    masks: Sequence[Image.Image] | None,
) -> Image.Image:
    """The photo in the painting's colours; with masks, each region in its own style's."""
    if masks is None:
        return color.match_palette(content, list(styles), list(blend))
    base = np.asarray(content.convert("RGB"), dtype=np.float32)
    mixed, coverage = np.zeros_like(base), np.zeros(base.shape[:2], np.float32)
    for mask, style in zip(masks, styles, strict=True):
        weight = _mask_weights(mask, content.size)
        palette = np.asarray(color.match_palette(content, [style]), dtype=np.float32)
        mixed += weight[..., None] * palette
        coverage += weight
    # Overlapping masks average their palettes; where no mask covers, the photo stays.
    pixels = mixed / np.maximum(coverage, 1.0)[..., None]
    pixels += base * (1.0 - np.minimum(coverage, 1.0))[..., None]
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def _mask_weights(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A mask as H×W float32 weights in [0, 1] at `size` (white = 1)."""
    grey = mask.convert("L").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def _keep_content_outside(
    result: Image.Image, content: Image.Image, masks: Sequence[Image.Image]
) -> tuple[Image.Image, np.ndarray]:
    """Composite: stylised where any mask is white, the content where all are black."""
    width, height = result.size
    union = np.zeros((height, width), dtype=np.float32)
    for mask in masks:
        union = np.maximum(union, _mask_weights(mask, result.size))
    base = np.asarray(content.resize((width, height), Image.Resampling.LANCZOS), np.float32) / 255
    styled = np.asarray(result, dtype=np.float32) / 255.0
    pixels = styled * union[..., None] + base * (1.0 - union[..., None])
    return Image.fromarray((pixels * 255 + 0.5).astype(np.uint8), mode="RGB"), pixels


def _optimise(
    runner: _Runner,
    variables: ImageParameters,
    targets: Targets,
    config: StylizeConfig,
    steps: int,
    steps_before: int,
    started: float,
    stage: str,
) -> Iterator[StepRecord]:
    """Optimise `variables` in place for `steps` steps, yielding each step's record."""
    variable = variables.variable
    optimizer = make_optimizer(variable, config)
    guard = SpikeGuard(optimizer, config.spike_ratio, config.spike_decay)
    size = max(variables.image().shape[-2:])
    # What the latest loss evaluation saw: the closure runs inside optimizer.step, before
    # the pixels move, so the loss belongs to these pixels, not to the updated ones.
    evaluated: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total, parts = evaluate(runner, variables.image(), targets, config)
        total.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([variable], config.grad_clip)
        evaluated["parts"] = parts
        evaluated["variable"] = variable.detach().clone()
        return total

    nonfinite = 0
    for step in range(1, steps + 1):
        lr = guard.lr
        optimizer.step(closure)
        variables.project_()
        parts = evaluated["parts"]
        spike = guard.observe(parts["total"], evaluated["variable"], variable)
        # The guard rolls a NaN/inf loss back to the best pixels with a smaller step; a run
        # that has no good pixels yet, or keeps diverging, stops here instead of saving black.
        nonfinite = 0 if math.isfinite(parts["total"]) else nonfinite + 1
        if nonfinite and (guard.best_image is None or nonfinite >= MAX_NONFINITE_IN_A_ROW):
            raise DivergedError(
                f"the loss became {parts['total']} at step {steps_before + step} ({stage}) and "
                "rolling back did not help; lower --style-weight, --content-weight or --lr"
            )
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
            stage=stage,
        )
