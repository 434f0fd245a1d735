"""Reading clips: what a file holds (from its metadata), which frames a run takes, and the
frames themselves, one at a time.

Videos (MP4, MOV, WebM, MKV…) are read with PyAV, whose wheels bundle FFmpeg; animated
GIF and WebP with Pillow. Either way a run sees a constant-rate sequence of upright 8-bit
RGB frames at most `max_side` pixels long: variable frame rates are resampled to the
clip's nominal rate (or `--fps`), rotation metadata is applied, and nothing but the
current frame is held, so memory does not grow with the clip's length.

Every problem a user can cause (not a clip, no video stream, truncated data, zero frames,
too long) is an `InputError` naming the file; the length is checked from the metadata,
before anything is decoded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageSequence, UnidentifiedImageError

from nstcli.engine.errors import InputError
from nstcli.engine.images import to_rgb
from nstcli.engine.sizing import DEFAULT_MAX_PIXELS, fit_longer_side

#: Containers read with PyAV.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
#: Picture formats that are clips when they hold more than one frame (read with Pillow).
ANIMATED_SUFFIXES = frozenset({".gif", ".webp"})
#: What a GIF frame with no (or a near-zero) delay lasts; browsers show it this long too.
DEFAULT_GIF_DELAY_MS = 100
#: Frame rate assumed when a video states none.
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's metadata says, before any frame is decoded."""

    path: Path
    #: "video" (PyAV) or "animation" (an animated GIF/WebP, Pillow).
    kind: str
    #: Coded size (a rotated video displays it turned; the frames read are upright).
    width: int
    height: int
    #: The nominal frame rate.
    fps: float
    #: Seconds (None: the container does not say).
    duration: float | None
    has_audio: bool

    @property
    def frames(self) -> int | None:
        """Frames the metadata implies (None: unknown)."""
        return None if self.duration is None else max(1, round(self.duration * self.fps))


@dataclass(frozen=True)
class ClipSelection:
    """Which part of a clip a run takes, as the user asked (`--fps`, `--start`…)."""

    #: Subsample to at most this rate (None: the clip's own).
    fps: float | None = None
    start: float = 0.0
    duration: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.fps is not None and not 0 < self.fps <= 240:
            raise InputError(f"--fps must be above 0 and at most 240, got {self.fps:g}")
        if not 0 <= self.start < math.inf:
            raise InputError(f"--start must be a time in seconds from 0, got {self.start:g}")
        if self.duration is not None and not 0 < self.duration < math.inf:
            raise InputError(f"--duration must be positive seconds, got {self.duration:g}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be at least 1, got {self.max_frames}")


@dataclass(frozen=True)
class ClipLimits:
    """The most a front end accepts (the bot sets tighter ones than the CLI)."""

    #: Frames after subsampling and cutting.
    max_frames: int = 1800
    #: Seconds after cutting (None: only `max_frames` bounds the length).
    max_seconds: float | None = None
    #: Pixels of one source frame.
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class FrameSchedule:
    """The frames a run reads: `count` frames at `fps` from `start` seconds."""

    fps: float
    start: float
    count: int

    @property
    def duration(self) -> float:
        return self.count / self.fps

    def time_of(self, index: int) -> float:
        """Source time of frame `index` (from 0)."""
        return self.start + index / self.fps


def is_clip(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is read as a clip: a video container, or a GIF/WebP of 2+ frames."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return True
    if suffix not in ANIMATED_SUFFIXES or not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            return bool(getattr(image, "is_animated", False))
    except (OSError, SyntaxError, ValueError):
        return False  # not readable as a picture: the still loader says why


def probe(path: str | os.PathLike[str], limits: ClipLimits | None = None) -> ClipInfo:
    """Read `path`'s metadata (size, rate, length, audio) without decoding a frame."""
    path = Path(path)
    limits = limits or ClipLimits()
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a clip")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty", code="clip_unreadable")
    # A name without a suffix (e.g. a download kept under its id) may be either kind.
    animated = path.suffix.lower() in ANIMATED_SUFFIXES or not path.suffix
    info = _probe_animation(path) if animated else None
    info = info or _probe_video(path)
    if info.width * info.height > limits.max_pixels:
        raise InputError(
            f"{path}: frames of {info.width}×{info.height} are too large to decode safely; "
            f"limit {limits.max_pixels:,} pixels",
            code="too_many_pixels",
        )
    return info


def _probe_video(path: Path) -> ClipInfo:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: has no video stream", code="no_video")
            stream = container.streams.video[0]
            # The average rate, unless the timestamps make it absurd (two frames an hour
            # apart); then the stream's stated base rate.
            rates = (stream.average_rate, stream.guessed_rate, stream.base_rate)
            fps = next((float(r) for r in rates if r and 1 <= float(r) <= 240), FALLBACK_FPS)
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
            elif stream.frames:
                duration = stream.frames / fps
            last_shown = _end_of_last_frame(container, stream)
            if last_shown is not None and (duration is None or last_shown > duration):
                duration = last_shown
            width, height = stream.codec_context.width, stream.codec_context.height
            if not width or not height:
                raise InputError(f"{path}: its video stream has no picture size", code="no_frames")
            return ClipInfo(
                path, "video", width, height, fps, duration, bool(container.streams.audio)
            )
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        raise InputError(
            f"{path}: not a video file FFmpeg can read ({_reason(error)})", code="clip_unreadable"
        ) from None


#: Packets read from the last keyframe to the end to find the last frame's time.
_TAIL_PACKETS = 4096


def _end_of_last_frame(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    """When the stream's last frame ends, in seconds from its start, from the timestamps
    of the packets after the last keyframe (the index only; nothing is decoded), or None
    where they cannot be read that cheaply.

    A stream's stated duration can fall short of its last frame: MP4 muxers derive it from
    decoding timestamps, which with B-frames and a variable rate lag the presentation
    timestamps (measured: 1.68 s stated for frames shown until 1.93 s), and the clip's
    last frames were then never read.
    """
    if not stream.time_base:
        return None
    origin = stream.start_time or 0
    end = None
    try:
        container.seek(2**62, backward=True, any_frame=False, stream=stream)
        for count, packet in enumerate(container.demux(stream)):
            if count >= _TAIL_PACKETS:  # no index to seek by: not worth reading the file
                return None
            if packet.pts is not None:
                finish = packet.pts + (packet.duration or 0)
                end = finish if end is None else max(end, finish)
    except (av.FFmpegError, OSError, ValueError, OverflowError):
        return None
    return None if end is None else float((end - origin) * stream.time_base)


def _probe_animation(path: Path) -> ClipInfo | None:
    """An animated GIF/WebP's metadata; None if Pillow cannot read it (try FFmpeg)."""
    try:
        with Image.open(path) as image:
            delays = [_delay_ms(frame) for frame in _loaded(image)]
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None
    if not delays:
        raise InputError(f"{path}: has no frames", code="no_frames")
    total = sum(delays) / 1000
    typical = sorted(delays)[len(delays) // 2]
    # GIF delays are whole centiseconds: 12 fps is stored as 80, 90, 80… ms. Steady delays
    # give the mean rate; uneven ones (a long first frame) the typical frame's.
    steady = all(abs(delay - typical) <= 10 for delay in delays)
    fps = len(delays) / total if steady else 1000 / typical
    return ClipInfo(path, "animation", width, height, fps, total, False)


def _loaded(image: Image.Image) -> Iterator[Image.Image]:
    """Each frame, decoded (WebP reports a frame's delay only once it is loaded)."""
    for frame in ImageSequence.Iterator(image):
        frame.load()
        yield frame


def _delay_ms(frame: Image.Image) -> int:
    delay = int(frame.info.get("duration") or 0)
    return delay if delay >= 20 else DEFAULT_GIF_DELAY_MS


def _reason(error: BaseException) -> str:
    text = str(getattr(error, "strerror", None) or error).strip()
    return text.rstrip(".") or type(error).__name__


def schedule(info: ClipInfo, selection: ClipSelection, limits: ClipLimits) -> FrameSchedule:
    """The frames a run will take, or an `InputError` if they are too many or none.

    Decided from the metadata alone, so a two-hour video is refused in a blink.
    """
    fps = min(info.fps, selection.fps) if selection.fps else info.fps
    start = selection.start
    if info.duration is not None and start >= info.duration:
        raise InputError(
            f"{info.path}: --start {start:g}s is past the end of the clip ({info.duration:.1f}s)"
        )
    available = math.inf if info.duration is None else info.duration - start
    seconds = min(available, selection.duration or math.inf)
    count = math.inf if seconds == math.inf else max(1, round(seconds * fps))
    if selection.max_frames is not None:
        count = min(count, selection.max_frames)
    if count == math.inf:
        raise InputError(
            f"{info.path}: the clip does not say how long it is; give --duration or --max-frames",
            code="clip_no_length",
        )
    count = int(count)
    taken = count / fps
    if limits.max_seconds is not None and taken > limits.max_seconds + 0.5 / fps:
        raise InputError(
            f"{info.path}: {_clock(taken)} is longer than the {_clock(limits.max_seconds)} "
            "limit; cut it with --start/--duration or --max-frames",
            code="clip_too_long",
            seconds=taken,
            limit=limits.max_seconds,
        )
    if count > limits.max_frames:
        raise InputError(
            f"{info.path}: {_clock(taken)} at {fps:.3g} fps is {count:,} frames, more than "
            f"the limit of {limits.max_frames:,}; cut it with --start/--duration or "
            "--max-frames, or lower --fps",
            code="clip_too_long",
            seconds=taken,
            limit=limits.max_frames / fps,
        )
    return FrameSchedule(fps, start, count)


def _clock(seconds: float) -> str:
    """'1:02:03', '2:03' or '4.5 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def read_frames(info: ClipInfo, plan: FrameSchedule, size: int) -> Iterator[Image.Image]:
    """The scheduled frames, upright RGB with the longer side `size` (the run's output
    size, so the flow is measured on the pixels being stylised).

    Yields exactly `plan.count` frames unless the clip ends sooner (metadata overstating
    its length); a clip with no decodable frame at all is an `InputError`.
    """
    timed = _timed_animation(info) if info.kind == "animation" else _timed_video(info, plan)
    shown = 0
    for image in _resample(timed, plan, 0.25 / info.fps):
        shown += 1
        yield _fit(image, size)
    if shown == 0:
        raise InputError(f"{info.path}: no frame could be decoded", code="no_frames")


def _resample(
    timed: Iterator[tuple[float, Image.Image]], plan: FrameSchedule, tolerance: float
) -> Iterator[Image.Image]:
    """Constant-rate frames from (start time, frame) pairs: output frame k is the source
    frame on show at `plan.time_of(k)` (so variable rates and subsampling come out even)."""
    index = 0
    previous: tuple[float, Image.Image] | None = None
    last_gap = 0.0
    for time, image in timed:
        if previous is not None:
            last_gap = time - previous[0]
            while index < plan.count and plan.time_of(index) < time - tolerance:
                yield previous[1]
                index += 1
        if index >= plan.count:
            return
        previous = (time, image)
    if previous is None:
        return
    # The last frame lasts as long as the one before it (or one frame at the nominal rate).
    end = previous[0] + (last_gap if last_gap > 0 else 1 / plan.fps)
    while index < plan.count and plan.time_of(index) < end - tolerance:
        yield previous[1]
        index += 1


def _timed_video(info: ClipInfo, plan: FrameSchedule) -> Iterator[tuple[float, Image.Image]]:
    """(seconds from the stream's start, upright frame), from the keyframe before `start`."""
    path = info.path
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base or Fraction(1, 90000)
            origin = stream.start_time or 0
            if plan.start > 0:
                container.seek(origin + int(plan.start / time_base), stream=stream)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                time = float((frame.pts - origin) * time_base)
                if time < plan.start - 0.5 / info.fps:
                    continue
                yield time, _upright(frame)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise InputError(
            f"{path}: cannot decode the video ({_reason(error)})", code="clip_unreadable"
        ) from None


def _upright(frame: av.VideoFrame) -> Image.Image:
    """The frame as RGB, turned as its display matrix says (counter-clockwise degrees)."""
    image = frame.to_image()
    turn = round(getattr(frame, "rotation", 0) or 0) % 360
    transpose = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }.get(turn)
    return image.transpose(transpose) if transpose is not None else image


def _timed_animation(info: ClipInfo) -> Iterator[tuple[float, Image.Image]]:
    path = info.path
    try:
        with Image.open(path) as image:
            time = 0.0
            for frame in _loaded(image):
                delay = _delay_ms(frame)
                yield time, to_rgb(frame.convert("RGBA"))
                time += delay / 1000
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InputError(
            f"{path}: cannot decode the animation ({_reason(error)})", code="clip_unreadable"
        ) from None


def _fit(image: Image.Image, size: int) -> Image.Image:
    image = image.convert("RGB")
    wanted = fit_longer_side(*image.size, size)
    return image if wanted == image.size else image.resize(wanted, Image.Resampling.LANCZOS)
