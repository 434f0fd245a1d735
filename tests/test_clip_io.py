"""Clip I/O and flow: reading (metadata, schedules, rotation, bad files), writing (MP4 with
audio, GIF with one palette, WebP), and the optical flow's warp and reliability mask."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from nstcli.engine.clip import flow, source, writer
from nstcli.engine.clip.source import ClipInfo, ClipLimits, ClipSelection, FrameSchedule
from nstcli.engine.errors import InputError, OutputError
from tests import clipmaker


def _read(path: Path, selection: ClipSelection | None = None, size: int = 64):
    info = source.probe(path)
    plan = source.schedule(info, selection or ClipSelection(), ClipLimits())
    return info, plan, list(source.read_frames(info, plan, size))


def test_mp4_metadata_frames_and_audio(tmp_path):
    path = clipmaker.write_video(tmp_path / "a.mp4", clipmaker.frames(12), 12, audio_seconds=1)
    info, plan, frames = _read(path)
    assert (info.kind, info.fps, info.duration, info.has_audio) == ("video", 12, 1.0, True)
    assert plan == FrameSchedule(12, 0.0, 12) and len(frames) == 12
    assert frames[0].size == (64, 48) and frames[0].mode == "RGB"


def test_fps_start_duration_and_max_frames_cut(tmp_path):
    images = clipmaker.frames(24)
    path = clipmaker.write_video(tmp_path / "a.mp4", images, 12)
    _, plan, frames = _read(path, ClipSelection(fps=6))
    assert plan.count == 12 and len(frames) == 12
    _, plan, frames = _read(path, ClipSelection(start=1.0, duration=0.5))
    assert plan.count == 6 and len(frames) == 6
    # frame 12 of the source (the 2 px pan's 13th view) comes first
    first = np.asarray(frames[0], np.float32)
    errors = [np.abs(first - np.asarray(image, np.float32)).mean() for image in images]
    assert int(np.argmin(errors)) == 12
    _, plan, frames = _read(path, ClipSelection(max_frames=5))
    assert plan.count == 5 and len(frames) == 5
    with pytest.raises(InputError, match="past the end"):
        _read(path, ClipSelection(start=5))


def test_a_two_hour_video_is_refused_from_its_metadata(tmp_path):
    path = clipmaker.write_two_hours(tmp_path / "long.mp4")
    info = source.probe(path)
    assert info.duration is not None and info.duration > 7000
    with pytest.raises(InputError, match=r"2:00:0\d at \d+ fps is [\d,]+ frames, more than"):
        source.schedule(info, ClipSelection(), ClipLimits())
    with pytest.raises(InputError, match=r"longer than the 10\.0 s limit"):
        source.schedule(info, ClipSelection(max_frames=1000), ClipLimits(max_seconds=10))
    fake = ClipInfo(path, "video", 1920, 1080, 30.0, 7200.0, True)
    assert source.schedule(fake, ClipSelection(duration=2), ClipLimits()).count == 60


def test_rotation_metadata_is_applied(tmp_path):
    coded = np.zeros((32, 64, 3), np.uint8)
    coded[:, :16] = 255  # a white band on the left of the coded frame
    image = Image.fromarray(coded)
    path = clipmaker.write_video(tmp_path / "r.mp4", [image] * 2, 12, rotation=90)
    _, _, frames = _read(path)
    upright = np.asarray(frames[0].convert("L"), np.float32)
    assert frames[0].size == (32, 64)
    # 90° counter-clockwise (the display matrix's sense): the left band ends at the bottom
    assert upright[-12:].mean() > 200 and upright[:40].mean() < 60


def test_animated_gif_and_variable_delays(tmp_path):
    images = clipmaker.frames(5)
    path = tmp_path / "v.gif"
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=[300, 100, 100, 100, 100], loop=0
    )
    assert source.is_clip(path)
    info, plan, frames = _read(path)
    assert info.kind == "animation" and info.fps == 10 and info.duration == pytest.approx(0.7)
    # the long first frame is held for 3 frames at the typical 10 fps
    assert plan.count == 7 and len(frames) == 7
    assert np.array_equal(np.asarray(frames[0]), np.asarray(frames[2]))
    single = tmp_path / "still.gif"
    images[0].save(single)
    assert not source.is_clip(single)


def test_a_variable_rate_video_with_b_frames_is_read_to_its_last_frames(tmp_path):
    """Its MP4 states a duration from decoding timestamps, which with B-frames lag the
    shown ones: 1.68 s here, for frames shown until 1.93 s. The schedule follows the
    timestamps, so the last frames are read (they were lost)."""
    times = [0, 0.1, 0.15, 0.3, 0.45, 0.5, 0.7, 0.9, 1.0, 1.2, 1.25, 1.5, 1.7, 1.9]
    greys = [10 + 17 * index for index in range(len(times))]
    images = [Image.new("RGB", (64, 48), (grey,) * 3) for grey in greys]
    path = clipmaker.write_timed_video(tmp_path / "vfr.mp4", images, times)
    with av.open(str(path)) as container:  # the case: the stated length falls short
        stream = container.streams.video[0]
        assert stream.codec_context.has_b_frames
        assert float(stream.duration * stream.time_base) < 1.8
    info, plan, frames = _read(path)
    # past the last frame's start (how long that one lasts is the muxer's guess)
    assert 1.9 < info.duration <= 2.2
    assert plan.count == round(info.duration * info.fps) and len(frames) == plan.count
    shown = [frame.getpixel((32, 24))[0] for frame in frames]
    # each output frame is the source frame on show at its time (within 1/4 frame)
    for index, grey in enumerate(shown):
        at = plan.time_of(index) + 0.25 / info.fps
        expected = greys[max(i for i, t in enumerate(times) if t <= at)]
        assert abs(grey - expected) <= 4, (index, grey, expected)
    assert any(abs(grey - greys[-2]) <= 4 for grey in shown)  # the frame from 1.7 s


def test_the_parallax_clip_has_two_depths():
    """The far picture pans at half the speed and the near posts pass at twice it."""
    from nstcli import samples

    picture, speed = samples.content_scene(160, 120), 2.0
    near_far = list(samples.camera_move(picture, "parallax", 3, 64, 48, speed))
    far = list(samples.camera_move(picture, "pan", 3, 64, 48, speed / 2))
    for index, (frame, background) in enumerate(zip(near_far, far, strict=True)):
        posts = np.asarray(samples.parallax_posts(64, 48, index, speed)) > 0
        assert 0.05 < posts.mean() < 0.5
        assert np.array_equal(np.asarray(frame)[~posts], np.asarray(background)[~posts])
    # inside the posts, frame 1 is frame 0 moved left by 2 × speed (4 px)
    both = (np.asarray(samples.parallax_posts(64, 48, 1, speed)) > 0) & np.roll(
        np.asarray(samples.parallax_posts(64, 48, 0, speed)) > 0, -4, axis=1
    )
    moved = np.roll(np.asarray(near_far[0]), -4, axis=1)
    assert both.sum() > 100
    assert np.array_equal(np.asarray(near_far[1])[both], moved[both])


def test_resampling_variable_frame_rate():
    frames = [(t, Image.new("L", (1, 1), i)) for i, t in enumerate([0.0, 0.1, 0.15, 0.4])]
    plan = FrameSchedule(fps=10, start=0.0, count=5)
    shown = [image.getpixel((0, 0)) for image in source._resample(iter(frames), plan, 0.01)]
    assert shown == [0, 1, 2, 2, 3]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.mp4", b"", "empty"),
        ("noise.mp4", bytes(range(256)) * 40, "not a video file"),
        ("missing.mp4", None, "no such file"),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        source.probe(path)


def test_no_video_stream_and_truncated_file(tmp_path):
    sound = tmp_path / "sound.mp4"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(InputError, match="no video stream"):
        source.probe(sound)
    whole = clipmaker.write_video(tmp_path / "whole.mp4", clipmaker.frames(8), 12)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(InputError):
        info = source.probe(cut)
        list(source.read_frames(info, source.schedule(info, ClipSelection(), ClipLimits()), 64))


def test_mp4_out_keeps_frames_and_audio_and_even_size(tmp_path):
    path = clipmaker.write_video(tmp_path / "a.mp4", clipmaker.frames(12), 12, audio_seconds=1)
    odd = [image.resize((65, 49)) for image in clipmaker.frames(12)]
    out = writer.write_clip(odd, tmp_path / "o.mp4", 12, writer.AudioSource(path, 0, 1.0, 1.0))
    count, audio, h264 = clipmaker.count_frames(out)
    assert (count, h264) == (12, True) and audio == pytest.approx(1.0, abs=0.05)
    info = source.probe(out)
    assert (info.width, info.height, info.fps) == (64, 48, 12)
    # a cut re-encodes the audio to the cut's length
    cut = writer.write_clip(odd[:6], tmp_path / "c.mp4", 12, writer.AudioSource(path, 0.5, 0.5, 1))
    assert clipmaker.count_frames(cut)[1] == pytest.approx(0.5, abs=0.05)
    assert not list(tmp_path.glob(".*part"))


def test_gif_out_has_one_palette_and_webp_out_animates(tmp_path):
    frames = clipmaker.frames(6)
    gif = writer.write_clip(frames, tmp_path / "o.gif", 12)
    with Image.open(gif) as image:
        entries = np.asarray(image.getpalette() or [], np.uint8).reshape(-1, 3)
        palette = {tuple(colour) for colour in entries}
        for index in range(image.n_frames):  # every frame draws from the first's palette
            image.seek(index)
            colours = np.asarray(image.convert("RGB")).reshape(-1, 3)
            assert {tuple(colour) for colour in np.unique(colours, axis=0)} <= palette
        assert image.n_frames == 6
    webp = writer.write_clip(frames, tmp_path / "o.webp", 12)
    info = source.probe(webp)
    assert info.kind == "animation" and info.frames == 6
    with pytest.raises(OutputError, match="mp4"):
        writer.write_clip(frames, tmp_path / "o.avi", 12)


def test_flow_warps_a_pan_back_and_marks_the_new_edge_unreliable():
    frames = [np.asarray(image) for image in clipmaker.frames(2, 96, 72)]
    motion = flow.motion_between(frames[0], frames[1], flow.DisFlow())
    # the view moved right by 2 px: pixel x of frame 1 was at x + 2 in frame 0
    assert np.median(motion.backward[..., 0]) == pytest.approx(2, abs=0.3)
    assert np.median(np.abs(motion.backward[..., 1])) < 0.3
    assert motion.reliable[:, -1].mean() < 0.5 < motion.reliable[:, 10:-10].mean()
    assert flow.warping_error(frames[0], frames[1], motion) < 4
    noise = np.random.default_rng(0).integers(0, 255, frames[1].shape, dtype=np.uint8)
    assert flow.warping_error(frames[0], noise, motion) > 40
