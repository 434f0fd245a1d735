"""Moving pictures through the bot: GIF animations, videos and video messages in, a
stylised animation or video out (the real clip pipeline on the packaged lite network,
tiny clips of a few frames), and every refusal as one sentence in the user's language."""

from __future__ import annotations

import io
import logging
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nstcli.bot import texts
from nstcli.bot.config import ClipConfig
from nstcli.bot.i18n import translator
from nstcli.engine.clip import pipeline
from tests import clipmaker
from tests.bot.conftest import User, solid

RU = translator("ru")


def clip_bytes(tmp_path: Path, count: int = 3, fps: float = 12, name: str = "clip.mp4", **kw):
    """A tiny H.264 pan over the sample scene, as the bytes Telegram would hand out."""
    path = clipmaker.write_video(tmp_path / name, clipmaker.frames(count, 48, 32), fps, **kw)
    return path.read_bytes()


def audio_only_mp4(tmp_path: Path) -> bytes:
    """An MP4 with a sound track and no picture (a voice memo renamed .mp4)."""
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=48000)
        sound.layout = "mono"
        size = sound.frame_size or 1024
        for start in range(0, 48000 // 2, size):
            wave = np.zeros((1, size), np.float32)
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return path.read_bytes()


def decoded(data: bytes, tmp_path: Path) -> tuple[int, tuple[int, int], bool]:
    """(frames, size, H.264 yuv420p) of a result MP4."""
    path = tmp_path / f"result-{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    frames, size, h264 = clipmaker.count_frames(path)[0], None, False
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.width, stream.codec_context.height)
        h264 = stream.codec_context.name == "h264" and stream.format.name == "yuv420p"
    return frames, size, h264


def send_style(api, user: User) -> None:
    asked = user.texts().count(texts.GOT_STYLE) + user.texts().count(RU(texts.GOT_STYLE))
    user.photo(solid(3, (32, 32)))
    api.wait_for(
        lambda: (
            user.texts().count(texts.GOT_STYLE) + user.texts().count(RU(texts.GOT_STYLE)) > asked
        ),
        30,
        "the network keyboard",
    )


def test_an_animation_and_a_style_get_an_animation_back_counting_by_length(
    api, start_bot, tmp_path
):
    # 3 frames, 2 frames a job: the clip counts as two of the hour's two jobs.
    start_bot(size=48, steps=3, rate_limit=2, clips=ClipConfig(frames_per_job=2))
    user = User(api, 700)
    api.user_video(700, clip_bytes(tmp_path, 3), duration=1, kind="animation")
    user.wait_text(texts.GOT_CLIP)
    user.wait_text("Your clip gives 3 frames at 12 fps.")
    send_style(api, user)
    keyboard = [label for _id, label, _data in api.buttons(700)]
    assert "☐ + ×4 upscale" not in keyboard  # image-only options are not offered for clips
    user.press("Lite")
    (result,) = user.wait_results(1, timeout=180)
    assert result.method == "sendAnimation"
    assert result.params["caption"].startswith("EfficientNet-Lite0 (Lite) · 48 px · 3 frames")
    frames, size, h264 = decoded(result.files["animation"], tmp_path)
    assert (frames, size, h264) == (3, (48, 32), True)
    progress = [c.params["text"] for c in api.sent("editMessageText", 700)]
    assert any("frame 1 of 3" in text for text in progress), progress
    api.wait_for(
        lambda: any(
            "done in" in t for t in [c.params["text"] for c in api.sent("editMessageText", 700)]
        ),
        20,
        "the status to say done",
    )
    # the clip used up the hour's limit of two jobs: a photo job now is refused
    user.submit("Lite")
    user.wait_text("limit here")
    assert len(user.results()) == 1


def test_a_video_in_russian_gets_a_video_back_with_its_sound(api, start_bot, tmp_path):
    api.languages[701] = "ru"
    start_bot(size=48, steps=3, preview=True)
    user = User(api, 701)
    data = clip_bytes(tmp_path, 3, audio_seconds=0.25)
    api.user_video(701, data, duration=1, kind="video")
    user.wait_text(RU(texts.GOT_CLIP))
    send_style(api, user)
    user.press("Lite")
    (result,) = user.wait_results(1, timeout=180)
    assert result.method == "sendVideo"
    assert "3 кадра" in result.params["caption"], result.params["caption"]
    path = tmp_path / "video-result.mp4"
    path.write_bytes(result.files["video"])
    frames, audio, h264 = clipmaker.count_frames(path)
    assert frames == 3 and h264 and audio is not None and audio > 0.2
    # the status was a photo (the clip's first frame) that showed finished frames
    (status,) = api.status_photos(701)
    assert api.previews.get((701, status.message_id)), "no frame was previewed"
    captions = [c.params.get("caption", "") for c in api.sent("editMessageCaption", 701)]
    assert any("кадр" in caption for caption in captions), captions


def test_too_long_clips_are_refused_from_their_metadata(api, start_bot, tmp_path):
    start_bot(size=48, steps=3)
    user = User(api, 702)
    # Telegram says it lasts an hour: refused before any download is asked for
    api.user_video(702, None, duration=3600, kind="video", size=15 * 1024 * 1024)
    user.wait_text("That clip is 3600.0 s long; I take clips of up to 10 seconds.")
    assert not api.sent("getFile")
    # a file that does not say: its container does (15 s at 2 fps), read before decoding
    long_clip = clip_bytes(tmp_path, 30, fps=2)
    api.user_document(702, long_clip, "video/mp4", "long.mp4")
    user.wait_text("That clip is 15.0 s long")
    api.languages[703] = "ru"
    other = User(api, 703)
    api.user_video(703, None, duration=95, kind="video_note")
    other.wait_text("95.0 с")
    assert RU(texts.GOT_CLIP) not in other.texts() and texts.GOT_CLIP not in user.texts()


def test_undecodable_clips_get_one_clear_sentence(api, start_bot, tmp_path):
    start_bot(size=48, steps=3)
    user = User(api, 704)
    whole = clip_bytes(tmp_path, 3)
    api.user_video(704, whole[: len(whole) // 3], kind="video")  # truncated in the middle
    api.user_document(704, audio_only_mp4(tmp_path), "video/mp4", "voice.mp4")
    api.user_video(704, b"\x00\x01garbage" * 50, kind="animation")
    user.wait_text(texts.CLIP_NO_VIDEO)
    api.wait_for(
        lambda: (
            user.texts().count(texts.CLIP_UNREADABLE) + user.texts().count(texts.CLIP_NO_FRAMES)
            == 2
        ),
        30,
        lambda: f"two unreadable-clip replies (got {user.texts()})",
    )
    api.languages[705] = "ru"
    other = User(api, 705)
    api.user_video(705, b"\x00\x01garbage" * 50, kind="video")
    other.wait_text(RU(texts.CLIP_UNREADABLE))
    # the conversation goes on: nothing was taken as the photo
    user.say("now?")
    user.wait_text(texts.NEED_IMAGE_CONTENT)


def test_a_clip_is_no_style_and_an_animated_gif_file_is_a_clip(api, start_bot, tmp_path):
    start_bot(size=48, steps=3)
    user = User(api, 706)
    user.photo()
    user.wait_text(texts.GOT_CONTENT)
    api.user_video(706, clip_bytes(tmp_path, 3), kind="animation")
    user.wait_text(texts.STYLE_NOT_CLIP)
    gif = io.BytesIO()
    pictures = clipmaker.frames(3, 32, 24)
    pictures[0].save(gif, format="GIF", save_all=True, append_images=pictures[1:], duration=100)
    user.say("/cancel")
    user.wait_text(texts.CLEARED)
    api.user_document(706, gif.getvalue(), "image/gif", "anim.gif")
    user.wait_text("Your clip gives 3 frames at 10 fps.")


def test_a_clip_job_resumes_from_its_finished_frames_after_a_restart(
    api, start_bot, tmp_path, monkeypatch, caplog
):
    """Stopping the bot mid-clip pauses the job; the next start finishes the clip,
    stylising only the frames not already on disk."""
    caplog.set_level(logging.INFO, logger="nstcli.bot.jobs")
    runs: list[float] = []
    original = pipeline.run
    paced = threading.Event()

    def slow_run(*args, **kwargs):
        result = original(*args, **kwargs)
        runs.append(time.monotonic())
        if paced.is_set():
            time.sleep(0.6)  # time to stop the bot between frames
        return result

    monkeypatch.setattr(pipeline, "run", slow_run)
    paced.set()
    data = tmp_path / "bot-data"
    bot = start_bot(data, size=48, steps=3)
    user = User(api, 707)
    api.user_video(707, clip_bytes(tmp_path, 5), duration=1, kind="video")
    user.wait_text(texts.GOT_CLIP)
    send_style(api, user)
    user.press("Lite")
    api.wait_for(
        lambda: any(
            "frame 2 of 5" in c.params.get("text", "") for c in api.sent("editMessageText", 707)
        ),
        120,
        "two frames to be finished",
    )
    bot.close()
    finished = len(list((data / "clips").glob("*/frames/frame_*.png")))
    assert 2 <= finished < 5 and not user.results()
    paced.clear()
    restarted = time.monotonic()
    start_bot(data, size=48, steps=3)
    (result,) = user.wait_results(1, timeout=180)
    assert decoded(result.files["video"], tmp_path)[0] == 5
    after = [at for at in runs if at > restarted]
    assert len(after) == 5 - finished, (len(after), finished)
    assert f"resumed after frame {finished}" in caplog.text
    clips = data / "clips"
    api.wait_for(lambda: not list(clips.iterdir()), 20, "the frames to go with the job")


def test_a_video_message_is_a_clip(api, start_bot, tmp_path):
    start_bot(size=48, steps=3)
    user = User(api, 708)
    api.user_video(708, clip_bytes(tmp_path, 2), duration=1, kind="video_note")
    user.wait_text(texts.GOT_CLIP)
    user.wait_text("Your clip gives 2 frames at 12 fps.")


def test_a_bot_with_clips_off_refuses_them_all(api, start_bot, tmp_path):
    start_bot(size=48, steps=3, clips=ClipConfig(enabled=False))
    user = User(api, 709)
    api.user_video(709, clip_bytes(tmp_path, 2), kind="animation")
    gif = io.BytesIO()
    pictures = clipmaker.frames(2, 32, 24)
    pictures[0].save(gif, format="GIF", save_all=True, append_images=pictures[1:], duration=100)
    api.user_document(709, gif.getvalue(), "image/gif", "anim.gif")
    api.wait_for(lambda: user.texts().count(texts.ANIMATED) == 2, 30, "two refusals")
    assert texts.GOT_CLIP not in user.texts()
