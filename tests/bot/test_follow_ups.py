"""Follow-ups under a result (issue 19): each a new job from the kept inputs, no upload."""

from __future__ import annotations

import time

import pytest
from PIL import Image

from nstcli.bot import texts, tracking
from nstcli.bot.i18n import translator
from tests.bot.conftest import User, colour_of
from tests.bot.test_bot_flows import close_colour, result_image, tiny_upscaler  # noqa: F401
from tests.bot.test_new_user_fixes import submit


def finished(api, user: User, count: int = 1) -> None:
    """Wait for `count` "✅ done" statuses: a job counts as running (and a new press is
    refused as "busy") until its final state is stored, just after its result is sent."""
    api.wait_for(
        lambda: (
            sum(
                1
                for (chat, _m), message in list(api.messages.items())
                if chat == user.id
                and message.get("text", message.get("caption", "")).startswith("✅")
            )
            >= count
        ),
        30,
        f"{count} finished job(s) for user {user.id}",
    )


def downloads(api) -> int:
    """Files the bot has fetched from Telegram so far (a follow-up should fetch none)."""
    return len(api.sent("getFile"))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_more_style_on_a_result_gives_a_second_result_with_no_upload(
    api, engine, start_bot, language
):
    _ = translator(language)
    start_bot()
    user = User(api, 61)
    api.languages[61] = language
    submit(user, language, "Lite")
    user.wait_results(1)
    finished(api, user)
    fetched = downloads(api)
    user.press(_(texts.MORE_STYLE))
    second = user.wait_results(2)[1]
    assert downloads(api) == fetched  # the kept inputs, not fetched (or sent) again
    assert [c["backbone"] for c in engine.calls] == ["lite", "lite"]
    assert engine.calls[0].get("strength") is None  # the user's default: the default run
    assert engine.calls[1]["strength"] == 0.75  # one notch over the default 0.5
    assert close_colour(result_image(second).getpixel((4, 4)), colour_of(61))  # same photo
    assert "0.75" in second.params.get("caption", "")  # the caption says the strength
    # the second result offers less style again, and more up to the last notch
    labels = [label for _m, label, _d in api.buttons(61)]
    assert _(texts.LESS_STYLE) in labels and _(texts.MORE_STYLE) in labels


@pytest.mark.parametrize("language", ["en", "ru"])
def test_another_network_on_a_result_reruns_the_same_inputs(api, engine, start_bot, language):
    start_bot()
    user = User(api, 62)
    api.languages[62] = language
    submit(user, language, "Lite")
    user.wait_results(1)
    finished(api, user)
    user.press("VGG19")
    user.wait_results(2)
    assert [c["backbone"] for c in engine.calls] == ["lite", "vgg"]
    assert engine.calls[0]["content"] == engine.calls[1]["content"]


def test_x4_of_a_result_enlarges_it_without_a_rerun(api, engine, start_bot, tiny_upscaler):  # noqa: F811
    start_bot()
    user = User(api, 63)
    user.submit("Lite")
    (first,) = user.wait_results(1)
    finished(api, user)
    user.press(texts.UPSCALE_THIS)
    second = user.wait_results(2)[1]
    assert len(engine.calls) == 1  # the engine did not run again
    small, large = result_image(first).size, result_image(second).size
    assert large == (small[0] * 4, small[1] * 4)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_buttons_of_an_expired_result_say_so(
    api, engine, start_bot, language, tmp_path, monkeypatch
):
    _ = translator(language)
    # the margin spares downloads being checked (none here): 1 s, not 10 s of waiting
    monkeypatch.setattr(tracking, "PRUNE_MARGIN_SECONDS", 1.0)
    start_bot(keep_inputs=1 / 3600)  # one second
    user = User(api, 64)
    api.languages[64] = language
    submit(user, language, "Lite")
    user.wait_results(1)
    finished(api, user)
    time.sleep(1.5)
    user.press(_(texts.MORE_STYLE))
    expected = texts.result_expired(_, 1).split(":")[0]
    api.wait_for(
        lambda: (
            any(expected in c.params.get("text", "") for c in api.sent("answerCallbackQuery"))
            or any(expected in t for t in user.texts())
        ),
        20,
        "the expired-result answer",
    )
    time.sleep(0.5)
    assert len(engine.calls) == 1  # no second job
    files = tmp_path / "bot-data" / "files"  # and the kept inputs are gone
    api.wait_for(lambda: not any(files.iterdir()), 20, "the expired inputs to be deleted")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_image_after_a_result_asks_photo_or_style(api, engine, start_bot, language):
    _ = translator(language)
    start_bot()
    user = User(api, 65)
    api.languages[65] = language
    submit(user, language, "Lite")
    user.wait_results(1)
    finished(api, user)
    user.photo(Image.new("RGB", (24, 24), (10, 200, 10)))
    user.wait_text(_(texts.ASK_PHOTO_OR_STYLE))
    user.press(_(texts.AS_NEW_STYLE))
    user.wait_text(_(texts.GOT_STYLE))
    user.press("VGG19")
    user.wait_results(2)
    # the new style ran on the LAST photo, which was not uploaded again
    assert engine.calls[1]["content"] == engine.calls[0]["content"]
    assert close_colour(engine.calls[1]["content"], colour_of(65))


def test_help_says_how_long_images_are_kept(api, engine, start_bot):
    start_bot(keep_inputs=24)
    user = User(api, 66)
    user.say("/help")
    user.wait_text("24 h")
    api.languages[67] = "ru"
    other = User(api, 67)
    other.say("/help")
    other.wait_text("24 ч")


@pytest.mark.parametrize(("strength", "expected"), [(None, 0.5), (0.75, 0.75), (0.0, 0.0)])
def test_the_real_engine_call_runs_at_the_job_strength(monkeypatch, strength, expected):
    """execute.stylize_one (what the stub replaces elsewhere) hands the strength on."""
    from nstcli.bot import execute

    seen = {}

    class Done:
        image = Image.new("RGB", (8, 8))

    def fake_stylize(content, style, config, **kwargs):
        seen["strength"] = config.strength
        return Done()

    monkeypatch.setattr(execute, "engine_stylize", fake_stylize)
    monkeypatch.setattr(execute, "_backbone", lambda config: None)
    picture = Image.new("RGB", (32, 32))
    execute.stylize_one(picture, picture, "lite", 32, 2, strength=strength)
    assert seen == {"strength": expected}
