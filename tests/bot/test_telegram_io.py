"""The telebot adapter against the fake server: retries, limits, photo/document choice."""

from __future__ import annotations

import pytest
import telebot
from PIL import Image

from nstcli.bot.telegram_io import (
    FileTooBig,
    Retry,
    StatusMessage,
    TelegramError,
    TelegramIO,
    configure_api,
    fits_photo,
)
from tests.bot.fakeapi import TOKEN


@pytest.fixture
def tg(api, monkeypatch):
    from telebot import apihelper

    monkeypatch.setattr(apihelper, "API_URL", None)
    monkeypatch.setattr(apihelper, "FILE_URL", None)
    configure_api(api.url)
    sleeps: list[float] = []
    io = TelegramIO(telebot.TeleBot(TOKEN, threaded=False), Retry(attempts=4), sleeps.append)
    io.sleeps = sleeps  # type: ignore[attr-defined]
    return io


def test_api_url_sets_both_method_and_file_urls(api, tg):
    from telebot import apihelper

    assert api.url + "/bot{0}/{1}" == apihelper.API_URL
    assert api.url + "/file/bot{0}/{1}" == apihelper.FILE_URL
    file_id, _ = api.add_file(b"hello")
    assert tg.download(file_id) == b"hello"
    assert [c.method for c in api.calls] == ["getFile", "download"]


def test_429_waits_retry_after_and_5xx_backs_off(api, tg):
    api.fail("sendMessage", 429, retry_after=7)
    api.fail("sendMessage", 502, times=2)
    assert tg.send_text(5, "hi") > 0
    assert tg.sleeps == [7.0, 0.5, 1.0]
    assert [c.status for c in api.sent("sendMessage", ok_only=False)] == [429, 502, 502, 200]


def test_gives_up_with_a_token_free_error(api, tg):
    api.fail("sendMessage", 500, times=10)
    with pytest.raises(TelegramError) as caught:
        tg.send_text(5, "hi")
    assert TOKEN.split(":")[1] not in str(caught.value)


def test_bad_request_is_not_retried(api, tg):
    api.fail("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(TelegramError, match="chat not found"):
        tg.send_text(5, "hi")
    assert tg.sleeps == []


def test_oversized_downloads_are_refused_before_fetching(api, tg):
    file_id, _ = api.add_file(None, size=21 * 1024 * 1024)
    with pytest.raises(FileTooBig):
        tg.download(file_id)
    small_id, _ = api.add_file(b"x" * 100)
    with pytest.raises(FileTooBig):
        tg.download(small_id, max_bytes=50)
    assert api.sent("download") == []  # both refused on getFile's size alone


def test_downloads_default_to_the_servers_limit(api, tg):
    """`--api-limits` reaches every download, the job workers' included."""
    from nstcli.bot.config import Limits

    file_id, _ = api.add_file(b"x" * 100)
    tg.limits = Limits(download=50)
    with pytest.raises(FileTooBig):
        tg.download(file_id)
    tg.limits = Limits(download=1000)
    assert tg.download(file_id) == b"x" * 100


def test_photo_limits():
    assert fits_photo(5000, 5000, 1000)
    assert not fits_photo(5001, 5000, 1000)  # width + height > 10000
    assert not fits_photo(2100, 100, 1000)  # ratio > 20
    assert not fits_photo(100, 100, 10 * 1024 * 1024 + 1)


def test_send_image_falls_back_to_a_document(api, tg):
    def kinds(chat: int) -> list[str]:
        return [
            c.method
            for c in api.calls
            if c.chat == chat and c.method in ("sendPhoto", "sendDocument")
        ]

    keys = [[("More", "res:more:j1")]]
    photo = tg.send_image(5, Image.new("RGB", (64, 48), "red"), "ok", keyboard=keys)
    assert photo.ref.kind == "photo" and kinds(5)[-1] == "sendPhoto"
    assert api.messages[(5, photo.message_id)]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "More",
        "callback_data": "res:more:j1",
    }
    assert tg.send_image(5, Image.new("RGB", (2100, 100), "red"), "wide").ref.kind == "document"
    api.fail("sendPhoto", 400, description="Bad Request: PHOTO_INVALID_DIMENSIONS")
    assert tg.send_image(5, Image.new("RGB", (64, 48), "blue"), "refused").ref.kind == "document"
    both = tg.send_image(5, Image.new("RGB", (64, 48), "red"), "full", True, keys)
    # full quality: a photo, then the PNG; the buttons sit under the last one, the PNG
    assert kinds(5)[-2:] == ["sendPhoto", "sendDocument"] and both.ref.kind == "document"
    assert api.messages[(5, both.message_id)]["reply_markup"] is not None
    assert "reply_markup" not in api.messages[(5, both.message_id - 1)]
    documents = api.sent("sendDocument", 5)
    assert len(documents) == 3
    assert all(c.files["document"][:8] == b"\x89PNG\r\n\x1a\n" for c in documents)
    assert [c.params["action"] for c in api.sent("sendChatAction")][:1] == ["upload_photo"]
    # the file a result holds is what a follow-up downloads: the bytes just sent
    assert tg.download(both.ref.file_id) == documents[-1].files["document"]


def test_status_message_throttles_and_skips_identical_text(api, tg):
    now = [100.0]
    status = StatusMessage(tg, 5, None, interval=3.0, clock=lambda: now[0])
    status.update("0%")  # first update sends the message
    status.update("0%")  # identical: skipped
    status.update("10%")  # too soon: skipped
    now[0] += 3.0
    status.update("20%")
    status.update("done", force=True)  # final states are never dropped
    assert [c.params["text"] for c in api.sent("sendMessage")] == ["0%"]
    assert [c.params["text"] for c in api.sent("editMessageText")] == ["20%", "done"]


def test_a_timed_out_call_is_retried(api, tg, monkeypatch):
    from telebot import apihelper

    monkeypatch.setattr(apihelper, "READ_TIMEOUT", 0.3)
    api.fail("sendMessage", 502, delay=1.0)  # answers (an error) too late anyway
    assert tg.send_text(5, "hi") > 0
    assert tg.sleeps == [0.5]
    assert len(api.sent("sendMessage")) == 1
