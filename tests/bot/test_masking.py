"""The token never reaches a log line, a traceback or an error text."""

from __future__ import annotations

import logging

import pytest
import requests

from nstcli.bot import masking
from nstcli.bot.config import check_token
from nstcli.engine.errors import InputError

TOKEN = "987654:AAH-secret_Value-x"


@pytest.fixture(autouse=True)
def secret():
    masking.add_secret(TOKEN)
    masking.install_log_masking()
    yield
    masking.clear_secrets()


def test_mask_replaces_the_token_and_its_secret_half():
    text = f"GET /bot{TOKEN}/getMe and secret={TOKEN.split(':')[1]}&x=1"
    assert masking.mask(text) == "GET /bot***/getMe and secret=***&x=1"


def test_log_records_messages_arguments_and_tracebacks_are_masked(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug('"GET /bot%s/getMe HTTP/1.1" 200', TOKEN)
    try:
        raise requests.ConnectionError(f"Max retries exceeded with url: /bot{TOKEN}/getFile")
    except requests.ConnectionError:
        logging.getLogger("nstcli.bot").exception("download failed for %s", TOKEN)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert "/bot***/getMe" in caplog.text and "/bot***/getFile" in caplog.text


def test_describe_masks_exception_text():
    error = requests.ConnectionError(f"url: http://x/bot{TOKEN}/m")
    assert masking.describe(error) == "ConnectionError: url: http://x/bot***/m"


def test_urllib3_is_kept_off_debug_by_default():
    # its DEBUG lines print request paths, i.e. /bot<token>/method
    for name in ("urllib3", "urllib3.connectionpool"):
        assert logging.getLogger(name).level >= logging.WARNING


@pytest.mark.parametrize("bad", ["", "  ", "test", "abc:def", "123", "12:3 4", "12:ab"])
def test_malformed_tokens_are_clear_errors_that_do_not_echo_the_token(bad):
    with pytest.raises(InputError) as caught:
        check_token(bad)
    assert bad.strip() == "" or bad not in str(caught.value)


def test_a_well_formed_token_passes():
    assert check_token(f"  {TOKEN} ") == TOKEN
