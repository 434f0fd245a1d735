"""Intake: updates from Telegram into the store's inbox, onto per-user lanes, classified.

* `PollingBot` writes each `getUpdates` batch to the inbox *before* the next call's
  offset confirms it to Telegram, and hands only updates it has not stored before to
  the lanes (a crash can make Telegram re-send a batch that is already stored).
* `Lanes`: a few threads; one user's updates always go to the same thread, so they are
  handled in order while different users proceed in parallel.
* `parse` and `MediaChecks` turn a stored update into what the conversation needs, giving
  each file its media kind (image or clip) once. No CPU work happens here: files are only
  downloaded and checked (a clip from its metadata and first frame).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import mimetypes
import queue
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import telebot
from PIL import Image
from telebot import apihelper, types, util

from nstcli.bot import texts
from nstcli.bot.config import ClipConfig, Limits
from nstcli.bot.conversation import Command, Event, ImageReceived, Pressed, Rejected, Text
from nstcli.bot.files import FileCache
from nstcli.bot.i18n import Gettext
from nstcli.bot.models import FileRef
from nstcli.bot.store import InboxEntry
from nstcli.bot.telegram_io import FileTooBig, TelegramError
from nstcli.engine import sizing
from nstcli.engine.clip.source import (
    ClipLimits,
    ClipSelection,
    FrameSchedule,
    probe,
    read_frames,
    schedule,
)
from nstcli.engine.errors import InputError
from nstcli.engine.images import load_image

log = logging.getLogger("nstcli.bot.intake")


class Conflict(Exception):
    """Telegram answered getUpdates with 409: another poller or a webhook owns the token."""


class _QuietConflict(telebot.ExceptionHandler):
    """Keeps telebot from logging the 409 that `serve_bot` reports in its own words."""

    def handle(self, exception: Exception) -> bool:
        return isinstance(exception, apihelper.ApiTelegramException) and (
            exception.error_code == 409
        )


class PollingBot(telebot.TeleBot):
    """telebot's polling loop, storing each batch before confirming it, then dispatching."""

    def __init__(
        self,
        token: str,
        receive: Callable[[list[dict[str, Any]]], list[InboxEntry]] | None = None,
        sink: Callable[[InboxEntry], None] | None = None,
    ) -> None:
        super().__init__(
            token, threaded=False, skip_pending=False, exception_handler=_QuietConflict()
        )
        self.receive, self.sink = receive, sink
        #: Called after each getUpdates that Telegram answered and the inbox stored.
        self.polled: Callable[[], None] | None = None
        self.conflict: str | None = None
        self._fresh: list[InboxEntry] = []

    def get_updates(  # type: ignore[override]
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: int | None = 20,
        allowed_updates: list[str] | None = None,
        long_polling_timeout: int = 20,
    ) -> list[types.Update]:
        try:
            raw = apihelper.get_updates(
                self.token, offset, limit, timeout, allowed_updates, long_polling_timeout
            )
        except apihelper.ApiTelegramException as error:
            if error.error_code == 409:
                self.conflict = error.description
                self.stop_polling()
            raise
        if raw and self.receive is not None:
            self._fresh = self.receive(raw)  # durable before the next offset confirms it
        if self.polled is not None:
            self.polled()
        return [types.Update.de_json(copy.deepcopy(item)) for item in raw]

    def process_new_updates(self, updates: list[types.Update]) -> None:
        if not updates:
            return
        self.last_update_id = max(self.last_update_id, *(u.update_id for u in updates))
        fresh, self._fresh = self._fresh, []
        if self.sink is not None:
            for entry in fresh:
                self.sink(entry)


def user_of(payload: dict[str, Any]) -> int:
    """The user a raw update belongs to (0 for kinds the bot ignores)."""
    if "message" in payload:
        message = payload["message"]
        return (message.get("from") or message.get("chat") or {}).get("id", 0)
    if "callback_query" in payload:
        return payload["callback_query"].get("from", {}).get("id", 0)
    return 0


class Lanes:
    """N worker threads; items with the same key run in order on the same thread."""

    def __init__(self, count: int, work: Callable[[Any], None]) -> None:
        self._queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(max(1, count))]
        self._work = work
        self._threads = [
            threading.Thread(target=self._run, args=(q,), name=f"nst-lane-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, key: int, item: Any) -> None:
        self._queues[key % len(self._queues)].put(item)

    def _run(self, lane: queue.Queue[Any]) -> None:
        while (item := lane.get()) is not None:
            try:
                self._work(item)
            except TelegramError as error:  # already retried; the user may see no reply
                log.warning("handling an update: %s", error)
            except Exception:
                log.exception("handling an update failed")

    def close(self, timeout: float = 30.0) -> None:
        for lane in self._queues:
            lane.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclasses.dataclass
class Incoming:
    """What the service needs from one update."""

    user_id: int
    chat_id: int
    message: types.Message | None = None
    callback: types.CallbackQuery | None = None
    #: The user's Telegram interface language ("ru", "en-GB", ...), if Telegram sent it.
    language_code: str | None = None


def parse(payload: dict[str, Any]) -> Incoming | None:
    update = types.Update.de_json(copy.deepcopy(payload))
    if update.message is not None:
        message = update.message
        sender = message.from_user
        user = sender.id if sender else message.chat.id
        language = sender.language_code if sender else None
        return Incoming(user, message.chat.id, message=message, language_code=language)
    if update.callback_query is not None:
        callback = update.callback_query
        chat = callback.message.chat.id if callback.message is not None else callback.from_user.id
        return Incoming(
            callback.from_user.id,
            chat,
            callback=callback,
            language_code=callback.from_user.language_code,
        )
    return None


#: Telegram message types that carry a moving picture (GIFs arrive as MP4 animations).
CLIP_MESSAGES = ("animation", "video", "video_note")


@dataclasses.dataclass
class MediaChecks:
    """Classify a message: a command, text, a usable image or clip (downloaded and
    checked now), or a refusal. Each file gets its media kind here, once (`FileRef.media`):
    everything after (the conversation, the job, the delivery) goes by that kind."""

    files: FileCache
    limits: Limits
    clips: ClipConfig = dataclasses.field(default_factory=ClipConfig)

    def event(self, incoming: Incoming, size: int, _: Gettext) -> Event:
        if incoming.callback is not None:
            return Pressed(incoming.callback.data or "")
        message = incoming.message
        assert message is not None
        kind = message.content_type
        if kind == "text":
            text = message.text or ""
            command = util.extract_command(text)
            return Command(command.lower()) if command else Text(text)
        if kind == "sticker":
            return Rejected(_(texts.STICKER))
        if kind in CLIP_MESSAGES:
            item = getattr(message, kind)
            ref = FileRef(item.file_id, item.file_unique_id, size=item.file_size, kind=kind)
            return self._check_clip(ref, getattr(item, "duration", None), size, _)
        if kind == "photo":
            best = message.photo[-1]
            ref = FileRef(
                best.file_id, best.file_unique_id, best.width, best.height, best.file_size
            )
        elif kind == "document":
            document = message.document
            mime = document.mime_type or mimetypes.guess_type(document.file_name or "")[0]
            ref = FileRef(
                document.file_id, document.file_unique_id, size=document.file_size, kind="document"
            )
            if mime and mime.startswith("video/"):
                return self._check_clip(ref, None, size, _)
            if not mime or not mime.startswith("image/"):
                return Rejected(texts.not_an_image(_, mime, document.file_name))
        else:
            return Rejected(_(texts.NOT_MEDIA))
        return self._check_image(ref, size, _, message.media_group_id)

    def _fetch(self, ref: FileRef, _: Gettext) -> Path | Rejected:
        """The file on local disk, or why it cannot be had (checked against the limit)."""
        limit = self.limits.download
        if ref.size and ref.size > limit:
            return Rejected(texts.too_big(_, ref.size, limit, ref.kind))
        try:
            return self.files.fetch(ref, limit)
        except FileTooBig:  # its real size is unknown: the one claimed was within the limit
            return Rejected(texts.too_big(_, None, limit, ref.kind))
        except TelegramError as error:
            log.warning("download of %s failed: %s", ref.unique_id, error)
            return Rejected(_(texts.DOWNLOAD_FAILED))

    def _check_image(self, ref: FileRef, size: int, _: Gettext, album: str | None) -> Event:
        """Download and decode the image now, so problems are answered at once."""
        path = self._fetch(ref, _)
        if isinstance(path, Rejected):
            return path
        if self.clips.enabled and is_animated(path):  # an animated GIF/WebP file is a clip
            return self._inspected_clip(dataclasses.replace(ref, media="clip"), path, size, _)
        problem, (width, height) = inspect_image(path)
        if problem is not None:
            self.files.delete(ref)
            return Rejected(_(problem))
        try:  # the engine's own rule, so a 1×1 image is refused now, not after the queue
            sizing.check_picture("image", width, height, role="image")
        except InputError as error:
            self.files.delete(ref)
            return Rejected(texts.refused_input(_, error.code, error.details))
        ref = dataclasses.replace(ref, width=width, height=height)
        note = texts.downscaled(_, width, height, size) if max(width, height) > size else None
        return ImageReceived(ref, note, album)

    def _check_clip(self, ref: FileRef, duration: float | None, size: int, _: Gettext) -> Event:
        """A moving picture: refused from Telegram's own metadata when it is too long or
        too big, else downloaded and checked from the file's metadata and first frame."""
        clips = self.clips
        if not clips.enabled:
            return Rejected(_(texts.ANIMATED))
        if duration is not None and duration > clips.max_seconds + 0.5:
            return Rejected(texts.clip_too_long(_, float(duration), clips.max_seconds))
        path = self._fetch(ref, _)
        if isinstance(path, Rejected):
            return path
        return self._inspected_clip(dataclasses.replace(ref, media="clip"), path, size, _)

    def _inspected_clip(self, ref: FileRef, path: Path, size: int, _: Gettext) -> Event:
        try:
            ref = inspect_clip(path, ref, self.clips)
        except InputError as error:
            self.files.delete(ref)
            return Rejected(clip_refusal(_, error, self.clips))
        note = texts.clip_note(_, ref.frames or 1, ref.fps or self.clips.fps)
        return ImageReceived(ref, note, None)


def inspect_clip(path: Path, ref: FileRef, clips: ClipConfig) -> FileRef:
    """`ref` with the clip's size, frames and rate at the bot's settings, from its
    metadata (a two-hour video is refused without decoding it) and its first frame
    (a file that starts well but holds no picture is refused now, not in the queue)."""
    limits = ClipLimits(max_frames=clips.max_frames, max_seconds=clips.max_seconds)
    info = probe(path, limits)
    plan = schedule(info, ClipSelection(fps=clips.fps), limits)
    frames = read_frames(info, plan, 64)
    try:
        first = next(frames)
    except StopIteration:  # (read_frames raises for no frame; kept for safety)
        raise InputError(f"{path}: no frame could be decoded", code="no_frames") from None
    finally:
        frames.close()
    width, height = info.width, info.height  # coded; the frames read are upright
    if (first.width > first.height) != (width > height):
        width, height = height, width
    return dataclasses.replace(
        ref, width=width, height=height, frames=plan.count, fps=plan.fps, media="clip"
    )


def first_frame(path: Path, side: int = 320) -> Image.Image:
    """A clip's first frame, upright, `side` px on its longer side (for the status)."""
    info = probe(path)
    frames = read_frames(info, FrameSchedule(info.fps, 0.0, 1), side)
    try:
        return next(frames)
    finally:
        frames.close()


def clip_refusal(_: Gettext, error: InputError, clips: ClipConfig) -> str:
    """The engine's refusal of a clip as one sentence in the user's language."""
    if error.code == "clip_too_long":
        return texts.clip_too_long(_, float(error.details.get("seconds", 0)), clips.max_seconds)
    if error.code == "too_many_pixels":
        return _(texts.CLIP_TOO_MANY_PIXELS)
    if error.code in texts.ENGINE_REASONS and error.code.startswith(("clip", "no_")):
        return texts.refused_input(_, error.code, error.details)
    return _(texts.CLIP_UNREADABLE)


def is_animated(path: Path) -> bool:
    """Whether an image file holds more than one frame (an animated GIF/WebP)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return getattr(image, "n_frames", 1) > 1
    except Exception:  # unreadable here: inspect_image says why
        return False


def inspect_image(path: Path) -> tuple[str | None, tuple[int, int]]:
    """(why this file cannot be used (a msgid) or None, its upright size)."""
    try:
        with warnings.catch_warnings():  # load_image below judges the pixel count
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            if getattr(image, "n_frames", 1) > 1:
                return texts.ANIMATED, (0, 0)
    except Image.DecompressionBombError:
        return texts.TOO_MANY_PIXELS, (0, 0)
    except Exception:
        return texts.CORRUPT, (0, 0)
    try:
        return None, load_image(path).size
    except InputError as error:
        return (texts.TOO_MANY_PIXELS if error.code == "too_many_pixels" else texts.CORRUPT), (0, 0)
