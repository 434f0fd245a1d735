"""Stylising a clip frame by frame over the still engine, with temporal consistency.

Ruder et al. 2016 ("Artistic style transfer for videos"): the first frame gets the full
still-image schedule; each later frame starts from the previous result warped along the
optical flow between the input frames, and the `temporal` loss term ties it to that
warped result wherever the flow is reliable (disocclusions and motion boundaries are left
free). Starting that close, a later frame needs a fraction of the steps, and the result
does not flicker. `--no-temporal` runs every frame on its own with the still schedule:
the baseline.

Each frame is an ordinary `prepare` + `run` of the still engine (one backbone for all),
with a `Guide`; the pipeline adds the flow and the bookkeeping: frames are read one at a
time, written to a `FrameStore` as they finish (so a run can resume), and reported
through one progress callback.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from nstcli.engine.clip.flow import FLOW_METHODS, motion_between, outside_frame, warp
from nstcli.engine.clip.source import (
    ClipInfo,
    ClipLimits,
    ClipSelection,
    FrameSchedule,
    probe,
    read_frames,
    schedule,
)
from nstcli.engine.clip.store import FrameStore
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import Cancelled, InputError
from nstcli.engine.guide import Guide
from nstcli.engine.job import LoadedBackbone, StylizeJob, prepare
from nstcli.engine.plan import RunPlan
from nstcli.engine.result import StepRecord
from nstcli.engine.stylize import run

#: Steps of each frame after the first, from its warped start (measured: bench/video.py).
FRAME_STEPS = {"vgg": 30, "resnet": 30, "lite": 20}
#: Weight of the temporal term, per backbone (its other weights differ by orders of
#: magnitude, so one number cannot serve all; measured: bench/video.py).
TEMPORAL_WEIGHT = {"vgg": 2e4, "resnet": 2e4, "lite": 2e6}


@dataclass(frozen=True)
class ClipSettings:
    """How a clip is stylised beyond the still settings."""

    temporal: bool = True
    #: Steps of each frame after the first (None: per backbone, `FRAME_STEPS`).
    frame_steps: int | None = None
    #: None: per backbone (`TEMPORAL_WEIGHT`); the still config's `temporal_weight` if set.
    temporal_weight: float | None = None
    flow: str = "dis"

    def __post_init__(self) -> None:
        if self.frame_steps is not None and self.frame_steps < 1:
            raise InputError(f"--frame-steps must be at least 1, got {self.frame_steps}")
        if self.flow not in FLOW_METHODS:
            raise InputError(f"flow must be one of {', '.join(FLOW_METHODS)}")


@dataclass(frozen=True)
class ClipJob:
    """A checked clip run: the clip, the frames to take, and the runs of its frames."""

    info: ClipInfo
    frames: FrameSchedule
    settings: ClipSettings
    #: Frame 1's run (its plan, resolved config and backbone serve every frame).
    first: StylizeJob
    #: The settings of frames 2… (the still ones with --no-temporal).
    later_config: StylizeConfig
    later_plan: RunPlan
    styles: tuple[Image.Image, ...]
    masks: tuple[Image.Image, ...] | None
    #: Names this job, so a resumed run continues only the same job.
    fingerprint: str

    @property
    def size(self) -> tuple[int, int]:
        return self.first.plan.width, self.first.plan.height

    @property
    def total_steps(self) -> int:
        return self.first.plan.total_steps + (self.frames.count - 1) * self.later_plan.total_steps

    def frame_work(self, index: int) -> float:
        """Pixel-weighted cost of frame `index` (1-based), for progress and ETAs."""
        plan = self.first.plan if index == 1 else self.later_plan
        return sum(plan.step_costs())

    def describe(self) -> str:
        """The plan line: frames, size, rate, and the steps of the first and later frames."""
        count, (width, height) = self.frames.count, self.size
        head = (
            f"{count} frame{'s' if count != 1 else ''} of {width}×{height} at "
            f"{self.frames.fps:.3g} fps ({self.frames.duration:.1f} s)"
        )
        first = self.first.plan.total_steps
        if count == 1:
            return f"{head}: {first} steps"
        later = self.later_plan.total_steps
        how = (
            f"from the previous frame warped by the flow, {later} steps each "
            f"(temporal weight {self.later_config.temporal_weight:g})"
            if self.settings.temporal
            else f"each on its own, {later} steps (--no-temporal)"
        )
        scales = " → ".join(f"{size}px×{steps}" for size, steps in self.first.plan.scales)
        return (
            f"{head}: frame 1 {first} steps ({scales}), frames 2–{count} {how} "
            f"= {self.total_steps} steps"
        )


@dataclass(frozen=True)
class ClipProgress:
    """One event of a clip run: a step of frame `frame`, or (with `finished`) its end."""

    frame: int
    frames: int
    #: The step's record within the frame (None for a frame found finished on resume).
    record: StepRecord | None
    #: Fraction of the whole clip's pixel-weighted work done.
    work_done: float
    #: The frame just finished, when this event ends a frame.
    finished: Image.Image | None = None


ClipCallback = Callable[[ClipProgress], None]


@dataclass
class ClipResult:
    job: ClipJob
    frames: int
    wall_time: float
    #: Seconds each frame took (frames resumed from disk are not in it).
    frame_seconds: list[float]
    #: Frames found finished from an earlier run and skipped.
    resumed: int = 0
    #: Share of pixels the temporal term held, per later frame.
    reliable_share: list[float] = dataclasses.field(default_factory=list)

    @property
    def duration(self) -> float:
        """Seconds of the frames stylised (a file cut short yields fewer than planned, and
        the audio kept is cut to match)."""
        return self.frames / self.job.frames.fps

    def summary(self) -> dict[str, object]:
        later = self.frame_seconds[1:] if not self.resumed else self.frame_seconds
        return {
            "frames": self.frames,
            "fps": self.job.frames.fps,
            "width": self.job.size[0],
            "height": self.job.size[1],
            "temporal": self.job.settings.temporal,
            "steps": self.job.total_steps,
            "wall_time_s": round(self.wall_time, 3),
            "first_frame_s": round(self.frame_seconds[0], 3) if self.frame_seconds else None,
            "later_frame_s": round(sum(later) / len(later), 3) if later else None,
            "resumed_frames": self.resumed,
            "backbone": self.job.first.config.backbone,
        }


def prepare_clip(
    path: str | Path,
    styles: Image.Image | Sequence[Image.Image],
    config: StylizeConfig,
    settings: ClipSettings | None = None,
    selection: ClipSelection | None = None,
    limits: ClipLimits | None = None,
    masks: Sequence[Image.Image] | None = None,
    backbone: LoadedBackbone | None = None,
) -> ClipJob:
    """Check everything a clip run needs before any frame is stylised: the clip's length
    from its metadata, its first frame, the styles and settings, the backbone."""
    settings = settings or ClipSettings()
    limits = limits or ClipLimits()
    info = probe(path, limits)
    frames = schedule(info, selection or ClipSelection(), limits)
    reader = read_frames(info, frames, config.size)
    try:
        first_frame = next(reader)
    finally:
        reader.close()
    first = prepare(first_frame, styles, config, masks=masks, backbone=backbone)
    later_config = _later_config(first.config, settings)
    later = prepare(first_frame, styles, later_config, masks=masks, backbone=first.backbone)
    fingerprint = _fingerprint(info, frames, first, later.config, settings)
    return ClipJob(
        info, frames, settings, first, later.config, later.plan, first.styles, first.masks,
        fingerprint,
    )  # fmt: skip


def _later_config(config: StylizeConfig, settings: ClipSettings) -> StylizeConfig:
    """Frames after the first: one scale, few steps, the temporal term on (or, with
    --no-temporal, the still settings unchanged)."""
    if not settings.temporal:
        return config
    weight = settings.temporal_weight
    if weight is None:
        weight = config.temporal_weight or TEMPORAL_WEIGHT.get(config.backbone, 2e4)
    steps = settings.frame_steps or FRAME_STEPS.get(config.backbone, 30)
    return dataclasses.replace(config, steps=steps, multiscale=False, temporal_weight=weight)


def _fingerprint(
    info: ClipInfo,
    frames: FrameSchedule,
    first: StylizeJob,
    later: StylizeConfig,
    settings: ClipSettings,
) -> str:
    digest = hashlib.sha256()
    stat = info.path.stat()
    digest.update(f"{info.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    with info.path.open("rb") as stream:
        digest.update(stream.read(4 * 2**20))
    for picture in (*first.styles, *(first.masks or ())):
        digest.update(picture.tobytes())
    described = {
        "frames": dataclasses.asdict(frames),
        "first": repr(first.config),
        "later": repr(later),
        "settings": dataclasses.asdict(settings),
    }
    digest.update(json.dumps(described, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def run_clip(
    job: ClipJob,
    store: FrameStore,
    on_progress: ClipCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ClipResult:
    """Stylise every scheduled frame into `store`, skipping those it already holds."""
    started = time.perf_counter()
    estimator = FLOW_METHODS[job.settings.flow]()
    total_work = job.frame_work(1) + (job.frames.count - 1) * job.frame_work(2)
    done_work = 0.0
    previous_input: np.ndarray | None = None
    previous_output: np.ndarray | None = None
    seconds: list[float] = []
    shares: list[float] = []
    count = 0
    resumed = store.resumed
    for index, frame in enumerate(read_frames(job.info, job.frames, job.first.config.size), 1):
        if should_stop is not None and should_stop():
            raise Cancelled("stopped on request")
        count = index
        frame_input = np.asarray(frame.convert("RGB"))
        work = job.frame_work(index)
        if index <= resumed:
            done_work += work
            if index == resumed:
                last = store[index - 1]
                previous_output = np.asarray(last.convert("RGB"))
                if on_progress is not None:
                    on_progress(ClipProgress(index, job.frames.count, None,
                                             done_work / total_work, last))  # fmt: skip
            previous_input = frame_input
            continue
        begun = time.perf_counter()
        guide = None
        if job.settings.temporal and previous_output is not None:
            assert previous_input is not None
            guide, share = _guide(previous_input, frame_input, previous_output, estimator)
            shares.append(share)
        config = job.first.config if index == 1 or guide is None else job.later_config
        frame_job = prepare(
            frame, job.styles, config, masks=job.masks, backbone=job.first.backbone, guide=guide
        )

        def on_step(
            record: StepRecord, total: int, index: int = index, before: float = done_work,
            work: float = work,
        ) -> None:  # fmt: skip
            if on_progress is not None:
                fraction = (before + record.work_done * work) / total_work
                on_progress(ClipProgress(index, job.frames.count, record, fraction))

        result = run(frame_job, on_step, should_stop)
        store.save(index, result.image)
        done_work += work
        seconds.append(time.perf_counter() - begun)
        previous_input, previous_output = frame_input, np.asarray(result.image.convert("RGB"))
        if on_progress is not None:
            on_progress(ClipProgress(index, job.frames.count, None, done_work / total_work,
                                     result.image))  # fmt: skip
    return ClipResult(job, count, time.perf_counter() - started, seconds, resumed, shares)


def _guide(
    previous_input: np.ndarray,
    frame_input: np.ndarray,
    previous_output: np.ndarray,
    estimator: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[Guide, float]:
    """The previous result warped into this frame, and where the flow is trusted."""
    if previous_output.shape != frame_input.shape:  # (a frame size change: no guide)
        previous_output = np.asarray(
            Image.fromarray(previous_output).resize(frame_input.shape[1::-1])
        )
    motion = motion_between(previous_input, frame_input, estimator)
    warped = warp(previous_output, motion.backward)
    # Where the flow points outside the previous frame the warp could only repeat its edge
    # pixels, and over frames those repeats grow into streaks; the previous result at the
    # same place is a better start there (those pixels are free of the temporal term).
    outside = outside_frame(motion.backward)
    warped[outside] = previous_output[outside]
    reliable = Image.fromarray((motion.reliable * 255).astype(np.uint8), mode="L")
    return Guide(Image.fromarray(warped, mode="RGB"), reliable), motion.reliable_share
