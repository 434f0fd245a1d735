"""The one bot module that calls the engine: images in, stylised (or upscaled) PIL image
out; a clip in, a stylised MP4 out.

Backbones and the upscaler are loaded once per worker process and reused by every job
(loading VGG19 from disk costs seconds); the engine's frozen networks are safe to share
between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nstcli.engine import sizing
from nstcli.engine.config import StylizeConfig
from nstcli.engine.job import LoadedBackbone, load_backbone_for
from nstcli.engine.plan import scale_plan
from nstcli.engine.strength import DEFAULT_STRENGTH
from nstcli.engine.stylize import stylize as engine_stylize
from nstcli.engine.upscale.pipeline import UpscaleConfig, load_upscaler_for, upscale_image
from nstcli.engine.upscale.weights import LoadedUpscaler
from nstcli.engine.weights import offline_from_env

_backbones: dict[tuple[str, bool, bool], LoadedBackbone] = {}
_upscalers: dict[str, LoadedUpscaler] = {}
_load_lock = threading.Lock()


def _backbone(config: StylizeConfig) -> LoadedBackbone:
    key = (config.backbone, config.pretrained, config.offline)
    with _load_lock:
        if key not in _backbones:
            _backbones[key] = load_backbone_for(config)
        return _backbones[key]


def check_content(width: int, height: int, backbones: Iterable[str], size: int, steps: int) -> None:
    """The engine's `InputError` for a photo too narrow at a scale a run of any of
    `backbones` would go through (its own scale plan), before the job is queued."""
    for backbone in backbones:
        config = StylizeConfig(backbone=backbone, size=size, steps=steps).resolved()
        scales = [scale for scale, _steps in scale_plan(config)]
        sizing.check_scales("content", width, height, scales)


def _job_config(
    backbone: str,
    size: int,
    steps: int,
    preserve_color: bool,
    strength: float | None,
    pretrained: bool,
    threads: int | None,
) -> StylizeConfig:
    """The engine settings of a bot job, still or clip (offline when the host says so)."""
    return StylizeConfig(
        backbone=backbone,
        size=size,
        steps=steps,
        pretrained=pretrained,
        threads=threads,
        offline=offline_from_env(),
        preserve_color=preserve_color,
        strength=DEFAULT_STRENGTH if strength is None else strength,
    )


def stylize_one(
    content: Image.Image,
    style: Image.Image,
    backbone: str,
    size: int,
    steps: int,
    *,
    preserve_color: bool = False,
    strength: float | None = None,
    pretrained: bool = True,
    threads: int | None = None,
    on_step: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_preview: Callable[[Image.Image], None] | None = None,
    previews: int = 3,
) -> Image.Image:
    """Run the engine once; raises the engine's `NstError`s (e.g. `WeightsError`, `Cancelled`).

    `on_step` gets the pixel-weighted fraction of the run done (`StepRecord.work_done`),
    so a 128-px step counts 1/16 of a 512-px one; `on_preview` gets the current image
    about `previews` times in the run.
    """
    config = _job_config(backbone, size, steps, preserve_color, strength, pretrained, threads)
    loaded = _backbone(config.resolved())

    def report(record, total: int) -> None:  # type: ignore[no-untyped-def]
        if on_step is not None:
            on_step(record.work_done)

    def snapshot(record, image: Image.Image) -> None:  # type: ignore[no-untyped-def]
        if on_preview is not None and record.work_done < 0.999:  # the result comes anyway
            on_preview(image)

    result = engine_stylize(
        content,
        style,
        config,
        on_step=report,
        should_stop=should_stop,
        backbone=loaded,
        on_snapshot=snapshot if on_preview is not None else None,
        snapshot_every=-(-steps // (previews + 1)) if on_preview is not None else 0,
    )
    return result.image


@dataclass(frozen=True)
class ClipOutput:
    """A stylised clip as written: the MP4 file and what it holds."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    #: Frames found finished from an interrupted attempt of the same job.
    resumed: int = 0
    #: The source was an animated picture (GIF/WebP), not a video.
    from_animation: bool = False


def stylize_clip(
    clip: Path,
    style: Image.Image,
    backbone: str,
    size: int,
    steps: int,
    work: Path,
    *,
    fps: float,
    max_frames: int,
    audio: bool = True,
    preserve_color: bool = False,
    strength: float | None = None,
    pretrained: bool = True,
    threads: int | None = None,
    on_frame: Callable[[int, int, float, Image.Image | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ClipOutput:
    """Stylise a clip with temporal consistency into `work`/nst-result.mp4 (H.264; the
    source's audio kept when `audio`). Finished frames wait in `work`/frames, so a run of
    the same job after an interruption resumes after the last of them.

    `on_frame(done, frames, fraction, image)` gets each frame finished (`image` set) and
    each step's fraction of the clip's work (`image` None).
    """
    from nstcli.engine.clip.pipeline import ClipSettings, prepare_clip, run_clip
    from nstcli.engine.clip.source import ClipLimits, ClipSelection
    from nstcli.engine.clip.store import FrameStore
    from nstcli.engine.clip.writer import AudioSource, even_size, write_clip

    config = _job_config(backbone, size, steps, preserve_color, strength, pretrained, threads)
    loaded = _backbone(config.resolved())
    limits = ClipLimits(max_frames=max_frames)
    selection = ClipSelection(fps=fps, max_frames=max_frames)
    job = prepare_clip(clip, style, config, ClipSettings(), selection, limits, backbone=loaded)
    store = FrameStore(work / "frames", job.fingerprint, resume=True)

    def progress(event) -> None:  # type: ignore[no-untyped-def]
        if on_frame is not None:
            done = event.frame if event.finished is not None else event.frame - 1
            on_frame(done, event.frames, event.work_done, event.finished)

    result = run_clip(job, store, progress, should_stop)
    info, frames = job.info, job.frames
    source = None
    if audio and info.has_audio:
        source = AudioSource(info.path, frames.start, result.duration, info.duration)
    output = write_clip(store, work / "nst-result.mp4", frames.fps, source)
    store.complete(keep_frames=False)
    width, height = even_size(*job.size)
    return ClipOutput(
        output, result.frames, frames.fps, width, height, result.resumed,
        from_animation=info.kind == "animation",
    )  # fmt: skip


def upscale_one(
    image: Image.Image,
    *,
    threads: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Image.Image:
    """x4 with the shipped SRResNet (tiled within the engine's default memory budget)."""
    config = UpscaleConfig(threads=threads)
    with _load_lock:
        if config.model not in _upscalers:
            _upscalers[config.model] = load_upscaler_for(config)
        loaded = _upscalers[config.model]
    result = upscale_image(
        image, config, on_tile=on_progress, should_stop=should_stop, upscaler=loaded
    )
    return result.image
