"""What the new-user test found (issue 19), each driven through the fake Bot API."""

from __future__ import annotations

import pickle
import re
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from nstcli.bot import jobs, texts
from nstcli.bot.i18n import translator
from nstcli.bot.taskqueue import JobSignals
from nstcli.bot.telegram_io import TelegramIO
from nstcli.engine import sizing
from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.errors import DivergedError, InputError, ResourceError
from tests.bot.conftest import User, colour_of

ENGINE = Path(__file__).resolve().parents[2] / "nstcli" / "engine"


def submit(user: User, language: str, choice: str = "Lite") -> None:
    """`User.submit` in any language: photo, style, a press on `choice`."""
    _ = translator(language)
    user.photo()
    user.wait_text(_(texts.GOT_CONTENT))
    user.photo(Image.new("RGB", (20, 20), (250, 250, 250)))
    user.wait_text(_(texts.GOT_STYLE))
    user.press(choice)


def whose(pixel: tuple[int, ...], users: tuple[int, ...]) -> int:
    """The user whose solid colour `pixel` is (JPEG moves it a little)."""
    return min(
        users, key=lambda u: sum(abs(a - b) for a, b in zip(pixel[:3], colour_of(u), strict=True))
    )


def test_after_a_restart_jobs_run_in_the_order_of_their_positions(api, engine, start_bot, tmp_path):
    """The job running at shutdown resumes first, ahead of the one that waited behind it."""
    engine.gate = threading.Event()
    data = tmp_path / "data"
    bot = start_bot(data, workers=1)
    first, second = User(api, 21), User(api, 22)
    first.submit("Lite")
    api.wait_for(lambda: engine.calls, 20, "the first job to start")
    second.submit("Lite")
    second.wait_text("queued, position 1")
    bot.close()  # the running job is interrupted; the second still waits in the queue
    engine.calls.clear()
    engine.gate.set()
    start_bot(data, workers=1)
    first.wait_text("starts again from the queue")
    second.wait_text("still in the queue (position 2)")
    first.wait_results()
    second.wait_results()
    assert [whose(call["content"], (21, 22)) for call in engine.calls] == [21, 22]


@pytest.mark.parametrize(
    ("language", "photo_reply", "style_reply"),
    [
        (
            "en",
            "That image is 1×1 px; its shorter side needs at least 8 px. "
            "Please send a bigger image.",
            "That image is 30×4 px; its shorter side needs at least 8 px.",
        ),
        (
            "ru",
            "Это изображение — 1×1 пикс.; по короткой стороне нужно не меньше 8 пикс. "
            "Пришлите изображение побольше.",
            "Это изображение — 30×4 пикс.",
        ),
    ],
)
def test_an_image_the_engine_would_refuse_is_refused_at_intake(
    api, engine, start_bot, language, photo_reply, style_reply
):
    start_bot()
    api.languages[23] = language
    user = User(api, 23)
    user.photo(Image.new("RGB", (1, 1), (9, 9, 9)))
    user.wait_text(photo_reply)
    user.photo()  # the refused image did not become the photo: this one is
    user.wait_text(translator(language)(texts.GOT_CONTENT))
    user.photo(Image.new("RGB", (30, 4), (9, 9, 9)))
    user.wait_text(style_reply)
    asked = len(user.texts())
    assert not any(
        "style image 1" in text or "изображение стиля 1" in text for text in user.texts()
    )
    user.say("/status")
    api.wait_for(lambda: len(user.texts()) > asked, 20, "the status")
    assert user.texts()[-1] == translator(language)(texts.PENDING_STYLE)
    # no job: no result, no status photo (only the gallery, after the photo)
    assert not engine.calls and not api.results_to(23) and not api.status_photos(23)


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        ("en", "The photo is 400×10 px, too narrow: scaled down, its shorter side would be 2 px"),
        (
            "ru",
            "Фото — 400×10 пикс., слишком узкое: после уменьшения короткая сторона будет 2 пикс.",
        ),
    ],
)
def test_a_photo_too_narrow_at_the_bots_size_is_refused_before_the_queue(
    api, engine, start_bot, language, reply
):
    start_bot()  # 64 px: a 400×10 photo would be 64×2
    api.languages[24] = language
    user = User(api, 24)
    user.photo(Image.new("RGB", (400, 10), (9, 9, 9)))
    user.wait_text("400×10")
    user.photo(Image.new("RGB", (20, 20), (250, 250, 250)))
    user.press("Lite")
    user.wait_text(reply)
    assert not engine.calls
    assert not [t for t in user.texts() if "⏳" in t or "failed" in t or "не выполнена" in t]


@pytest.mark.parametrize(
    ("error", "language", "reason"),
    [
        (
            InputError(
                "style image 1 is 2×2 pixels; …",
                code="too_small",
                role="style",
                width=2,
                height=2,
                minimum=8,
            ),
            "ru",
            "Извините, задача не выполнена: изображение стиля — 2×2 пикс.; по короткой стороне",
        ),
        (
            InputError(
                "style image 1 is 2×2 pixels; …",
                code="too_small",
                role="style",
                width=2,
                height=2,
                minimum=8,
            ),
            "en",
            "Sorry, your job failed: the style image is 2×2 px; its shorter side needs at least",
        ),
        (DivergedError("the loss became nan at step 3"), "ru", "оптимизация стала неустойчивой"),
        (
            ResourceError("not even a 128px tile fits", code="memory"),
            "ru",
            "не помещается в память",
        ),
        (InputError("/tmp/x: something new"), "ru", "движок не смог обработать эти изображения"),
    ],
)
def test_engine_refusals_are_worded_in_the_users_language(
    api, engine, start_bot, error, language, reason
):
    engine.fail_with = error
    start_bot()
    api.languages[25] = language
    user = User(api, 25)
    submit(user, language)
    told = user.wait_text(reason)
    assert str(error) not in told  # the engine's English one-liner stays in the log


def engine_codes() -> set[str]:
    """Every `code=` an engine error is raised with, and every class default."""
    found = set()
    for path in ENGINE.rglob("*.py"):
        text = path.read_text()
        found.update(re.findall(r'\bcode="([a-z_]+)"', text))
        found.update(re.findall(r'^    code = "([a-z_]+)"', text, flags=re.M))
    return found


def test_every_engine_refusal_a_user_can_meet_has_the_bots_words():
    codes = engine_codes()
    assert {"too_small", "too_thin", "memory", "diverged", "weights"} <= codes
    missing = codes - set(texts.ENGINE_REASONS) - {"cancelled"}
    assert not missing, f"word these engine codes in nstcli/bot/texts.py: {sorted(missing)}"
    ru = translator("ru")
    for template in texts.ENGINE_REASONS.values():
        assert ru(template) != template


def test_engine_errors_keep_their_english_text_and_travel_with_their_code():
    with pytest.raises(InputError) as caught:
        sizing.check_picture("content", 1, 1)
    error = caught.value
    assert str(error) == "content is 1×1 pixels; its shorter side must be at least 8"
    assert (error.code, error.details["width"], error.details["minimum"]) == ("too_small", 1, 8)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.code, copy.details) == (
        InputError,
        str(error),
        "too_small",
        error.details,
    )
    assert DivergedError("x").code == "diverged" and InputError("x").code is None


@pytest.mark.parametrize("language", ["en", "ru"])
def test_cancel_as_the_job_finishes_says_it_had_just_finished(
    api, engine, start_bot, monkeypatch, language
):
    """/cancel after the worker's last check: "Stopping…", the result, then why it came."""
    delivering, go = threading.Event(), threading.Event()
    deliver = TelegramIO.send_image

    def held_delivery(self, *args, **kwargs):
        delivering.set()
        assert go.wait(30)
        return deliver(self, *args, **kwargs)

    monkeypatch.setattr(TelegramIO, "send_image", held_delivery)
    start_bot()
    api.languages[26] = language
    _ = translator(language)
    user = User(api, 26)
    submit(user, language)
    assert delivering.wait(30)
    user.say("/cancel")
    user.wait_text(_(texts.STOPPING))
    go.set()
    user.wait_results()
    user.wait_text(_(texts.TOO_LATE_TO_CANCEL))
    time.sleep(0.5)  # a second "too late" (from the bot and the worker both) would be here
    assert user.texts().count(_(texts.TOO_LATE_TO_CANCEL)) == 1
    assert _(texts.CANCELLED) not in user.texts()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_cancelling_a_running_job_ends_with_a_text_reply(api, engine, start_bot, language):
    engine.gate = threading.Event()
    start_bot()
    api.languages[27] = language
    _ = translator(language)
    user = User(api, 27)
    submit(user, language)
    api.wait_for(lambda: engine.calls, 20, "the job to start")
    user.say("/cancel")
    user.wait_text(_(texts.STOPPING))
    user.wait_text(_(texts.CANCELLED))
    assert user.texts().index(_(texts.STOPPING)) < user.texts().index(_(texts.CANCELLED))
    assert not user.results()


def test_stopping_is_said_before_the_worker_can_answer_the_cancel(
    api, engine, start_bot, monkeypatch
):
    """The worker may stop, and say "Cancelled", the moment the cancel is requested: the
    bot's "Stopping…" must be out by then (it once came second when the bot's thread was
    slow to be scheduled). Here the bot waits, after requesting, until the worker is done."""
    engine.gate = threading.Event()
    _ = translator("en")
    user = User(api, 28)
    request = JobSignals.request_cancel

    def request_then_let_the_worker_stop(self: JobSignals, job_id: str) -> None:
        request(self, job_id)
        api.wait_for(lambda: _(texts.CANCELLED) in user.texts(), 20, "the worker to stop")

    monkeypatch.setattr(JobSignals, "request_cancel", request_then_let_the_worker_stop)
    start_bot()
    submit(user, "en")
    api.wait_for(lambda: engine.calls, 20, "the job to start")
    user.say("/cancel")
    user.wait_text(_(texts.CANCELLED))
    time.sleep(0.3)  # anything the bot says after the worker's "Cancelled" would be here
    said = user.texts()
    assert _(texts.STOPPING) in said
    assert said.index(_(texts.STOPPING)) < said.index(_(texts.CANCELLED))
    assert _(texts.NOTHING_TO_CANCEL) not in said


def test_a_job_the_worker_finds_cancelled_as_it_takes_it_is_told_cancelled_once(
    api, engine, start_bot, monkeypatch
):
    """A waiting job's /cancel, with the worker taking the job between the bot's request
    and its next look: the worker finds the request and stops it at once. The user was
    told "There's nothing to cancel" (the worker said nothing, the bot saw it ended)."""
    engine.gate = threading.Event()
    _ = translator("en")
    first, second = User(api, 31), User(api, 32)
    request = JobSignals.request_cancel

    def request_then_let_the_worker_take_it(self: JobSignals, job_id: str) -> None:
        request(self, job_id)
        engine.gate.set()  # the first job ends, and the worker takes this one
        api.wait_for(
            lambda: (self.state(job_id) or {}).get("status") == "cancelled", 20, "the worker"
        )

    monkeypatch.setattr(JobSignals, "request_cancel", request_then_let_the_worker_take_it)
    start_bot(workers=1)
    submit(first, "en")
    api.wait_for(lambda: engine.calls, 20, "the first job to start")
    submit(second, "en")
    second.wait_text(texts.queued(_, 1, "Lite"))  # (behind the running job)
    second.say("/cancel")
    second.wait_text(_(texts.CANCELLED))
    time.sleep(0.5)  # a second answer would be here
    assert second.texts().count(_(texts.CANCELLED)) == 1
    assert _(texts.NOTHING_TO_CANCEL) not in second.texts()
    assert len(engine.calls) == 1  # the second job never reached the engine


def test_a_job_cancelled_as_its_worker_starts_it_is_told_cancelled_once(
    api, engine, start_bot, monkeypatch
):
    """The worker has passed its start-of-job check but not yet reported "running" when
    /cancel comes: the bot cancels it as a waiting job and says so, then the worker stops
    it at its first step. The user was told "Cancelled" twice."""
    _ = translator("en")
    user = User(api, 33)
    taken, stopped = threading.Event(), threading.Event()
    heartbeat, stop_job = jobs.Heartbeat, jobs.JobRunner._stopped

    class LateHeartbeat(heartbeat):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            taken.set()
            api.wait_for(lambda: _(texts.CANCELLED) in user.texts(), 20, "the bot's reply")
            super().__init__(*args, **kwargs)

    def recorded_stop(self, *args, **kwargs) -> None:
        stop_job(self, *args, **kwargs)
        stopped.set()

    monkeypatch.setattr(jobs, "Heartbeat", LateHeartbeat)
    monkeypatch.setattr(jobs.JobRunner, "_stopped", recorded_stop)
    start_bot()
    submit(user, "en")
    assert taken.wait(20)
    user.say("/cancel")
    assert stopped.wait(20), "the worker never stopped the job"
    time.sleep(0.3)  # its reply, if it sent one, is in by now
    assert user.texts().count(_(texts.CANCELLED)) == 1


@pytest.mark.parametrize(
    ("language", "photo_reply", "document_reply"),
    [
        (
            "en",
            "That file is too big for this bot to download. Please send a smaller image.",
            "That file is too big for this bot to download. "
            "Please send a smaller image, or send it as a photo.",
        ),
        (
            "ru",
            "Этот файл слишком большой: бот не может его скачать. Пришлите изображение поменьше.",
            "Этот файл слишком большой: бот не может его скачать. "
            "Пришлите изображение поменьше или отправьте его как фото.",
        ),
    ],
)
def test_telegram_refusing_a_download_as_too_big_claims_no_size(
    api, engine, start_bot, language, photo_reply, document_reply
):
    """getFile says "file is too big" for a file whose claimed size was small."""
    start_bot(api_limits="local")  # this bot would take 2000 MB; Telegram still refuses
    api.languages[28] = language
    user = User(api, 28)
    api.fail("getFile", 400, description="Bad Request: file is too big")
    user.photo()
    user.wait_text(photo_reply)
    api.fail("getFile", 400, description="Bad Request: file is too big")
    api.user_document(28, b"\x89PNG not read", "image/png", "big.png")
    user.wait_text(document_reply)
    assert not [t for t in user.texts() if "MB" in t or "МБ" in t]


@pytest.mark.parametrize(
    ("language", "button", "caption"),
    [("en", "3 steps", "· 64 px · 3 steps"), ("ru", "3 шага", "· 64 пикс. · 3 шага")],
)
def test_counts_take_their_plural_form(api, engine, start_bot, language, button, caption):
    start_bot(steps=3)
    api.languages[29] = language
    user = User(api, 29)
    user.say("/settings")
    api.wait_for(lambda: [b for b in api.buttons(29) if b[1] == f"✓ {button}"], 20, button)
    submit(user, language)
    (result,) = user.wait_results()
    assert result.params["caption"].endswith(caption)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("backbone", ["lite", "vgg"])
def test_the_button_and_the_caption_name_the_network_alike(
    api, engine, start_bot, language, backbone
):
    """The caption carries the words on the button pressed ("EfficientNet-Lite0 (Lite)")."""
    facts = BACKBONE_FACTS[backbone]
    start_bot()
    api.languages[30] = language
    user = User(api, 30)
    submit(user, language, facts.short_title)
    (result,) = user.wait_results()
    what = result.params["caption"].split(" · ")[0]
    assert facts.short_title in what and facts.title in what
    assert what == facts.captioned_title
