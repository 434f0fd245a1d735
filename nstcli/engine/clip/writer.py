"""Writing clips with PyAV: H.264 MP4 that phones and Telegram play, animated GIF with one
palette for every frame, animated WebP; the source's audio carried over into MP4.

Frames are streamed into the encoder one at a time from a sequence that loads them on
demand (the clip pipeline's frame store), so memory does not grow with the length. The
file appears only when complete (`atomic.atomic_path`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from nstcli.engine.atomic import atomic_path
from nstcli.engine.errors import InputError, OutputError

#: What `write_clip` writes, by extension.
CLIP_FORMATS: dict[str, str] = {".mp4": "mp4", ".gif": "gif", ".webp": "webp"}
#: Audio codecs an MP4 takes as they are (anything else is re-encoded to AAC).
MP4_AUDIO = frozenset({"aac", "mp3"})
#: Frames sampled to build a GIF's one palette.
PALETTE_SAMPLES = 16
#: x264 quality (lower is better; 18 is visually lossless for most material).
H264_CRF = "18"


@dataclass(frozen=True)
class AudioSource:
    """The part of a file's audio that goes with the frames written."""

    path: Path
    start: float
    duration: float
    #: The source's own length: a copy needs the cut to be the whole of it.
    source_duration: float | None = None


def clip_format(path: str | os.PathLike[str]) -> str:
    """'mp4', 'gif' or 'webp' for `path`'s extension, or an `OutputError` naming them."""
    suffix = Path(path).suffix.lower()
    if suffix not in CLIP_FORMATS:
        choices = ", ".join(sorted(CLIP_FORMATS))
        raise OutputError(
            f"{path}: a clip is written as {choices} or a folder of frames (a name ending "
            f"in /), not {suffix or '(no extension)'}"
        )
    return CLIP_FORMATS[suffix]


def write_clip(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    fps: float,
    audio: AudioSource | None = None,
) -> Path:
    """Encode `frames` (all one size) at `fps` into `path` (.mp4, .gif or .webp)."""
    path = Path(path)
    kind = clip_format(path)
    if not frames:
        raise InputError("no frames to write")
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with atomic_path(path) as temp:
            if kind == "gif":
                _write_gif(frames, temp, rate)
            else:
                _write_video(frames, temp, rate, kind, audio if kind == "mp4" else None)
    except av.FFmpegError as error:
        raise OutputError(f"{path}: cannot encode ({error})") from None
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error.strerror or error})") from None
    return path


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even size within (width, height): 4:2:0 chroma needs even sides."""
    return max(2, width - width % 2), max(2, height - height % 2)


def _write_video(
    frames: Sequence[Image.Image], temp: Path, rate: Fraction, kind: str,
    audio: AudioSource | None,
) -> None:  # fmt: skip
    width, height = even_size(*frames[0].size)
    options = {"movflags": "+faststart"} if kind == "mp4" else {"loop": "0"}
    with av.open(str(temp), mode="w", format=kind, options=options) as container:
        if kind == "mp4":
            stream = container.add_stream("libx264", rate=rate)
            stream.options = {"crf": H264_CRF, "preset": "medium"}
        else:
            stream = container.add_stream("libwebp_anim", rate=rate)
            stream.options = {"quality": "90"}
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        carry = _AudioCarry(container, audio) if audio is not None else None

        def to_frame(image: Image.Image) -> av.VideoFrame:
            image = image.convert("RGB")
            if image.size != (width, height):
                image = image.crop((0, 0, width, height))
            return av.VideoFrame.from_image(image)

        _encode(container, stream, frames, to_frame, rate)
        if carry is not None:
            carry.write()


class _AudioCarry:
    """A source's audio into an MP4 being written: copied when the codec fits and the whole
    track is wanted, else decoded, cut and re-encoded to AAC."""

    def __init__(self, container: av.container.OutputContainer, audio: AudioSource):
        self.container, self.audio = container, audio
        self.source = av.open(str(audio.path))
        self.input = self.source.streams.audio[0] if self.source.streams.audio else None
        self.output = None
        if self.input is None:
            return
        whole = audio.start == 0 and (
            audio.source_duration is None or audio.duration >= audio.source_duration - 0.05
        )
        self.copy = whole and self.input.codec_context.name in MP4_AUDIO
        if self.copy:
            self.output = container.add_stream_from_template(self.input)
        else:
            self.output = container.add_stream("aac", rate=self.input.rate or 48000)
            self.output.layout = "stereo" if (self.input.channels or 2) > 1 else "mono"

    def write(self) -> None:
        try:
            if self.input is None or self.output is None:
                return
            if self.copy:
                for packet in self.source.demux(self.input):
                    if packet.dts is None:
                        continue
                    packet.stream = self.output
                    self.container.mux(packet)
            else:
                self._reencode()
        finally:
            self.source.close()

    def _reencode(self) -> None:
        assert self.input is not None and self.output is not None
        start, end = self.audio.start, self.audio.start + self.audio.duration
        origin = self.input.start_time or 0
        time_base = self.input.time_base or Fraction(1, self.input.rate or 48000)
        if start > 0:
            self.source.seek(origin + int(start / time_base), stream=self.input)
        resampler = av.AudioResampler(
            format=self.output.format, layout=self.output.layout, rate=self.output.rate
        )
        fifo = av.AudioFifo()
        rate = self.output.rate
        size = self.output.frame_size or 1024
        written = 0
        total = math.floor(self.audio.duration * rate)
        for frame in self.source.decode(self.input):
            if frame.pts is None:
                continue
            begins = float((frame.pts - origin) * time_base)
            if begins + frame.samples / frame.sample_rate <= start:
                continue
            if begins >= end:
                break
            frame.pts = None
            for converted in resampler.resample(frame):
                fifo.write(converted)
            while fifo.samples >= size and written < total:
                written = self._encode(fifo.read(size), written)
        for converted in resampler.resample(None):
            fifo.write(converted)
        while fifo.samples and written < total:
            written = self._encode(fifo.read(min(size, fifo.samples)), written)
        for packet in self.output.encode(None):
            self.container.mux(packet)

    def _encode(self, frame: av.AudioFrame, written: int) -> int:
        assert self.output is not None
        frame.pts = written
        frame.time_base = Fraction(1, self.output.rate)
        for packet in self.output.encode(frame):
            self.container.mux(packet)
        return written + frame.samples


def _write_gif(frames: Sequence[Image.Image], temp: Path, rate: Fraction) -> None:
    """One palette, made from frames across the clip, for every frame (no palette flicker),
    without dithering (whose noise would crawl from frame to frame)."""
    palette = gif_palette(frames)
    colours = np.asarray(palette.getpalette()[: 256 * 3], dtype=np.uint8).reshape(-1, 3)
    colours = np.concatenate([colours, np.zeros((256 - len(colours), 3), np.uint8)])
    argb = np.concatenate([colours, np.full((256, 1), 255, np.uint8)], axis=1)
    width, height = frames[0].size
    with av.open(str(temp), mode="w", format="gif", options={"loop": "0"}) as container:
        stream = container.add_stream("gif", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "pal8"

        def to_frame(image: Image.Image) -> av.VideoFrame:
            indices = image.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE)
            return av.VideoFrame.from_ndarray((np.asarray(indices), argb), format="pal8")

        _encode(container, stream, frames, to_frame, rate)


def _encode(
    container: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    frames: Sequence[Image.Image],
    to_frame: Callable[[Image.Image], av.VideoFrame],
    rate: Fraction,
) -> None:
    """Every frame, loaded one at a time, through the encoder at a constant `rate`."""
    for index in range(len(frames)):
        frame = to_frame(frames[index])
        frame.pts, frame.time_base = index, 1 / rate
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def gif_palette(frames: Sequence[Image.Image]) -> Image.Image:
    """A 256-colour palette image for the whole clip, from up to `PALETTE_SAMPLES` frames."""
    count = len(frames)
    picks = sorted({round(i * (count - 1) / max(1, PALETTE_SAMPLES - 1)) for i in range(
        min(count, PALETTE_SAMPLES))})  # fmt: skip
    samples = [frames[i].convert("RGB") for i in picks]
    width, height = samples[0].size
    mosaic = Image.new("RGB", (width, height * len(samples)))
    for row, sample in enumerate(samples):
        mosaic.paste(sample.resize((width, height)), (0, row * height))
    return mosaic.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
