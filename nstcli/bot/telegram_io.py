"""The telebot adapter: every Bot API call the bot and workers make goes through here.

It adds what telebot leaves to us: 429 answered by waiting `retry_after`, 5xx and
network errors retried with exponential back-off, "message is not modified" ignored,
photo-or-document delivery within Telegram's limits, bounded downloads with a timeout,
and token-free error texts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
import telebot
from PIL import Image
from telebot import apihelper, types

from nstcli.bot.config import MB, Limits
from nstcli.bot.imaging import encode, preview_jpeg
from nstcli.bot.masking import describe, mask
from nstcli.bot.models import Delivered, FileRef

log = logging.getLogger("nstcli.bot.telegram")

#: sendPhoto limits: 10 MB (`Limits.photo_upload`), width + height ≤ 10000, ratio ≤ 20.
PHOTO_MAX_BYTES = Limits().photo_upload
PHOTO_MAX_SIDES = 10_000
PHOTO_MAX_RATIO = 20

#: A keyboard as rows of (label, callback data).
Keyboard = Sequence[Sequence[tuple[str, str]]]

T = TypeVar("T")


class TelegramError(Exception):
    """A Bot API call failed for good (after retries); the message is token-free."""


class FileTooBig(TelegramError):
    """Telegram will not hand this file to bots (over 20 MB)."""


class ResultTooBig(TelegramError):
    """A result over the server's upload limit even as a document: sending it again
    would fail the same way, so the user is told why instead of "try again"."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"sendDocument: the result is {size / MB:.1f} MB, over this server's "
            f"{limit // MB} MB upload limit"
        )
        self.size, self.limit = size, limit


def configure_api(api_url: str) -> None:
    """Point telebot's method *and* file-download URLs at `api_url` (process-wide)."""
    apihelper.API_URL = api_url + "/bot{0}/{1}"
    apihelper.FILE_URL = api_url + "/file/bot{0}/{1}"


def markup(keyboard: Keyboard | None) -> types.InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    result = types.InlineKeyboardMarkup()
    for row in keyboard:
        result.row(*(types.InlineKeyboardButton(label, callback_data=data) for label, data in row))
    return result


def fits_photo(width: int, height: int, nbytes: int, max_bytes: int = PHOTO_MAX_BYTES) -> bool:
    ratio = max(width, height) / max(1, min(width, height))
    return nbytes <= max_bytes and width + height <= PHOTO_MAX_SIDES and ratio <= PHOTO_MAX_RATIO


@dataclass
class Retry:
    """How hard to try before giving up on one call."""

    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    #: Longest `retry_after` we honour per wait (Telegram asks for seconds, rarely minutes).
    max_retry_after: float = 300.0


class TelegramIO:
    """Bot API calls with retries; safe to use from many threads."""

    def __init__(
        self,
        bot: telebot.TeleBot,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limits: Limits | None = None,
    ) -> None:
        self.bot = bot
        self.retry = retry or Retry()
        self._sleep = sleep
        self.limits = limits or Limits()

    # -- the retry loop ------------------------------------------------------------------
    def call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = self.retry.backoff
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                return function(*args, **kwargs)
            except apihelper.ApiTelegramException as error:
                if error.error_code == 429:
                    wait = _retry_after(error)
                    log.warning("%s: 429 Too Many Requests, retrying after %ss", what, wait)
                    if last:
                        raise TelegramError(f"{what}: rate limited by Telegram") from None
                    self._sleep(min(wait, self.retry.max_retry_after))
                    continue
                if error.error_code >= 500 and not last:
                    log.warning("%s: error %s, retrying in %.1fs", what, error.error_code, delay)
                    self._sleep(delay)
                    delay = min(delay * 2, self.retry.max_backoff)
                    continue
                raise TelegramError(mask(f"{what}: {error.description}")) from None
            except apihelper.ApiHTTPException as error:
                status = getattr(error.result, "status_code", 0)
                if (status >= 500 or status == 429) and not last:
                    log.warning("%s: HTTP %s, retrying in %.1fs", what, status, delay)
                    self._sleep(delay)
                    delay = min(delay * 2, self.retry.max_backoff)
                    continue
                raise TelegramError(mask(f"{what}: HTTP {status}")) from None
            except (requests.ConnectionError, requests.Timeout) as error:
                if last:
                    raise TelegramError(f"{what}: {describe(error)}") from None
                log.warning("%s: %s; retrying in %.1fs", what, describe(error), delay)
                self._sleep(delay)
                delay = min(delay * 2, self.retry.max_backoff)
        raise AssertionError("unreachable")

    # -- messages ------------------------------------------------------------------------
    def send_text(self, chat_id: int, text: str, keyboard: Keyboard | None = None) -> int:
        message = self.call(
            "sendMessage", self.bot.send_message, chat_id, text, reply_markup=markup(keyboard)
        )
        return message.message_id

    def edit_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> bool:
        """Edit a message; False (not an error) when it is gone or already says `text`."""
        return self._edit(
            "editMessageText",
            self.bot.edit_message_text,
            text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=markup(keyboard),
        )

    def send_status(self, chat_id: int, text: str, photo: bytes | None = None) -> int:
        """A job's status message: text, or a photo with `text` as its caption (preview)."""
        if photo is None:
            return self.send_text(chat_id, text)
        message = self.call("sendPhoto", self.bot.send_photo, chat_id, photo, caption=text)
        return message.message_id

    def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str, keyboard: Keyboard | None = None
    ) -> Delivered:
        """A picture of the bot's own (JPEG bytes, or the file id of one sent before)
        with buttons, e.g. the gallery sheet; returns the message and its file."""
        message = self.call(
            "sendPhoto",
            self.bot.send_photo,
            chat_id,
            photo,
            caption=caption[:1024],
            reply_markup=markup(keyboard),
        )
        return _delivered(message)

    def edit_status(self, chat_id: int, message_id: int, text: str, photo: bool) -> bool:
        """Edit a status message's text, or its caption when it is a photo."""
        if not photo:
            return self.edit_text(chat_id, message_id, text)
        return self._edit(
            "editMessageCaption",
            self.bot.edit_message_caption,
            text,
            chat_id=chat_id,
            message_id=message_id,
        )

    def edit_preview(self, chat_id: int, message_id: int, image: Image.Image, text: str) -> bool:
        """Replace a status photo with `image` (small, compressed) and caption `text`."""
        media = types.InputMediaPhoto(preview_jpeg(image), caption=text)
        return self._edit(
            "editMessageMedia", self.bot.edit_message_media, media, chat_id, message_id
        )

    def _edit(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Call an edit method; False (not an error) when the message is gone or unchanged."""
        try:
            self.call(what, function, *args, **kwargs)
        except TelegramError as error:
            if "not modified" in str(error) or "not found" in str(error):
                return False
            raise
        return True

    def answer(self, callback_id: str, text: str | None = None) -> None:
        try:
            self.call("answerCallbackQuery", self.bot.answer_callback_query, callback_id, text)
        except TelegramError as error:  # a too-old query is harmless: the user sees nothing
            log.info("answerCallbackQuery: %s", error)

    def chat_action(self, chat_id: int, action: str) -> None:
        try:
            self.call("sendChatAction", self.bot.send_chat_action, chat_id, action)
        except TelegramError as error:  # cosmetic only
            log.info("sendChatAction: %s", error)

    # -- files ---------------------------------------------------------------------------
    def download(self, file_id: str, max_bytes: int | None = None) -> bytes:
        """The file's bytes; `FileTooBig` over `max_bytes` (default: the server's download
        limit), `TelegramError` otherwise."""
        if max_bytes is None:
            max_bytes = self.limits.download
        try:
            info = self.call("getFile", self.bot.get_file, file_id)
        except TelegramError as error:
            if "too big" in str(error).lower():
                raise FileTooBig(str(error)) from None
            raise
        if info.file_size and info.file_size > max_bytes:
            raise FileTooBig(f"file is {info.file_size} bytes")
        url = apihelper.FILE_URL.format(self.bot.token, info.file_path)
        return self.call("download", _fetch, url, max_bytes)

    def send_image(
        self,
        chat_id: int,
        image: Image.Image,
        caption: str,
        full_quality: bool = False,
        keyboard: Keyboard | None = None,
    ) -> Delivered:
        """Deliver a result: a photo when it fits sendPhoto's limits, else (or also, when
        the user wants full quality) a PNG document. `keyboard` goes on the last message
        sent, so the buttons sit under the result; returns that message and the best copy
        of the file (the document when there is one)."""
        self.chat_action(chat_id, "upload_photo")
        jpeg = encode(image, "JPEG")
        photo: types.Message | None = None
        if fits_photo(image.width, image.height, len(jpeg), self.limits.photo_upload):
            try:
                photo = self.call(
                    "sendPhoto",
                    self.bot.send_photo,
                    chat_id,
                    jpeg,
                    caption=caption[:1024],
                    reply_markup=None if full_quality else markup(keyboard),
                )
            except TelegramError as error:  # e.g. PHOTO_INVALID_DIMENSIONS
                log.info("sendPhoto refused (%s); sending as a document", error)
        if photo is not None and not full_quality:
            return _delivered(photo)
        self.chat_action(chat_id, "upload_document")
        png = encode(image, "PNG")
        if len(png) > self.limits.document_upload:
            if photo is not None:  # the photo is all this server takes: buttons go there
                self.set_keyboard(chat_id, photo.message_id, keyboard)
                return _delivered(photo)
            raise ResultTooBig(len(png), self.limits.document_upload)
        document = self.call(
            "sendDocument",
            self.bot.send_document,
            chat_id,
            png,
            caption=caption[:1024],
            visible_file_name="nst-result.png",
            reply_markup=markup(keyboard),
        )
        return _delivered(document)

    def send_clip(
        self,
        chat_id: int,
        path: Path,
        caption: str,
        animation: bool,
        size: tuple[int, int],
        keyboard: Keyboard | None = None,
    ) -> Delivered:
        """Deliver a stylised clip (an H.264 MP4): as an animation (it loops, silent, like
        the GIF it came from) or as a video (with its sound), within the upload limit."""
        data = path.read_bytes()
        if len(data) > self.limits.document_upload:
            raise TelegramError(
                f"upload: the clip is {len(data) / 1e6:.0f} MB, over this server's "
                f"{self.limits.document_upload // MB} MB upload limit"
            )
        self.chat_action(chat_id, "upload_video")
        width, height = size
        send, what = (
            (self.bot.send_animation, "sendAnimation")
            if animation
            else (self.bot.send_video, "sendVideo")
        )
        extra = {} if animation else {"supports_streaming": True}
        message = self.call(
            what,
            send,
            chat_id,
            data,  # bytes, not a stream: a retry sends them whole again
            width=width,
            height=height,
            caption=caption[:1024],
            reply_markup=markup(keyboard),
            **extra,
        )
        return _delivered(message)

    def set_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> bool:
        """Replace a message's buttons (None removes them); False when it is gone or
        unchanged, and best effort: buttons are never worth failing a job for."""
        try:
            return self._edit(
                "editMessageReplyMarkup",
                self.bot.edit_message_reply_markup,
                chat_id,
                message_id,
                reply_markup=markup(keyboard),
            )
        except TelegramError as error:
            log.info("editMessageReplyMarkup: %s", error)
            return False


def _delivered(message: types.Message) -> Delivered:
    """The message and its file as a `FileRef` (a clip; the largest photo size, or the
    document)."""
    clip = message.animation or message.video
    if clip is not None:
        kind = "animation" if message.animation is not None else "video"
        ref = FileRef(
            clip.file_id, clip.file_unique_id, clip.width, clip.height, clip.file_size,
            kind=kind, media="clip",
        )  # fmt: skip
        return Delivered(message.message_id, ref)
    if message.document is not None:
        item = message.document
        ref = FileRef(item.file_id, item.file_unique_id, size=item.file_size, kind="document")
    else:
        item = message.photo[-1]
        ref = FileRef(item.file_id, item.file_unique_id, item.width, item.height, item.file_size)
    return Delivered(message.message_id, ref)


def _retry_after(error: apihelper.ApiTelegramException) -> float:
    try:
        return float(error.result_json["parameters"]["retry_after"])
    except (KeyError, TypeError, ValueError):
        return 1.0


def _fetch(url: str, max_bytes: int) -> bytes:
    """GET with a timeout and a size cap (telebot's download_file has neither)."""
    with requests.get(url, timeout=(10, 60), stream=True, proxies=apihelper.proxy) as response:
        if response.status_code != 200:
            raise apihelper.ApiHTTPException("Download file", response)
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_content(1 << 16):
            total += len(chunk)
            if total > max_bytes:
                raise FileTooBig(f"file is over {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


class StatusMessage:
    """One message edited in place: at most every `interval` seconds, never the same text.

    When `photo` is true the message is a photo and `text` its caption; `preview()`
    offers a new picture, which replaces the photo with the next edit the rate limit
    allows (so a frame is never lost to a text edit that happened just before it).
    """

    def __init__(
        self,
        tg: TelegramIO,
        chat_id: int,
        message_id: int | None,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        photo: bool = False,
    ) -> None:
        self.tg, self.chat_id, self.message_id = tg, chat_id, message_id
        self.interval, self._clock = interval, clock
        self.photo = photo and message_id is not None
        self.text: str | None = None
        #: Seconds spent encoding and uploading previews (their cost to the job).
        self.preview_seconds = 0.0
        self._frame: Image.Image | None = None
        self._last_at = float("-inf")

    def update(self, text: str, force: bool = False) -> None:
        if text == self.text and self._frame is None:
            return
        now = self._clock()
        if not force and now - self._last_at < self.interval:
            return
        try:
            if self.message_id is None:
                self.message_id = self.tg.send_text(self.chat_id, text)
            elif self._frame is not None:
                frame, self._frame = self._frame, None
                started = time.perf_counter()
                try:
                    self.tg.edit_preview(self.chat_id, self.message_id, frame, text)
                finally:
                    self.preview_seconds += time.perf_counter() - started
            else:
                self.tg.edit_status(self.chat_id, self.message_id, text, self.photo)
        except TelegramError as error:  # progress is best effort; the result is what counts
            log.info("status update failed: %s", error)
            return
        self.text, self._last_at = text, now

    def preview(self, image: Image.Image, text: str) -> None:
        """Show `image` with caption `text` now, or with the next edit the limit allows."""
        if not self.photo:
            return
        self._frame = image
        self.update(text)
