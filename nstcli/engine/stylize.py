"""The optimisation loop of Gatys-style neural style transfer.

Reads top to bottom: `prepare` (engine.job) has resolved the settings, loaded the frozen
backbone and planned the scales and tiles; `run` then computes at each scale the fixed
targets once (content features, style Gram matrices per region), optimises the pixels with
L-BFGS or Adam against the weighted loss terms (engine.objective), guarded against loss
spikes, upsamples as the next scale's start, refines in overlapping tiles if planned, and
returns a `StylizeResult`.

Progress is reported through callbacks, so the CLI can draw Rich bars and the bot can edit a
message from the same events; the engine knows neither.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as F

from nstcli.engine import color
from nstcli.engine.allocator import keep_freed_blocks
from nstcli.engine.backbones import get_spec
from nstcli.engine.config import StylizeConfig
from nstcli.engine.device import set_threads
from nstcli.engine.errors import Cancelled, DivergedError
from nstcli.engine.features import FeatureRunner, use_bf16
from nstcli.engine.guide import anchor_at
from nstcli.engine.images import image_to_tensor, resize_longer_side, tensor_to_image
from nstcli.engine.job import LoadedBackbone, StylizeJob, prepare
from nstcli.engine.masks import keep_content_outside, palette_start
from nstcli.engine.objective import WeightedTerms, evaluate, weighted_terms
from nstcli.engine.optimizers import make_optimizer
from nstcli.engine.parameterization import ImageParameters, parameterize
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.engine.spike_guard import SpikeGuard
from nstcli.engine.targets import Targets, content_targets, style_grams, style_regions
from nstcli.engine.tiling import Box, Canvas

#: Called after every step with the step's record and the total number of steps.
ProgressCallback = Callable[[StepRecord, int], None]
#: Called every `snapshot_every` steps with the current image.
SnapshotCallback = Callable[[StepRecord, Image.Image], None]
#: Gets each step's record and the image being optimised (cancellation, progress, snapshots).
Reporter = Callable[[StepRecord, ImageParameters], None]

#: Non-finite losses in a row (each rolled back by the spike guard) after which a run stops.
MAX_NONFINITE_IN_A_ROW = 3


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
) -> StylizeResult:
    """`prepare` then `run`: render `content` in the style of `style` in one call."""
    job = prepare(content, style, config, masks=masks, backbone=backbone)
    return run(job, on_step, should_stop, on_snapshot, snapshot_every)


def run(
    job: StylizeJob,
    on_step: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_snapshot: SnapshotCallback | None = None,
    snapshot_every: int = 0,
) -> StylizeResult:
    """Optimise a prepared job, scale by scale, then tile by tile if planned."""
    config, plan, device = job.config, job.plan, job.device
    # Again here: whatever building the backbone drew, the run starts from the seed.
    set_threads(config.threads)
    keep_freed_blocks()  # each step re-takes the blocks the last one freed (no page faults)
    torch.manual_seed(config.seed)
    runner = FeatureRunner(job.backbone.extractor, device, use_bf16(config, device))
    styles = list(job.styles)
    if config.preserve_color:
        styles = [color.luminance_only_style(image, job.content) for image in styles]
    terms = weighted_terms(config)

    history: list[StepRecord] = []
    started = time.perf_counter()
    if config.strength == 0:  # no style at all: the photo at the output size, exactly
        return _photo_result(job, started)
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

    loop = Loop(runner, terms, config, started)
    image: torch.Tensor | None = None
    for size, steps in plan.scales:
        content_tensor = image_to_tensor(resize_longer_side(job.content, size)).to(device)
        grams = _style_grams(runner, styles, config, round(size * config.style_scale))
        height, width = content_tensor.shape[-2:]
        stage = Stage(
            f"{size}px", _targets(loop, job, content_tensor, grams, (width, height), None), steps
        )
        if image is None:  # the guide, the photo (maybe in the painting's colours), or noise
            image = _first_start(job, styles, size)
        variables = parameterize(_start_from(image, content_tensor), str(config.parameterization))
        for record in _optimise(loop, variables, stage, len(history)):
            report(record, variables)
        image = variables.image().detach()

    assert image is not None
    if plan.tiled:
        image = _refine_tiles(loop, image, job, styles, report, len(history))

    result_image = tensor_to_image(image)
    pixels = image.detach()[0].permute(1, 2, 0).clamp(0, 1).float().cpu().numpy()
    if job.masks is not None:
        result_image, pixels = keep_content_outside(result_image, job.content, job.masks)
    if config.preserve_color:
        result_image = color.recombine_chroma(result_image, job.content)
        pixels = None  # recombined in 8-bit YCbCr; the 8-bit image is the result
    return StylizeResult(
        image=result_image,
        history=history,
        wall_time=time.perf_counter() - started,
        config=config,
        device=str(device),
        weights_source=job.backbone.weights_source,
        spikes=sum(record.spike for record in history),
        precision="bf16" if runner.bf16 else "fp32",
        scales=[size for size, _ in plan.scales],
        pixels=pixels,
        tiles=len(plan.tiles),
    )


@dataclasses.dataclass(frozen=True)
class Loop:
    """What every stage of one run shares: the backbone runner, the loss terms, the settings."""

    runner: FeatureRunner
    terms: WeightedTerms
    config: StylizeConfig
    #: perf_counter() when the run began; step records carry the seconds since.
    started: float


@dataclasses.dataclass(frozen=True)
class Stage:
    """One scale of the whole image, or one tile: what is optimised towards, for how long."""

    label: str
    targets: Targets
    steps: int


def _targets(
    loop: Loop,
    job: StylizeJob,
    content: torch.Tensor,
    grams: list[dict[str, torch.Tensor]],
    full_size: tuple[int, int],
    box: Box | None,
) -> Targets:
    """The fixed targets of the whole image at one scale (box None) or of one tile."""
    config, device = loop.config, loop.runner.device
    return Targets(
        content_targets(loop.runner, content, config.content_layers),
        style_regions(grams, job.blend, job.masks, full_size, box, device),
        bool(config.smoothing),
        anchor_at(job.guide, full_size, box, device),
    )


def _style_grams(
    runner: FeatureRunner,
    styles: Sequence[Image.Image],
    config: StylizeConfig,
    long_side: int,
    tile: int | None = None,
) -> list[dict[str, torch.Tensor]]:
    """Each style image's Grams, with the style resized to `long_side` (at least 16 px)."""
    return [
        style_grams(
            runner,
            image_to_tensor(resize_longer_side(style, max(16, long_side))).to(runner.device),
            config.style_layers,
            bool(config.smoothing),
            tile=tile,
        )
        for style in styles
    ]


def _first_start(job: StylizeJob, styles: Sequence[Image.Image], size: int) -> torch.Tensor:
    """The first scale's start: the guide, the photo (maybe in the painting's colours), or
    noise; under the default strength blended toward the photo (`StrengthCurve.start_share`)."""
    config = job.config
    if job.guide is not None:  # (`_start_from` brings it to this scale's size)
        return image_to_tensor(job.guide.image)
    photo = resize_longer_side(job.content, size)
    start = photo
    if config.init == "palette" and not config.preserve_color:
        start = palette_start(photo, styles, job.blend, job.masks)
    pixels = image_to_tensor(start)
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)
        pixels = torch.rand(pixels.shape, generator=generator)
    curve = get_spec(config.backbone).strength
    share = curve.start_share(config.strength)
    if share < 1:  # (exactly 1 at the default strength: the default start, untouched)
        pixels = torch.lerp(image_to_tensor(photo), pixels, share)
    sigma = curve.start_blur(config.strength) * size / 512
    if sigma > 0:  # over the default: less of the photo's detail for the style to keep
        pixels = gaussian_blur(pixels, sigma)
    return pixels


def gaussian_blur(pixels: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (B, C, H, W) tensor, reflect-padded, the kernel 2σ
    wide each side: what torchvision's `gaussian_blur` computes (a test compares them),
    without importing torchvision for it."""
    radius = math.ceil(2 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=pixels.dtype, device=pixels.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = pixels.shape[1]
    padded = F.pad(pixels, [radius] * 4, mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def _photo_result(job: StylizeJob, started: float) -> StylizeResult:
    """Strength 0: the photo itself at the planned output size, with no step run."""
    plan = job.plan
    image = job.content.convert("RGB")
    if image.size != (plan.width, plan.height):
        image = image.resize((plan.width, plan.height), Image.Resampling.LANCZOS)
    return StylizeResult(
        image=image,
        history=[],
        wall_time=time.perf_counter() - started,
        config=job.config,
        device=str(job.device),
        weights_source=job.backbone.weights_source,
        scales=[],
    )


def _start_from(previous: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """`previous` (the last scale's result, or the first start) at `content`'s size."""
    if previous.shape[-2:] != content.shape[-2:]:
        previous = F.interpolate(
            previous.detach(), size=content.shape[-2:], mode="bicubic", align_corners=False
        ).clamp(0, 1)
    return previous.to(content.device).contiguous()


def _refine_tiles(
    loop: Loop,
    base: torch.Tensor,
    job: StylizeJob,
    styles: Sequence[Image.Image],
    report: Reporter,
    steps_before: int,
) -> torch.Tensor:
    """Refine the upsampled whole-image result at full size, tile by tile, and blend."""
    runner, config, plan, device = loop.runner, job.config, job.plan, loop.runner.device
    full_size = (plan.width, plan.height)
    full_content = image_to_tensor(job.content.resize(full_size, Image.Resampling.LANCZOS))
    start = F.interpolate(base.detach().cpu(), size=(plan.height, plan.width), mode="bicubic",
                          align_corners=False).clamp(0, 1)  # fmt: skip
    long_side = round(max(full_size) * config.style_scale)
    grams = _style_grams(runner, styles, config, long_side, tile=plan.tile_size)
    canvas = Canvas(plan.height, plan.width)
    done = steps_before
    for index, box in enumerate(plan.tiles, start=1):
        window = (slice(None), slice(None), slice(box.top, box.bottom), slice(box.left, box.right))
        targets = _targets(loop, job, full_content[window].to(device), grams, full_size, box)
        stage = Stage(f"tile {index}/{len(plan.tiles)}", targets, plan.tile_steps)
        variables = parameterize(start[window].to(device), str(config.parameterization))
        for record in _optimise(loop, variables, stage, done):
            report(record, variables)
        done += plan.tile_steps
        canvas.add(box, variables.image().detach().clamp(0, 1), plan.overlap)
    return canvas.result().to(device)


def _optimise(
    loop: Loop, variables: ImageParameters, stage: Stage, steps_before: int
) -> Iterator[StepRecord]:
    """Optimise `variables` in place for the stage's steps, yielding each step's record."""
    runner, targets, terms, config = loop.runner, stage.targets, loop.terms, loop.config
    steps, started = stage.steps, loop.started
    variable = variables.variable
    optimizer = make_optimizer(variable, config)
    guard = SpikeGuard(optimizer, config.spike_ratio, config.spike_decay)
    size = max(variables.image().shape[-2:])
    # What the latest loss evaluation saw: the closure runs inside optimizer.step, before
    # the pixels move, so the loss belongs to these pixels, not to the updated ones.
    evaluated: dict[str, Any] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        image = variables.image()
        total, parts = evaluate(runner.features(image), image, targets, terms)
        total.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([variable], config.grad_clip)
        evaluated.update(total=float(total.detach()), parts=parts)
        evaluated["variable"] = variable.detach().clone()
        return total

    nonfinite = 0
    for step in range(1, steps + 1):
        lr = guard.lr
        optimizer.step(closure)
        variables.project_()
        total = evaluated["total"]
        spike = guard.observe(total, evaluated["variable"], variable)
        # The guard rolls a NaN/inf loss back to the best pixels with a smaller step; a run
        # that has no good pixels yet, or keeps diverging, stops here instead of saving black.
        nonfinite = 0 if math.isfinite(total) else nonfinite + 1
        if nonfinite and (guard.best_image is None or nonfinite >= MAX_NONFINITE_IN_A_ROW):
            raise DivergedError(
                f"the loss became {total} at step {steps_before + step} ({stage.label}) and "
                "rolling back did not help; lower --style-weight, --content-weight or --lr"
            )
        yield StepRecord(
            step=steps_before + step,
            losses=evaluated["parts"],
            total=total,
            lr=lr,
            elapsed=time.perf_counter() - started,
            spike=spike,
            size=size,
            stage=stage.label,
        )
