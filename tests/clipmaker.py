"""Tiny synthetic clips for the clip tests: a few frames of 64 px, with known motion,
optionally with a sine-tone audio track and rotation metadata (written with PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from nstcli import samples


def frames(count: int = 4, width: int = 64, height: int = 48, motion: str = "pan") -> list:
    return list(samples.camera_move(samples.content_scene(160, 120), motion, count, width,
                                    height, speed=2.0))  # fmt: skip


def write_video(
    path: Path,
    images: list[Image.Image],
    fps: float = 12,
    audio_seconds: float | None = None,
    audio_codec: str = "aac",
    rotation: int = 0,
    codec: str = "libx264",
) -> Path:
    """An H.264 (or `codec`) video of `images` at `fps`, with a 440 Hz tone if asked."""
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = images[0].size
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        sound = None
        if audio_seconds:
            sound = container.add_stream(audio_codec, rate=48000)
            sound.layout = "mono"
        for index, image in enumerate(images):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = index, 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            size = sound.frame_size or 1024
            total = int(48000 * audio_seconds)
            for start in range(0, total, size):
                n = min(size, total - start)
                t = (np.arange(start, start + n) / 48000).astype(np.float32)
                wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


def write_two_hours(path: Path) -> Path:
    """Two frames two hours apart: the metadata says 2 h, and only decoding could tell more."""
    rate = Fraction(30)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for pts in (0, 2 * 3600 * 30):
            frame = av.VideoFrame.from_image(frames(1)[0])
            frame.pts, frame.time_base = pts, 1 / rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_gif(path: Path, images: list[Image.Image], delay_ms: int = 100) -> Path:
    images[0].save(path, save_all=True, append_images=images[1:], duration=delay_ms, loop=0)
    return path


def count_frames(path: Path) -> tuple[int, float | None, bool]:
    """(decoded video frames, audio seconds or None, whether the video is H.264 yuv420p)."""
    if path.suffix in (".gif", ".webp"):
        with Image.open(path) as image:
            return image.n_frames, None, False
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        h264 = video.codec_context.name == "h264" and video.format.name == "yuv420p"
        count = sum(1 for _ in container.decode(video))
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return count, None, h264
        samples_total = sum(frame.samples for frame in container.decode(audio=0))
        return count, samples_total / container.streams.audio[0].rate, h264


def write_timed_video(path: Path, images: list[Image.Image], times: list[float]) -> Path:
    """An H.264 video (x264's defaults: B-frames) showing `images[i]` from `times[i]` s:
    a variable frame rate, with millisecond timestamps."""
    tick = Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = images[0].size
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = tick
        for image, seconds in zip(images, times, strict=True):
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = round(seconds * 1000), tick
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
