"""Scripted conversations with the real bot polling the fake Bot API (engine stubbed)."""

from __future__ import annotations

import io
import itertools
import logging
import struct
import threading
import zlib

import pytest
import torch
from PIL import Image

from nstcli.bot import choices, execute, texts
from nstcli.bot.store import Store
from tests.bot.conftest import User, colour_of, solid
from tests.bot.fakeapi import TOKEN

SECRET = TOKEN.split(":", 1)[1]


def result_image(call) -> Image.Image:
    data = call.files.get("photo") or call.files.get("document")
    return Image.open(io.BytesIO(data)).convert("RGB")


def close_colour(a, b, tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def png_bytes(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` (a decompression bomb as far as headers go)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def status_message_id(api, chat: int) -> int:
    return api.wait_for(
        lambda: next(
            (c.message_id for c in api.sent("sendMessage", chat) if "queued" in c.params["text"]),
            None,
        ),
        20,
        "a status message",
    )


@pytest.mark.parametrize(
    ("label", "backbone"), [("VGG19", "vgg"), ("ResNet50", "resnet"), ("Lite", "lite")]
)
def test_happy_path_for_each_backbone(api, engine, start_bot, label, backbone):
    start_bot()
    user = User(api, 7)
    user.say("/start")
    user.wait_text("repaint")
    user.wait_text("/settings")  # /start explains in two short messages
    user.submit(label)
    (result,) = user.wait_results()
    assert result.method == "sendPhoto"
    assert engine.calls[0]["backbone"] == backbone
    assert engine.calls[0]["size"] == 64 and engine.calls[0]["steps"] == 10
    image = result_image(result)
    assert max(image.size) == 64
    assert close_colour(image.getpixel((5, 5)), colour_of(7))
    status_id = status_message_id(api, 7)
    api.wait_for(lambda: "done" in api.message_text(7, status_id), 10, "the status to say done")
    # the used keyboard was replaced, and no edit repeated the text already shown
    assert not [b for b in api.buttons(7) if b[2].startswith("run:")]
    assert not api.identical_edits


def test_images_sent_as_files_are_accepted(api, engine, start_bot):
    start_bot()
    user = User(api, 8)
    api.user_document(8, png_bytes(solid(8)), "image/png", "content.png")
    user.wait_text("Now send the style")
    api.user_document(8, png_bytes(solid(3), "WEBP"), "image/webp", "style.webp")
    user.press("Lite")
    (result,) = user.wait_results()
    assert close_colour(result_image(result).getpixel((3, 3)), colour_of(8))


def test_every_bad_input_gets_a_clear_reply(api, engine, start_bot):
    start_bot(size=64)
    user = User(api, 9)
    user.say("hello")
    user.wait_text(texts.NEED_IMAGE_CONTENT)
    api.user_sticker(9)
    user.wait_text(texts.STICKER)
    api.user_document(9, b"%PDF-1.4 not an image", "application/pdf", "paper.pdf")
    user.wait_text("(application/pdf) isn't an image")
    api.user_document(9, b"\x89PNG\r\n\x1a\n garbage", "image/png", "broken.png")
    user.wait_text(texts.CORRUPT)
    api.user_document(9, None, "image/jpeg", "huge.jpg", size=25 * 1024 * 1024)
    user.wait_text("up to 20 MB")
    api.user_video(9)  # five bytes of "video": nothing FFmpeg can read (tests/bot/test_clips.py)
    user.wait_text(texts.CLIP_UNREADABLE)
    user.say("/frobnicate")
    user.wait_text(texts.UNKNOWN_COMMAND)
    api.user_document(9, png_header(20000, 20000), "image/png", "bomb.png")
    api.user_document(9, png_header(10000, 9000), "image/png", "big.png")
    api.wait_for(
        lambda: user.texts().count(texts.TOO_MANY_PIXELS) == 2, 20, "two too-many-pixels replies"
    )
    assert not engine.calls
    # An oversized image is accepted with a note, and the flow goes on.
    user.photo(solid(9, (200, 150)))
    user.wait_text("200×150; I'll scale it down to 64 px")
    user.say("what now?")
    user.wait_text(texts.NEED_IMAGE_STYLE)
    user.photo(solid(1))
    user.wait_text(texts.GOT_STYLE)
    user.say("and now?")
    user.wait_text(texts.NEED_CHOICE)
    user.press("Lite")
    user.wait_results()
    # the oversized 25 MB file was never requested from Telegram
    assert all(c.params.get("file_id") != "huge" for c in api.sent("getFile"))
    assert len(engine.calls) == 1


def test_second_job_while_one_runs_and_stale_buttons(api, engine, start_bot):
    engine.gate = threading.Event()
    start_bot()
    user = User(api, 10)
    user.photo()
    user.wait_text("Now send the style")
    user.photo(solid(1))
    used = api.wait_for(lambda: [b for b in api.buttons(10) if b[1].endswith("Lite")], 20, "keys")
    message_id, _, data = used[0]
    api.user_press(10, message_id, data)
    api.wait_for(lambda: engine.calls, 20, "the job to start")
    user.submit("VGG19")
    user.wait_text("You already have a job running")
    # the first keyboard's button, pressed again, is stale
    api.user_press(10, message_id, data)
    api.wait_for(
        lambda: any(
            c.params.get("text") == texts.BUTTON_EXPIRED for c in api.sent("answerCallbackQuery")
        ),
        20,
        "a stale-button answer",
    )
    engine.gate.set()
    user.wait_results(1)
    assert len(engine.calls) == 1
    # the pair refused while busy is still pending: pressing its button now works (its
    # keyboard's "VGG19", not the result's "↻ VGG19"; once the first job is stored done)
    api.wait_for(lambda: any(t.startswith("✅") for t in statuses(api, 10)), 20, "✅ done")
    message_id, _, data = [b for b in api.buttons(10) if b[1] == "VGG19"][-1]
    api.user_press(10, message_id, data)
    user.wait_results(2)
    assert [c["backbone"] for c in engine.calls] == ["lite", "vgg"]


def statuses(api, chat: int) -> list[str]:
    """What the messages in `chat` say now (texts, or captions of photos)."""
    return [api.message_text(c, m) for (c, m) in list(api.messages) if c == chat]


def test_cancel_queued_and_running_jobs(api, engine, start_bot):
    engine.gate = threading.Event()
    start_bot(workers=1)
    first, second = User(api, 11), User(api, 12)
    first.submit("Lite")
    api.wait_for(lambda: engine.calls, 20, "the first job to start")
    second.submit("Lite")
    second.wait_text("queued, position 1")
    second.say("/status")
    second.wait_text("number 1 in the queue")
    second.say("/cancel")
    second.wait_text(texts.CANCELLED)
    status_id = status_message_id(api, 12)
    assert api.message_text(12, status_id) == texts.CANCELLED_STATUS
    first.say("/status")
    first.wait_text("running now")
    first.say("/cancel")
    first.wait_text(texts.STOPPING)
    first_status = status_message_id(api, 11)
    api.wait_for(
        lambda: api.message_text(11, first_status) == texts.CANCELLED_STATUS, 20, "cancelled"
    )
    engine.gate.clear()
    engine.gate = None
    first.say("/cancel")
    first.wait_text(texts.NOTHING_TO_CANCEL)
    assert not first.results() and not second.results()
    # a cancelled user can start again
    first.submit("Lite")
    first.wait_results()
    assert len(engine.calls) == 2  # the cancelled queued job never reached the engine


def test_cancel_clears_pending_images(api, engine, start_bot):
    start_bot()
    user = User(api, 13)
    user.photo()
    user.wait_text("Now send the style")
    user.say("/cancel")
    user.wait_text(texts.CLEARED)
    user.say("/status")
    user.wait_text("You have no job")


def test_settings_change_size_steps_and_quality(api, engine, start_bot):
    start_bot(size=384, steps=10)  # the menu offers the sizes up to 384: 256 and 384 px
    user = User(api, 14)
    user.say("/settings")
    user.wait_text("Size: 384 px")
    user.press("256 px")
    api.wait_for(lambda: "Size: 256 px" in api.message_text(14, api.buttons(14)[0][0]), 20, "edit")
    user.press("50 steps")
    api.wait_for(lambda: "Steps: 50" in api.message_text(14, api.buttons(14)[0][0]), 20, "edit")
    user.press("Full quality")
    api.wait_for(
        lambda: (
            "Full quality (also send a PNG file): on" in api.message_text(14, api.buttons(14)[0][0])
        ),
        20,
        "full quality on",
    )
    user.submit("Lite")
    results = user.wait_results(2)
    assert sorted(c.method for c in results) == ["sendDocument", "sendPhoto"]
    assert engine.calls[0]["steps"] == 50 and engine.calls[0]["size"] == 256
    assert not api.identical_edits


def test_engine_failure_is_apologised_for_and_the_bot_keeps_serving(api, engine, start_bot):
    engine.fail_with = RuntimeError("boom")
    bot = start_bot()
    user = User(api, 15)
    user.submit("Lite")
    user.wait_text("Sorry, your job failed: an internal error")
    engine.fail_with = None
    other = User(api, 16)
    other.submit("Lite")
    other.wait_results()
    user.submit("Lite")
    user.wait_results()
    store = Store(bot.config.data_dir / "bot.sqlite3")
    try:  # the result is sent before its job is recorded done: wait for that, then stop
        api.wait_for(
            lambda: [j.status for j in store.jobs_for(15)] == ["failed", "done"],
            20,
            "user 15's jobs to be recorded failed, done",
        )
    finally:
        store.close()
    bot.close()


def test_users_outside_the_allow_list_get_one_refusal_and_no_work(api, engine, start_bot):
    start_bot(allow_users=frozenset({17}))
    stranger = User(api, 18)
    stranger.say("/start")
    stranger.photo()
    stranger.photo()
    stranger.wait_text(texts.REFUSED)
    friend = User(api, 17)
    friend.submit("Lite")
    friend.wait_results()
    assert stranger.texts() == [texts.REFUSED]
    assert len(engine.calls) == 1
    assert len(api.sent("getFile")) == 2  # only the friend's two images were fetched


def test_429_on_send_photo_waits_retry_after(api, engine, start_bot):
    start_bot()
    user = User(api, 19)
    user.photo()
    api.wait_for(lambda: api.galleries(19), 30, "the gallery after the photo")
    api.fail("sendPhoto", 429, retry_after=1)  # the next photo sent: the result
    user.photo(solid(1))
    user.wait_text(texts.GOT_STYLE)
    user.press("Lite")
    user.wait_results()
    attempts = api.sent("sendPhoto", 19, ok_only=False)[1:]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95


def test_polling_survives_server_errors(api, engine, start_bot):
    start_bot()
    api.fail("getUpdates", 502, times=2)
    api.fail("sendMessage", 500, times=1)
    user = User(api, 20)
    user.say("/help")
    user.wait_text("repaint", timeout=40)


def test_queue_full_and_rate_limit(api, engine, start_bot):
    engine.gate = threading.Event()
    start_bot(max_queue=1, rate_limit=1)
    first, second = User(api, 21), User(api, 22)
    first.submit("Lite")
    api.wait_for(lambda: engine.calls, 20, "the first job")
    second.submit("Lite")
    second.wait_text("The queue is full")
    engine.gate.set()
    first.wait_results()
    first.submit("Lite")
    first.wait_text("limit here")
    assert len(engine.calls) == 1


def test_progress_edits_are_throttled_and_never_repeat(api, engine, start_bot):
    engine.step_seconds = 0.05
    start_bot(steps=40, progress_interval=0.5)
    user = User(api, 23)
    user.submit("Lite")
    user.wait_results()
    status_id = status_message_id(api, 23)
    progress = [
        c
        for c in api.sent("editMessageText", 23)
        if int(c.params["message_id"]) == status_id and "%" in c.params["text"]
    ]
    assert 2 <= len(progress) <= 2 / 0.5 + 2
    gaps = [b.at - a.at for a, b in itertools.pairwise(progress)]
    assert all(gap >= 0.45 for gap in gaps), gaps
    assert len({c.params["text"] for c in progress}) == len(progress)
    assert not api.identical_edits


@pytest.fixture
def extra_choices():
    def double(image, ctx):
        return image.resize((image.width * 2, image.height * 2))

    def twice(ctx):
        first = ctx.stylize("lite", span=(0.0, 0.5))
        second = ctx.stylize("vgg", span=(0.5, 1.0))
        return [choices.ResultPicture(first, "lite"), choices.ResultPicture(second, "vgg")]

    choices.register_choice(choices.Choice("double", "+ ×2 test", apply=double))
    choices.register_choice(choices.Choice("both", "Both test", run=twice))
    yield
    choices.unregister_choice("double")
    choices.unregister_choice("both")


def test_hook_adds_a_job_choice_and_an_option(api, engine, start_bot, extra_choices):
    start_bot()
    user = User(api, 24)
    user.submit("Both test", toggles=("+ ×2 test",))
    results = user.wait_results(2)
    assert [c["backbone"] for c in engine.calls] == ["lite", "vgg"]
    assert all(max(result_image(r).size) == 128 for r in results)  # 64 px, doubled


@pytest.fixture
def tiny_upscaler(tmp_path, monkeypatch):
    """A 1-block SRResNet as the shipped x4 weights, found through $NST_WEIGHTS_DIR."""
    from nstcli.engine.upscale.model import GeneratorConfig, SRResNet

    folder = tmp_path / "sr-weights"
    folder.mkdir()
    generator = SRResNet(GeneratorConfig(blocks=1, channels=8))
    torch.save(generator.state_dict(), folder / "srresnet-x4.pth")
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(folder))
    monkeypatch.setattr(execute, "_upscalers", {})


def test_upscale_toggle_sends_a_four_times_larger_result(api, engine, start_bot, tiny_upscaler):
    start_bot()
    user = User(api, 26)
    user.submit("Lite", toggles=("+ ×4 upscale",))
    (result,) = user.wait_results(1)
    assert max(result_image(result).size) == 256  # the 64-px result, x4 by the real pipeline
    assert "×4 upscale" in result.params.get("caption", "")
    # The untrained generator is bicubic, so the colour survives: it is this user's result.
    assert close_colour(result_image(result).getpixel((8, 8)), colour_of(26))


def test_twenty_users_at_once_get_their_own_results(api, engine, start_bot):
    engine.step_seconds = 0.002
    start_bot(workers=2, max_queue=30, update_threads=4)
    users = [User(api, 100 + i) for i in range(20)]
    threads = [threading.Thread(target=u.submit, args=("Lite",)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for user in users:
        (result,) = user.wait_results(1, timeout=120)
        assert close_colour(result_image(result).getpixel((4, 4)), colour_of(user.id)), user.id
    ids = {u.id for u in users}
    assert {c.chat for c in api.calls if c.chat is not None} <= ids
    assert len(engine.calls) == 20
    assert not api.identical_edits


def test_token_never_appears_in_logs_or_output(api, engine, start_bot, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="TeleBot")
    api.fail("getUpdates", 502, times=1)
    api.fail("getFile", 500, times=1)
    start_bot()
    user = User(api, 25)
    user.submit("Lite")
    user.wait_results()
    # a download that fails at the network level logs the URL (which holds the token)
    api.user_document(25, b"gone", "image/png", "x.png")
    api._files.clear()
    user.wait_text(texts.DOWNLOAD_FAILED)
    captured = capfd.readouterr()
    everything = caplog.text + captured.out + captured.err
    assert "getUpdates" in everything or "getFile" in everything  # logs were captured
    assert TOKEN not in everything and SECRET not in everything
    assert all(SECRET not in t for c in api.calls for t in c.params.values())
