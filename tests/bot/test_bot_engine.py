"""End to end with the real engine: the packaged lite backbone, tiny size, few steps."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from nstcli import samples
from nstcli.bot import texts
from tests.bot.conftest import User


def test_real_engine_lite_end_to_end(api, start_bot):
    start_bot(size=48, steps=3)
    user = User(api, 600)
    user.submit("Lite", content=samples.content_scene(64, 48))
    (result,) = user.wait_results(1, timeout=180)
    image = Image.open(io.BytesIO(result.files["photo"]))
    assert max(image.size) == 48 and image.size == (48, 36)
    content = np.asarray(samples.content_scene(48, 36), dtype=np.int16)
    # the optimisation moved pixels away from the content (it is not a copy)
    assert np.abs(np.asarray(image.convert("RGB"), dtype=np.int16) - content).mean() > 0.5
    api.wait_for(
        lambda: any("done in" in c.params["text"] for c in api.sent("editMessageText", 600)),
        20,
        "the status to say done",
    )


def test_missing_weights_get_an_apology_not_a_crash(api, start_bot):
    # conftest isolates weights and sets NST_OFFLINE=1: ResNet50's file cannot be found
    start_bot(size=32, steps=2)
    user = User(api, 601)
    user.submit("ResNet50")
    reply = user.wait_text("Sorry, your job failed", timeout=120)
    assert texts.WEIGHTS_MISSING in reply
    assert "/" not in reply.split(":", 1)[1]  # no server paths in what users see
    assert not user.results()
    # and the bot still serves: lite works offline
    user.submit("Lite")
    user.wait_results(1, timeout=180)


def test_real_engine_previews_replace_the_status_photo_then_the_result_arrives(api, start_bot):
    """The real `execute.stylize_one` snapshot path (not the stub's copy of its timing)."""
    start_bot(size=48, steps=8, preview=True, progress_interval=0)
    user = User(api, 602)
    content = samples.content_scene(64, 48)
    user.submit("Lite", content=content)
    (result,) = user.wait_results(1, timeout=180)
    (status,) = api.status_photos(602)
    key = (602, status.message_id)
    api.wait_for(lambda: "done in" in api.message_text(*key), 20, "the status to say done")
    # the status photo starts as the content, at the content's size
    assert Image.open(io.BytesIO(status.files["photo"])).size == (64, 48)
    # then frames of the run replace it: 8 steps, a snapshot every 2 (steps 2, 4, 6), the
    # last one skipped since the result follows; no rate limit (interval 0) drops any
    frames = [Image.open(io.BytesIO(frame)) for frame in api.previews[key]]
    assert len(frames) == 3, len(frames)
    for frame in frames:
        assert frame.format == "JPEG" and frame.size == (48, 36)  # the run's image, not the photo
    media = api.sent("editMessageMedia", 602)
    assert all(edit.at < result.at for edit in media)  # previews come before the result
    final = np.asarray(Image.open(io.BytesIO(result.files["photo"])).convert("RGB"), np.int16)
    assert final.shape == (36, 48, 3)
