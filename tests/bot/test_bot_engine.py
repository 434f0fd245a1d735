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
