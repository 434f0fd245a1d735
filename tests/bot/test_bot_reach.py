"""Issue 13's reach: Russian, the command menu, albums, server limits, which networks a
bot offers, previews and an ETA weighted by pixels (the real bot, the fake Bot API)."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from PIL import Image

from nstcli.bot import app, choices, execute, texts
from nstcli.bot.config import MB, Limits, WorkerConfig
from nstcli.bot.i18n import translator
from nstcli.engine.backbones import BACKBONES
from nstcli.engine.result import StepRecord
from nstcli.engine.weights import WeightSpec, obtainable
from tests.bot.conftest import User, bot_config, solid
from tests.bot.test_bot_flows import close_colour
from tests.bot.test_new_user_fixes import submit

RU = translator("ru")


def test_a_russian_user_is_answered_in_russian_and_can_switch(api, engine, start_bot):
    start_bot()
    api.languages[30] = "ru-RU"
    user = User(api, 30)
    user.say("/start")
    user.wait_text(RU(texts.START))
    user.photo()
    user.wait_text(RU(texts.GOT_CONTENT))
    user.photo(solid(2))
    user.wait_text(RU(texts.GOT_STYLE))
    user.press("Lite")
    user.wait_results()
    assert any(t.startswith("⏳ Lite: в очереди") for t in user.texts())
    status = next(c for c in api.sent("sendMessage", 30) if "в очереди" in c.params["text"])
    api.wait_for(
        lambda: "готово за" in api.message_text(30, status.message_id), 20, "done in Russian"
    )
    # /settings is Russian too, and its language row switches to English at once
    user.say("/settings")
    user.wait_text("Настройки")
    user.press("English")
    api.wait_for(
        lambda: any("Language: English" in api.message_text(30, m) for m, *_ in api.buttons(30)),
        20,
        "the settings redrawn in English",
    )
    user.say("/status")
    user.wait_text(texts.STATUS_NONE)
    # an English user is unaffected
    other = User(api, 31)
    other.say("/help")
    other.wait_text(texts.START)


def test_command_menu_is_set_per_language_at_start_up(api, engine, start_bot):
    start_bot()
    calls = api.sent("setMyCommands")
    by_language = {c.params.get("language_code"): json.loads(c.params["commands"]) for c in calls}
    assert set(by_language) == {None, "ru"}
    for commands in by_language.values():
        names = [c["command"] for c in commands]
        assert names == ["start", "help", "styles", "settings", "status", "cancel"]
    assert by_language["ru"][3]["description"] == RU("Size, steps, options, language")


def test_an_album_of_two_is_content_then_style(api, engine, start_bot):
    start_bot()
    user = User(api, 32)
    api.user_photo(32, solid(32), album="a1")
    api.user_photo(32, solid(5), album="a1")
    user.wait_text(texts.GOT_STYLE)
    user.press("Lite")
    user.wait_results()
    assert close_colour(engine.calls[0]["content"], solid(32).getpixel((0, 0)))


def test_an_album_of_four_gets_one_clear_reply_and_no_new_pair(api, engine, start_bot):
    start_bot()
    user = User(api, 33)
    for index in range(4):
        api.user_photo(33, solid(33 + index), album="a2")
    user.wait_text(texts.ALBUM_TOO_LONG)
    user.say("/status")
    user.wait_text(texts.PENDING_CHOICE)  # still the album's pair: no restarted pair
    assert user.texts().count(texts.ALBUM_TOO_LONG) == 1
    assert texts.NEW_PAIR not in user.texts()
    user.press("Lite")
    user.wait_results()
    assert close_colour(engine.calls[0]["content"], solid(33).getpixel((0, 0)))
    # a new album after that is a new pair again
    api.user_photo(33, solid(40), album="a3")
    api.user_photo(33, solid(41), album="a3")
    api.wait_for(lambda: user.texts().count(texts.GOT_STYLE) == 2, 20, "a second keyboard")


def test_limits_follow_the_server(api, engine, start_bot):
    assert Limits.for_server("https://api.telegram.org") == Limits(20 * MB, 10 * MB, 50 * MB)
    assert Limits.for_server("http://127.0.0.1:8081").download == 2000 * MB
    assert Limits.for_server("http://127.0.0.1:8081", "public") == Limits()
    start_bot(api_limits="local")  # a self-hosted server: 25 MB is fine, 2.5 GB is not
    user = User(api, 34)
    api.user_document(34, None, "image/jpeg", "huge.jpg", size=2500 * MB)
    user.wait_text("up to 2000 MB")
    assert not api.sent("getFile")  # refused from its size alone


def test_backbones_option_and_unobtainable_weights_choose_the_buttons(
    api, engine, start_bot, monkeypatch, tmp_path
):
    start_bot(backbones=("vgg", "lite"), upscale=False)
    user = User(api, 35)
    user.photo()
    user.wait_text("Now send the style")
    user.photo(solid(1))
    user.wait_text(texts.GOT_STYLE)
    labels = [label for _m, label, data in api.buttons(35) if data.startswith(("run:", "opt:"))]
    assert labels == ["VGG19", "★ Lite"]
    user.say("/help")
    user.wait_text("Networks here: VGG19, Lite.")
    # by default, only backbones whose weights are here or downloadable are offered
    asked = []

    def resolver(spec, offline=False):
        asked.append(spec.model)
        return spec.model == BACKBONES["lite"].weights.model

    monkeypatch.setattr(choices, "obtainable", resolver)
    assert app.offered_backbones(bot_config(api, tmp_path, backbones=None)) == ["lite"]
    assert sorted(asked) == sorted(b.weights.model for b in BACKBONES.values())
    # random-init benchmarks need no weights: everything is offered
    untrained = bot_config(api, tmp_path, backbones=None, pretrained=False)
    assert app.offered_backbones(untrained) == list(BACKBONES)


def test_obtainable_asks_the_resolver(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.delenv("NST_OFFLINE", raising=False)
    spec = WeightSpec("demo", "demo-weights.pth", url="http://127.0.0.1:9/none.pth")
    assert obtainable(spec) is False  # nothing here, and its URL does not answer
    assert obtainable(WeightSpec("demo", "demo-weights.pth")) is False  # no URL at all
    (tmp_path / "demo-weights.pth").write_bytes(b"x")
    assert obtainable(spec) is True
    assert obtainable(BACKBONES["lite"].weights, offline=True) is True  # packaged


def test_preview_replaces_the_status_photo_and_costs_little(api, engine, start_bot):
    engine.step_seconds = 0.02
    start_bot(preview=True, steps=40, progress_interval=0.15)
    user = User(api, 36)
    user.submit("Lite")
    (result,) = user.wait_results()
    assert result.method == "sendPhoto"  # the result is its own message, not the status
    (status,) = api.status_photos(36)
    key = (36, status.message_id)
    api.wait_for(lambda: "done" in api.message_text(*key), 20, "the status to say done")
    frames = api.previews[key]
    assert 1 <= len(frames) <= 3  # a few points of the run
    for frame in frames:
        image = Image.open(io.BytesIO(frame))
        assert image.format == "JPEG" and max(image.size) <= 320 and len(frame) < 30_000
    media = api.sent("editMessageMedia", 36)
    gaps = [b.at - a.at for a, b in itertools.pairwise(media)]
    assert all(gap >= 0.14 for gap in gaps), gaps  # rate-limited like the text edits
    # /settings turns it off for the next job: a text status again
    user.say("/settings")
    user.press("✓ Preview")
    api.wait_for(lambda: any(b[1] == "Preview" for b in api.buttons(36)), 20, "preview off")
    user.submit("Lite")
    user.wait_results(2)
    assert len(api.status_photos(36)) == 1


def test_progress_and_eta_weight_steps_by_pixels(monkeypatch):
    """A 128-px scale then a 512-px one: after the small scale, 1/17 of the work is done."""
    fractions = [(1 / 17) * (i + 1) / 10 for i in range(10)] + [
        1 / 17 + (16 / 17) * (i + 1) / 10 for i in range(10)
    ]

    def fake_engine(content, style, config, on_step=None, **kwargs):
        for step, done in enumerate(fractions, start=1):
            record = StepRecord(step, {"content": 0, "style": 0, "tv": 0}, 0, 0, 0, work_done=done)
            on_step(record, len(fractions))
        return type("R", (), {"image": content})()

    monkeypatch.setattr(execute, "engine_stylize", fake_engine)
    monkeypatch.setattr(execute, "_backbone", lambda config: None)
    seen: list[float] = []
    execute.stylize_one(solid(1), solid(2), "lite", 64, 20, on_step=seen.append)
    assert seen == pytest.approx(fractions)
    # half the steps done is 1/17 of the work, so the ETA is 16 times the time spent
    from nstcli.bot.jobs import running_text

    assert running_text(lambda s: s, "Lite", seen[9], 10.0) == "🎨 Lite: 5% · about 2:40 left"


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        (
            "en",
            "That file is 21.0 MB; this bot can only download files up to 20 MB. "
            "Please send a smaller image, or send it as a photo.",
        ),
        (
            "ru",
            "Размер файла — 21.0 МБ, а бот может скачивать файлы не больше 20 МБ. "
            "Пришлите изображение поменьше или отправьте его как фото.",
        ),
    ],
)
def test_a_document_over_the_public_servers_limit_gets_one_reply(
    api, engine, start_bot, language, reply
):
    """api.telegram.org lets a bot download 20 MB: a bigger document is refused from the
    size Telegram gives, in one reply in the user's language, and leaves the pair as it was."""
    start_bot()  # the fake server stands in for the public one
    api.languages[37] = language
    _ = translator(language)
    user = User(api, 37)
    api.user_document(37, None, "image/png", "scan.png", size=21_000_000)
    user.wait_text(reply)
    assert not api.sent("getFile")  # refused from its size alone
    user.photo()  # the refused file was not taken as the photo
    user.wait_text(_(texts.GOT_CONTENT))
    assert user.texts() == [reply, _(texts.GOT_CONTENT)]


def _tiny_upload_limits(monkeypatch, photo: int, document: int) -> None:
    """A server that takes uploads of only a few bytes (the download limit as public)."""
    monkeypatch.setattr(
        WorkerConfig, "limits", property(lambda self: Limits(20 * MB, photo, document))
    )


def test_full_quality_over_the_upload_limit_still_delivers_the_photo(
    api, engine, start_bot, monkeypatch
):
    _tiny_upload_limits(monkeypatch, photo=10 * MB, document=50)  # the PNG is larger
    start_bot()
    user = User(api, 38)
    user.say("/settings")
    user.press("Full quality")
    api.wait_for(lambda: any(b[1] == "✓ Full quality" for b in api.buttons(38)), 20, "on")
    user.submit("Lite")
    (result,) = user.wait_results()
    api.wait_for(  # the follow-up buttons move onto the photo, the one message sent
        lambda: any(m == result.message_id for m, _label, _data in api.buttons(38)),
        20,
        "the result's buttons on the photo",
    )
    assert result.method == "sendPhoto" and not api.sent("sendDocument")


@pytest.mark.parametrize(
    ("language", "fragment"),
    [("en", "more than this server lets a bot send"), ("ru", "больше, чем этот сервер")],
)
def test_a_result_over_every_upload_limit_is_explained_not_retried(
    api, engine, start_bot, monkeypatch, language, fragment
):
    """Neither a photo nor a document fits: "try again" would fail the same way."""
    _tiny_upload_limits(monkeypatch, photo=50, document=50)
    start_bot()
    api.languages[39] = language
    user = User(api, 39)
    _ = translator(language)
    submit(user, language)
    said = user.wait_text(_("Sorry, your job failed: {reason}").split("{")[0])
    assert fragment in said and "/settings" in said, said
    assert _(texts.TELEGRAM_FAILED) not in said
    assert not user.results()
