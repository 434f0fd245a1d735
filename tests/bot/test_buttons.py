"""Button data: one codec for every keyboard, within Telegram's 64 bytes, forgeries refused."""

from __future__ import annotations

import uuid

import pytest

from nstcli.bot import buttons
from nstcli.bot.buttons import ButtonData, FollowUp, Kind


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_round_trips_with_a_job_id(kind):
    job = uuid.uuid4().hex
    data = buttons.encode(kind, "resnet", job)
    assert len(data.encode()) <= buttons.MAX_BYTES
    assert buttons.decode(data) == ButtonData(kind, "resnet", job)


def test_old_keyboards_data_still_decodes():
    assert buttons.decode("run:vgg:n1") == ButtonData(Kind.RUN, "vgg", "n1")
    assert buttons.decode("opt:upscale:ab12") == ButtonData(Kind.OPTION, "upscale", "ab12")
    assert buttons.decode("set:fq") == ButtonData(Kind.SETTING, "fq", "")
    assert buttons.decode("set:size:256") == ButtonData(Kind.SETTING, "size", "256")


@pytest.mark.parametrize(
    "forged",
    [
        None,
        "",
        "garbage",
        "run:",
        "run::n1",
        "xyz:vgg:n1",
        "run:vgg:n1:extra",
        "run:v g:n1",
        "run:vgg:" + "a" * 60,
        "res:more:'; drop table jobs",
        "RUN:vgg:n1",
    ],
)
def test_forged_or_truncated_data_decodes_to_none(forged):
    assert buttons.decode(forged) is None


def test_encode_refuses_what_could_not_round_trip():
    with pytest.raises(ValueError, match="64 bytes"):
        buttons.encode(Kind.FOLLOW_UP, "more", "x" * 60)
    with pytest.raises(ValueError, match="characters"):
        buttons.encode(Kind.RUN, "a:b", "n1")


def test_follow_ups_are_named_explicitly():
    assert buttons.follow_up(ButtonData(Kind.FOLLOW_UP, "more", "j")) is FollowUp.MORE
    assert buttons.follow_up(ButtonData(Kind.FOLLOW_UP, "nope", "j")) is None
