"""Fix 7 of issue 19: the rate-limit refusal says when the next job is possible."""

from __future__ import annotations

import pytest

from nstcli.bot import texts
from nstcli.bot.actions import RATE_WINDOW, minutes_until_allowed
from nstcli.bot.i18n import translator
from tests.bot.conftest import User
from tests.bot.test_follow_ups import finished
from tests.bot.test_new_user_fixes import submit


@pytest.mark.parametrize(
    ("language", "reply"),
    [
        (
            "en",
            "You've started 1 job in the last hour, the limit here. "
            "You can start the next one in 60 minutes.",
        ),
        (
            "ru",
            "За последний час вы запустили 1 задачу — это предел для этого бота. "
            "Следующую можно запустить через 60 минут.",
        ),
    ],
)
def test_the_rate_limit_refusal_says_when_the_next_job_is_possible(
    api, engine, start_bot, language, reply
):
    start_bot(rate_limit=1)
    api.languages[31] = language
    _ = translator(language)
    user = User(api, 31)
    submit(user, language)
    user.wait_results()
    finished(api, user)  # until its final state is stored, a press is refused as busy
    user.press(_(texts.MORE_STYLE))  # a second job within the hour
    user.wait_text(reply)  # started seconds ago: the hour ends in 60 minutes (rounded up)
    assert len(engine.calls) == 1


@pytest.mark.parametrize(
    ("language", "minutes", "wait"),
    [
        ("en", 1, "in 1 minute."),
        ("en", 2, "in 2 minutes."),
        ("ru", 1, "через 1 минуту."),
        ("ru", 3, "через 3 минуты."),
        ("ru", 5, "через 5 минут."),
        ("ru", 11, "через 11 минут."),
        ("ru", 21, "через 21 минуту."),
        ("ru", 44, "через 44 минуты."),
    ],
)
def test_the_wait_takes_its_plural_form(language, minutes, wait):
    assert texts.rate_limited(translator(language), 2, minutes).endswith(wait)


def test_the_wait_lasts_until_enough_of_the_hours_jobs_have_left_it():
    now = 10_000.0
    # three jobs in the hour; limit 2: two must leave, the second leaves at now - 600 + 1 h
    starts = [now - 3000, now - 600, now - 30]
    assert minutes_until_allowed(starts, 2, now) == 50
    assert minutes_until_allowed(starts, 3, now) == 10  # the oldest leaves in 600 s
    assert minutes_until_allowed(starts, 1, now) == 60  # rounded up: 59.5 min → 60
    assert minutes_until_allowed([now - RATE_WINDOW + 0.5], 1, now) == 1  # never "0 minutes"
