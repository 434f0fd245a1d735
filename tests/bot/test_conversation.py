"""The conversation state machine alone: no Telegram, no store, no threads."""

from __future__ import annotations

import dataclasses
import itertools

from nstcli.bot import texts
from nstcli.bot.conversation import (
    Answer,
    Cancel,
    Command,
    Edit,
    ImageReceived,
    Menu,
    Pressed,
    Rejected,
    Reply,
    ShowGallery,
    Status,
    Submit,
    Text,
    handle,
)
from nstcli.bot.i18n import translator
from nstcli.bot.models import FileRef, UserSettings, UserState

MENU = Menu(
    networks=(("vgg", "VGG19"), ("lite", "Lite")),
    jobs=(("compare", "Compare all", 1),),
    options=(("upscale", "+ ×4 upscale"),),
    sizes=(256, 512),
    steps=(100, 200),
    default_size=512,
    default_steps=200,
)
IMAGE = FileRef("f1", "u1", 40, 30)
STYLE = FileRef("f2", "u2", 20, 20)


def nonces():
    counter = itertools.count(1)
    return lambda: f"n{next(counter)}"


def run(state, *events, nonce=None):
    nonce = nonce or nonces()
    actions = []
    for event in events:
        outcome = handle(state, event, MENU, nonce)
        state = outcome.state
        actions.append(outcome.actions)
    return state, actions


def buttons(action):
    return [button for row in action.keyboard for button in row]


def test_photo_then_style_offers_every_choice_and_option():
    state, (first, second) = run(UserState(), ImageReceived(IMAGE), ImageReceived(STYLE))
    # the gallery follows the photo (its buttons carry the first nonce)
    assert first == [Reply(texts.GOT_CONTENT), ShowGallery("n1", texts.GALLERY_FOR_PHOTO)]
    (keyboard,) = second
    assert keyboard.text == texts.GOT_STYLE
    labels = [label for label, _ in buttons(keyboard)]
    assert labels == ["VGG19", "★ Lite", "Compare all", "☐ + ×4 upscale"]
    assert keyboard.keyboard[1] == [("Compare all", "run:compare:n2")]  # its own row
    assert all(len(data.encode()) <= 64 for _, data in buttons(keyboard))
    assert (state.content, state.style, state.nonce) == (IMAGE, STYLE, "n2")


def test_pressing_a_choice_submits_with_the_toggled_options():
    state, _ = run(UserState(), ImageReceived(IMAGE), ImageReceived(STYLE))
    state, (toggle, press) = run(state, Pressed("opt:upscale:n2"), Pressed("run:vgg:n2"))
    assert isinstance(toggle[1], Edit) and "☑ + ×4 upscale" in str(toggle[1].keyboard)
    assert press == [Answer(texts.QUEUED_ANSWER), Submit("vgg", ("upscale",))]


def test_stale_and_unknown_buttons_are_answered_not_obeyed():
    state, _ = run(UserState(), ImageReceived(IMAGE), ImageReceived(STYLE))
    for data in ("run:vgg:old", "run:nope:n2", "opt:nope:n2", "garbage", "set:size:999", ""):
        _, (actions,) = run(state, Pressed(data))
        assert actions == [Answer(texts.BUTTON_EXPIRED)], data
    # after a third image (a new pair), the previous keyboard is stale too
    state, _ = run(state, ImageReceived(FileRef("f3", "u3")))
    _, (actions,) = run(state, Pressed("run:vgg:n2"))
    assert actions == [Answer(texts.BUTTON_EXPIRED)]


def test_text_where_an_image_or_choice_is_expected():
    state = UserState()
    assert run(state, Text("hi"))[1] == [[Reply(texts.NEED_IMAGE_CONTENT)]]
    state, _ = run(state, ImageReceived(IMAGE))
    assert run(state, Text("hi"))[1] == [[Reply(texts.NEED_IMAGE_STYLE)]]
    state, _ = run(state, ImageReceived(STYLE))
    assert run(state, Text("hi"))[1] == [[Reply(texts.NEED_CHOICE)]]


def test_rejected_inputs_are_explained_and_change_nothing():
    state, _ = run(UserState(), ImageReceived(IMAGE))
    after, (actions,) = run(state, Rejected("that is a sticker"))
    assert after == state and actions == [Reply("that is a sticker")]


def test_note_is_said_before_the_acknowledgement():
    _, (actions,) = run(UserState(), ImageReceived(IMAGE, note="scaled"))
    assert actions[:2] == [Reply("scaled"), Reply(texts.GOT_CONTENT)]


def test_commands():
    state, _ = run(UserState(), ImageReceived(IMAGE))
    _, (start,) = run(state, Command("start"))
    assert start[0] == Reply(texts.START)
    assert start[1].text.startswith(texts.HELP)
    # /help names what this bot offers (its menu), not every backbone there is
    assert "Networks here: VGG19, Lite" in start[1].text
    cleared, (cancel,) = run(state, Command("cancel"))
    assert cancel == [Cancel(cleared=True)] and cleared.content is None
    assert run(UserState(), Command("cancel"))[1] == [[Cancel(cleared=False)]]
    assert run(state, Command("status"))[1] == [[Status()]]
    assert run(state, Command("xyzzy"))[1] == [[Reply(texts.UNKNOWN_COMMAND)]]


def test_settings_show_and_change_every_field():
    state = UserState()
    _, ((shown,),) = run(state, Command("settings"))
    assert "Size: 512 px · Steps: 200" in shown.text
    state, (*_, option) = run(
        state,
        Pressed("set:size:256"),
        Pressed("set:steps:100"),
        Pressed("set:b:vgg"),
        Pressed("set:fq"),
        Pressed("set:opt:upscale"),
    )
    assert state.settings == UserSettings(
        backbone="vgg", size=256, steps=100, full_quality=True, options=("upscale",)
    )
    assert "×4 upscale: on" in option[1].text
    assert "Default network: VGG19" in option[1].text
    # pressing the value already chosen answers without a redundant edit
    _, (same,) = run(state, Pressed("set:size:256"))
    assert same == [Answer(texts.SETTINGS_SAVED)]
    # preserve colour is only offered when the engine supports it
    assert run(state, Pressed("set:pc"))[1] == [[Answer(texts.BUTTON_EXPIRED)]]


def test_options_on_the_keyboard_start_from_the_users_settings():
    state = UserState(settings=UserSettings(options=("upscale",)))
    _, (_, (keyboard,)) = run(state, ImageReceived(IMAGE), ImageReceived(STYLE))
    assert "☑ + ×4 upscale" in [label for label, _ in buttons(keyboard)]


def test_state_round_trips_through_json():
    state, _ = run(UserState(), ImageReceived(IMAGE), ImageReceived(STYLE), Pressed("set:fq"))
    assert UserState.from_dict(state.to_dict()) == state


def test_without_a_bot_wide_default_each_network_runs_its_own_steps():
    menu = dataclasses.replace(MENU, default_steps=None,
                               backbone_steps=(("vgg", 140), ("lite", 150)))  # fmt: skip
    settings = UserSettings()
    assert menu.steps_of(settings, "vgg") == 140 and menu.steps_of(settings, "lite") == 150
    assert menu.steps_of(dataclasses.replace(settings, steps=100), "vgg") == 100  # user's pick
    assert dataclasses.replace(menu, default_steps=200).steps_of(settings, "vgg") == 200


def test_a_forged_or_stale_gallery_button_is_answered_not_obeyed():
    state, _ = run(UserState(), ImageReceived(IMAGE))
    assert state.photo_nonce == "n1"
    for data, answer in (
        ("gal:no-such-painting:n1", texts.BUTTON_EXPIRED),  # forged slug
        ("gal:starry:n1", texts.BUTTON_EXPIRED),  # a prefix is not a slug on a button
        ("gal:starry-night:n9", texts.GALLERY_STALE),  # another photo's gallery
        ("gal:starry-night:", texts.GALLERY_STALE),
    ):
        after, (actions,) = run(state, Pressed(data))
        assert (after, actions) == (state, [Answer(answer)]), data
    # a new pair's gallery makes the first one stale
    state, _ = run(state, ImageReceived(STYLE), ImageReceived(FileRef("f3", "u3")))
    assert state.photo_nonce not in (None, "n1")
    assert run(state, Pressed("gal:starry-night:n1"))[1] == [[Answer(texts.GALLERY_STALE)]]


def test_a_painting_is_the_style_and_the_same_gallery_can_change_it():
    state, _ = run(UserState(), ImageReceived(IMAGE))
    state, ((answer, reply),) = run(state, Pressed("gal:starry-night:n1"), nonce=iter_nonce("k"))
    assert answer == Answer("The Starry Night")
    assert reply.text == texts.painting_chosen(translator("en"), "The Starry Night")
    assert state.style == FileRef("starry-night", "gallery-starry-night", kind="gallery")
    assert (state.content, state.nonce) == (IMAGE, "k1")
    assert [label for label, _ in buttons(reply)][:2] == ["VGG19", "★ Lite"]
    state, _ = run(state, Pressed("gal:the-scream:n1"), nonce=iter_nonce("m"))
    assert state.style.file_id == "the-scream" and state.nonce == "m1"  # the old keyboard: stale


def test_styles_reuses_the_photos_gallery_and_before_a_photo_the_painting_waits():
    state, _ = run(UserState(), ImageReceived(IMAGE))
    _, ((shown,),) = run(state, Command("styles"))
    assert shown == ShowGallery("n1", texts.GALLERY_FOR_PHOTO)  # the same buttons
    state, ((first,), (_answer, reply)) = run(
        UserState(), Command("styles"), Pressed("gal:udnie:n1")
    )
    assert first == ShowGallery("n1", texts.GALLERY_FIRST)
    udnie = "Udnie (Young American Girl, The Dance)"
    assert reply == Reply(texts.painting_first(translator("en"), udnie))
    assert state.content is None and state.style.file_id == "udnie"
    state, ((keyboard,),) = run(state, ImageReceived(IMAGE), nonce=iter_nonce("p"))
    assert (state.content, state.style.file_id, state.nonce) == (IMAGE, "udnie", "p1")
    assert keyboard.text.startswith("Painting: Udnie") and keyboard.keyboard
    assert state.photo_nonce is None  # that gallery was before this photo


def iter_nonce(prefix):
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def test_a_painting_picked_while_asking_photo_or_style_makes_the_image_the_photo():
    last = FileRef("f0", "u0", 40, 30)
    state = UserState(last=last, last_job="j0")
    state, _ = run(state, ImageReceived(IMAGE))  # after a result: "new photo or new style?"
    assert state.asking == IMAGE and state.content is None
    state, ((shown,),) = run(state, Command("styles"), nonce=iter_nonce("s"))
    assert shown == ShowGallery("s1", texts.GALLERY_FOR_PHOTO)  # for the image just sent
    state, ((_answer, keyboard),) = run(state, Pressed("gal:great-wave:s1"))
    assert (state.content, state.style.file_id, state.asking) == (IMAGE, "great-wave", None)
    assert keyboard.text.startswith("Painting: The Great Wave") and keyboard.keyboard
    # the question's buttons are stale now
    assert run(state, Pressed("ask:photo:n1"))[1] == [[Answer(texts.BUTTON_EXPIRED)]]
