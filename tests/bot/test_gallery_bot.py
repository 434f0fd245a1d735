"""The gallery in the bot (issue 19), through the fake Bot API in Russian and English:
offered after the photo as one photo message (the numbered sheet) with a button per
painting, a painting picked there run with no style upload, stale gallery buttons."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from nstcli import gallery
from nstcli.bot import paintings, texts
from nstcli.bot.buttons import Kind, decode
from nstcli.bot.i18n import translator
from nstcli.render import gallery as render_gallery
from tests.bot.conftest import User, colour_of
from tests.bot.test_bot_flows import close_colour
from tests.bot.test_follow_ups import downloads, finished
from tests.bot.test_new_user_fixes import submit


def buttons_of(call) -> list[tuple[str, str]]:
    """(label, data) of every button a sent message carries."""
    markup = json.loads(call.params.get("reply_markup") or "{}")
    rows = markup.get("inline_keyboard", [])
    return [(button["text"], button["callback_data"]) for row in rows for button in row]


def wait_galleries(api, user: User, count: int = 1) -> list:
    return api.wait_for(
        lambda: len(api.galleries(user.id)) >= count and api.galleries(user.id),
        30,
        f"{count} gallery sheet(s) for user {user.id}",
    )


def painting_style(painting: gallery.Painting) -> tuple[tuple[int, int], tuple[int, ...]]:
    """What the stub engine records of a style: its size and its centre pixel."""
    image = painting.open()
    return image.size, image.getpixel((image.width // 2, image.height // 2))


def callback_answers(api) -> list[str]:
    return [c.params.get("text", "") for c in api.sent("answerCallbackQuery")]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_gallery_follows_the_photo_with_a_button_per_painting(api, engine, start_bot, language):
    _ = translator(language)
    start_bot()
    api.languages[71] = language
    user = User(api, 71)
    user.photo()
    user.wait_text(_(texts.GOT_CONTENT))  # "send your own style image" stays the first path
    (sheet,) = wait_galleries(api, user)
    assert sheet.params["caption"] == _(texts.GALLERY_FOR_PHOTO)
    # one photo: the numbered contact sheet, as the gallery module draws it
    picture = Image.open(io.BytesIO(api.photo_bytes(sheet)))
    drawn = render_gallery.gallery_sheet(gallery.paintings(), language, heading="")
    assert picture.size == drawn.size
    # one button per painting, numbered as on the sheet, titled in the user's language
    labels, data = zip(*buttons_of(sheet), strict=True)
    assert list(labels) == [
        f"{n}. {p.title_in(language)}" for n, p in enumerate(gallery.paintings(), start=1)
    ]
    assert ("1. Звёздная ночь" if language == "ru" else "1. The Starry Night") == labels[0]
    decoded = [decode(d) for d in data]
    assert [d.kind for d in decoded] == [Kind.PAINTING] * len(gallery.paintings())
    assert [d.key for d in decoded] == list(gallery.slugs())
    assert len({d.ref for d in decoded}) == 1  # all carry this photo's gallery nonce


def test_the_sheet_is_drawn_once_and_then_sent_by_file_id(
    api, engine, start_bot, monkeypatch, tmp_path
):
    drawn = []
    draw = render_gallery.gallery_sheet

    def counting(*args, **kwargs):
        drawn.append(args[1])  # the language
        return draw(*args, **kwargs)

    monkeypatch.setattr(paintings, "_sheets", {})
    monkeypatch.setattr(render_gallery, "gallery_sheet", counting)
    data = tmp_path / "data"
    bot = start_bot(data)
    first, second = User(api, 72), User(api, 73)
    first.photo()
    wait_galleries(api, first)
    second.photo()
    wait_galleries(api, second)
    # drawn before the bot polls, once per language, not once per user
    assert sorted(drawn) == ["en", "ru"]
    (upload,), (again,) = api.galleries(72), api.galleries(73)
    assert "photo" in upload.files  # the first is uploaded ...
    assert "photo" not in again.files and again.params["photo"]  # ... then sent by file id
    assert api.photo_bytes(again) == api.photo_bytes(upload)
    # a restart reads the sheets it kept instead of drawing them again
    bot.close()
    monkeypatch.setattr(paintings, "_sheets", {})
    start_bot(data)
    third = User(api, 79)
    third.photo()
    (resent,) = wait_galleries(api, third)
    assert sorted(drawn) == ["en", "ru"]
    assert api.photo_bytes(resent) == api.photo_bytes(upload)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_painting_picked_in_the_gallery_runs_with_no_style_upload(
    api, engine, start_bot, language
):
    _ = translator(language)
    start_bot()
    api.languages[74] = language
    user = User(api, 74)
    great_wave = gallery.find("great-wave")
    title = great_wave.title_in(language)
    user.photo()
    wait_galleries(api, user)
    user.press(title)
    user.wait_text(texts.painting_chosen(_, title))  # the job keyboard, as after a style image
    assert _(texts.GOT_STYLE) not in user.texts()
    user.press("Lite")
    user.wait_results(1)
    assert downloads(api) == 1  # only the photo was fetched: no style upload, no download
    (call,) = engine.calls
    assert call["backbone"] == "lite"
    assert (call["style_size"], call["style"]) == painting_style(great_wave)  # the painting
    assert close_colour(call["content"], colour_of(74))  # on the user's photo
    assert title in callback_answers(api)  # the press was answered with the painting's name


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_gallery_button_of_an_earlier_photo_says_so(api, engine, start_bot, language):
    _ = translator(language)
    start_bot()
    api.languages[75] = language
    user = User(api, 75)
    user.photo()
    (old,) = wait_galleries(api, user)
    old_data = dict(buttons_of(old))
    user.press(gallery.find("udnie").title_in(language))
    user.wait_text(texts.painting_chosen(_, gallery.find("udnie").title_in(language)))
    user.press("Lite")
    user.wait_results(1)
    finished(api, user)
    # a newer photo (after a result: "a new photo"), with its own gallery
    newer = (10, 200, 10)
    user.photo(Image.new("RGB", (24, 24), newer))
    user.press(_(texts.AS_NEW_PHOTO))
    wait_galleries(api, user, 2)
    scream = gallery.find("the-scream")
    stale = next(d for label, d in old_data.items() if label.endswith(scream.title_in(language)))
    answered = len(api.sent("answerCallbackQuery"))
    api.user_press(user.id, old.message_id, stale)
    api.wait_for(lambda: len(api.sent("answerCallbackQuery")) > answered, 20, "the answer")
    assert callback_answers(api)[-1] == _(texts.GALLERY_STALE)
    assert texts.painting_chosen(_, scream.title_in(language)) not in user.texts()
    # the newest gallery's button applies to the newest photo
    user.press(scream.title_in(language))
    user.wait_text(texts.painting_chosen(_, scream.title_in(language)))
    user.press("Lite")
    user.wait_results(2)
    assert len(engine.calls) == 2
    assert close_colour(engine.calls[1]["content"], newer)
    assert (engine.calls[1]["style_size"], engine.calls[1]["style"]) == painting_style(scream)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_styles_before_a_photo_picks_the_painting_then_asks_for_the_photo(
    api, engine, start_bot, language
):
    _ = translator(language)
    start_bot()
    api.languages[76] = language
    user = User(api, 76)
    user.say("/styles")
    (sheet,) = wait_galleries(api, user)
    assert sheet.params["caption"] == _(texts.GALLERY_FIRST)
    assert len(buttons_of(sheet)) == len(gallery.paintings())
    scream = gallery.find("the-scream")
    title = scream.title_in(language)
    user.press(title)
    user.wait_text(texts.painting_first(_, title))
    asked = len(user.texts())
    user.say("/status")
    api.wait_for(lambda: len(user.texts()) > asked, 20, "the status")
    assert user.texts()[-1] == _(texts.PENDING_PHOTO)
    user.photo()
    user.wait_text(texts.painting_chosen(_, title))  # straight to the networks
    assert len(api.galleries(76)) == 1  # the painting is chosen: no second gallery
    user.press("Lite")
    user.wait_results(1)
    (call,) = engine.calls
    assert (call["style_size"], call["style"]) == painting_style(scream)
    assert close_colour(call["content"], colour_of(76))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_styles_with_a_photo_shows_the_gallery_of_that_photo(api, engine, start_bot, language):
    _ = translator(language)
    start_bot()
    api.languages[77] = language
    user = User(api, 77)
    user.photo()
    (first,) = wait_galleries(api, user)
    user.say("/styles")
    _first, again = wait_galleries(api, user, 2)
    assert again.params["caption"] == _(texts.GALLERY_FOR_PHOTO)
    assert buttons_of(again) == buttons_of(first)  # the same photo: the same buttons
    wave = gallery.find("great-wave").title_in(language)
    user.press(wave)
    user.wait_text(texts.painting_chosen(_, wave))
    user.press("Lite")
    user.wait_results(1)
    assert close_colour(engine.calls[0]["content"], colour_of(77))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_another_painting_on_a_result_offers_the_gallery_for_the_same_photo(
    api, engine, start_bot, language
):
    _ = translator(language)
    start_bot()
    api.languages[78] = language
    user = User(api, 78)
    submit(user, language, "Lite")  # photo + an uploaded style image
    user.wait_results(1)
    finished(api, user)
    fetched = downloads(api)
    shown = len(api.galleries(78))
    user.press(_(texts.ANOTHER_PAINTING))
    user.wait_text(_(texts.SAME_PHOTO))
    wait_galleries(api, user, shown + 1)
    mondrian = gallery.find("mondrian-1913")
    user.press(mondrian.title_in(language))  # on the newest gallery: this one
    user.wait_text(texts.painting_chosen(_, mondrian.title_in(language)))
    user.press("VGG19")
    user.wait_results(2)
    assert downloads(api) == fetched  # nothing uploaded or fetched again
    first, second = engine.calls
    assert second["content"] == first["content"]  # the same photo
    assert (second["style_size"], second["style"]) == painting_style(mondrian)
    assert second["backbone"] == "vgg"
