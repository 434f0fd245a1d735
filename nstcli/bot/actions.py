"""Carrying out the conversation's actions: replies, button answers, edits, the gallery,
and the three that touch jobs (submit, cancel, status).

Actions are stored with their update before any is carried out (see `BotService`), so
after a crash they run again: each one here is safe to repeat. A `Submit` carries the
job id chosen when the press was handled, so its replay finds the job it already made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from nstcli.bot import choices, execute, paintings, texts
from nstcli.bot.config import BotConfig
from nstcli.bot.conversation import (
    Action,
    Answer,
    Cancel,
    DropKeyboard,
    Edit,
    Menu,
    Reply,
    ShowGallery,
    Status,
    Submit,
    result_keyboard,
)
from nstcli.bot.files import FileCache
from nstcli.bot.i18n import LANGUAGES, Gettext
from nstcli.bot.imaging import preview_jpeg
from nstcli.bot.intake import Incoming, first_frame
from nstcli.bot.models import FINAL, FileRef, JobRecord, JobSpec, UserSettings, UserState
from nstcli.bot.store import Store
from nstcli.bot.telegram_io import TelegramError, TelegramIO
from nstcli.bot.tracking import JobTracker
from nstcli.engine.errors import InputError

log = logging.getLogger("nstcli.bot.actions")

_KINDS: dict[str, type] = {
    kind.__name__: kind
    for kind in (Reply, Answer, Edit, DropKeyboard, ShowGallery, Submit, Cancel, Status)
}


@dataclasses.dataclass
class GallerySender:
    """Sends the gallery (sheet + buttons) for one bot, reusing the uploaded photo."""

    tg: TelegramIO
    #: Where the drawn sheets are kept between starts (None: only in memory).
    folder: Path | None = None
    #: language → Telegram's file id of the sheet this bot uploaded (file ids are per bot).
    _file_ids: dict[str, str] = dataclasses.field(default_factory=dict, init=False, repr=False)

    def prepare(self) -> None:
        """Draw (or read back) every language's sheet now, before the bot answers anyone:
        drawn while updates are handled, it would hold up every user's updates (a second
        or two of CPU, on the first start with this data folder only)."""
        for language in LANGUAGES:
            try:
                paintings.sheet_jpeg(language, self.folder)
            except Exception:  # drawn again when a gallery is first shown
                log.exception("drawing the gallery sheet (%s) failed", language)

    def send(self, chat_id: int, nonce: str, language: str, caption: str) -> int:
        buttons = paintings.keyboard(nonce, language)
        file_id = self._file_ids.get(language)
        if file_id is not None:
            try:
                return self.tg.send_photo(chat_id, file_id, caption, buttons).message_id
            except TelegramError as error:  # e.g. the file id is no longer valid
                log.info("gallery sheet by file id refused (%s); uploading it again", error)
                self._file_ids.pop(language, None)
        sheet = paintings.sheet_jpeg(language, self.folder)
        sent = self.tg.send_photo(chat_id, sheet, caption, buttons)
        self._file_ids[language] = sent.ref.file_id
        return sent.message_id


#: The rate limit counts the jobs a user started in this many seconds.
RATE_WINDOW = 3600.0


def minutes_until_allowed(starts: list[float], limit: int, now: float) -> int:
    """Whole minutes (at least 1) until fewer than `limit` of `starts` lie in the window.

    `starts` are the creation times in the window, oldest first; once the oldest
    `len(starts) - limit + 1` of them leave it, one more job fits under the limit.
    """
    leaves = starts[len(starts) - limit] + RATE_WINDOW
    return max(1, math.ceil((leaves - now) / 60))


def encode(actions: list[Action]) -> list[dict[str, Any]]:
    """Actions as JSON-ready dicts, for the inbox."""
    return [{"kind": type(a).__name__, **dataclasses.asdict(a)} for a in actions]


def decode(data: list[dict[str, Any]]) -> list[Action]:
    actions = []
    for item in data:
        values = dict(item)
        kind = _KINDS[values.pop("kind")]
        if kind is Submit:
            values["options"] = tuple(values["options"])
        actions.append(kind(**values))
    return actions


@dataclasses.dataclass
class Actions:
    """Performs one update's actions for its user, with the parts the bot is wired from
    (`BotService` works with the same ones, through its `actions`)."""

    config: BotConfig
    store: Store
    tg: TelegramIO
    tracker: JobTracker
    menu: Menu
    files: FileCache
    _submit_lock: threading.Lock = dataclasses.field(
        default_factory=threading.Lock, init=False, repr=False
    )
    gallery: GallerySender = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.gallery = GallerySender(self.tg, self.config.data_dir / "gallery")

    def perform(self, incoming: Incoming, action: Action, language: str, _: Gettext) -> None:
        chat = incoming.chat_id
        callback = incoming.callback
        if isinstance(action, Reply):
            self.tg.send_text(chat, action.text, action.keyboard)
        elif isinstance(action, Answer) and callback is not None:
            self.tg.answer(callback.id, action.text)
        elif isinstance(action, Edit) and callback is not None and callback.message is not None:
            with contextlib.suppress(TelegramError):  # e.g. a message too old to edit
                self.tg.edit_text(chat, callback.message.message_id, action.text, action.keyboard)
        elif isinstance(action, DropKeyboard) and callback is not None and callback.message:
            self.tg.set_keyboard(chat, callback.message.message_id, None)
        elif isinstance(action, ShowGallery):
            try:
                self.gallery.send(chat, action.nonce, language, action.caption)
            except TelegramError as error:  # the text before it still asked for a style
                log.warning("could not send the gallery: %s", error)
        elif isinstance(action, Submit):
            self.submit(incoming, action, language, _)
        elif isinstance(action, Cancel):
            self.cancel(incoming, action, _)
        elif isinstance(action, Status):
            self.status(incoming, _)

    # -- jobs ----------------------------------------------------------------------------
    def submit(self, incoming: Incoming, action: Submit, language: str, _: Gettext) -> None:
        """Make the job (from the user's pair, or from a result's kept inputs) and queue it,
        within the one-job-per-user, queue-size and rate limits."""
        user, chat = incoming.user_id, incoming.chat_id
        if self.store.job(action.job_id) is not None:
            # A replay after a crash: the job exists, and resume() has taken care of it.
            return
        state = self.store.user(user)
        with self._submit_lock:
            refusal = self._refusal(user, _)
            if refusal is not None:
                self.tg.send_text(chat, refusal)
                return
            spec = self._new_spec(incoming, action, state, language, _)
            if spec is None:  # the inputs are gone since the press
                return
            refusal = self._over_rate(user, spec.weight, _)
            if refusal is not None:
                self.tg.send_text(chat, refusal)
                return
            spec = dataclasses.replace(spec, keyboard=self._follow_ups(spec, _))
            # A fresh pair is used up; a follow-up leaves whatever the user is doing now.
            kept = state if action.base else UserState(settings=state.settings)
            kept = dataclasses.replace(kept, last=spec.content, last_job=spec.job_id)
            if spec.source is None:
                refusal = self._unfit_content(spec.content, spec.choice, state.settings, _)
                if refusal is not None:
                    self.tg.send_text(chat, refusal)
                    return
            with self.store.transaction():
                self.store.add_job(spec)
                self.store.save_user(user, chat, kept)
            position = self.store.queue_position(spec.job_id) or 1
        name = choices.label_of(spec.choice)
        message = incoming.callback.message if incoming.callback is not None else None
        if message is not None and not action.base:
            with contextlib.suppress(TelegramError):  # only removes the used keyboard
                self.tg.edit_text(chat, message.message_id, texts.network_chosen(_, name))
        text = texts.queued(_, position, name)
        photo = self._status_photo(spec) if spec.preview else None
        spec = dataclasses.replace(spec, preview=photo is not None)
        try:
            message_id: int | None = self.tg.send_status(chat, text, photo)
        except TelegramError as error:
            log.warning("could not send the status message: %s", error)
            message_id = None
        spec = dataclasses.replace(spec, status_message_id=message_id)
        self.store.update_job(spec.job_id, spec=spec, shown=text if message_id else None)
        self.tracker.enqueue(spec)

    def _refusal(self, user: int, _: Gettext) -> str | None:
        """Why this user may not start a job now (None: they may)."""
        active = self.tracker.active_job(user)
        if active is not None:
            busy = texts.BUSY_RUNNING if active.status == "running" else texts.BUSY_QUEUED
            return _(busy)
        unfinished = self.store.count_unfinished()
        if unfinished >= self.config.max_queue:
            return texts.queue_full(_, unfinished)
        limit = self.config.rate_limit
        if limit:
            now = time.time()
            starts = self.store.recent_starts(user, now - RATE_WINDOW)
            if len(starts) >= limit:
                return texts.rate_limited(_, limit, minutes_until_allowed(starts, limit, now))
        return None

    def _over_rate(self, user: int, weight: int, _: Gettext) -> str | None:
        """Why a job of `weight` (a long clip counts as several) would pass the hourly
        limit; a clip heavier than the whole limit may still run when it is all the user
        has started this hour."""
        limit = self.config.rate_limit
        if weight <= 1 or not limit:
            return None  # (a single job: `_refusal` has checked it)
        recent = len(self.store.recent_starts(user, time.time() - RATE_WINDOW))
        if recent and recent + weight > limit:
            return texts.clip_rate_limited(_, weight, limit)
        return None

    def _new_spec(
        self, incoming: Incoming, action: Submit, state: UserState, language: str, _: Gettext
    ) -> JobSpec | None:
        """The job for this press, by the content's media kind (a clip: frames capped to
        the clip size, no image-only options, weighed by its length)."""
        spec = self._spec(incoming, action, state, language, _)
        if spec is None or not spec.content.is_clip:
            return spec
        clips = self.config.clips
        return dataclasses.replace(
            spec,
            size=min(spec.size, clips.max_side),
            options=(),
            weight=clips.weight(spec.content.frames),
        )

    def _spec(
        self, incoming: Incoming, action: Submit, state: UserState, language: str, _: Gettext
    ) -> JobSpec | None:
        settings = state.settings
        common = {
            "job_id": action.job_id,
            "attempt": 1,
            "user_id": incoming.user_id,
            "chat_id": incoming.chat_id,
            "choice": action.choice,
            "options": action.options,
            "language": language,
            "full_quality": settings.full_quality,
            "preview": settings.preview and self.menu.preview,
        }
        if not action.base:
            if state.content is None or state.style is None:  # cleared since the press
                return None
            return JobSpec(
                content=state.content,
                style=state.style,
                size=self.menu.size_of(settings),
                steps=self.menu.steps_of(settings, action.choice),
                preserve_color=settings.preserve_color,
                strength=settings.strength if action.strength is None else action.strength,
                **common,
            )
        base = self.store.job(action.base)
        source = None
        if base is not None and action.choice == self.menu.upscale_result:
            source = self._pressed_result(base, incoming)
            common["preview"] = False  # the upscaler shows no forming image
        if (
            base is None
            or base.spec.user_id != incoming.user_id
            or self.tracker.expired(base)
            or (source is None and action.choice == self.menu.upscale_result)
        ):
            self.tg.send_text(incoming.chat_id, texts.result_expired(_, self.menu.keep_inputs))
            return None
        same = action.choice == base.spec.choice
        return JobSpec(
            content=base.spec.content,
            style=base.spec.style,
            size=base.spec.size,
            steps=base.spec.steps if same else self.menu.steps_of(settings, action.choice),
            preserve_color=base.spec.preserve_color,
            strength=action.strength if action.strength is not None else base.spec.strength,
            source=source,
            **common,
        )

    @staticmethod
    def _pressed_result(base: JobRecord, incoming: Incoming) -> FileRef | None:
        """The result whose button was pressed (a job may send several), else the first."""
        message = incoming.callback.message if incoming.callback is not None else None
        for delivered in base.results:
            if message is not None and delivered.message_id == message.message_id:
                return delivered.ref
        return base.results[0].ref if base.results else None

    def _follow_ups(self, spec: JobSpec, _: Gettext) -> tuple[tuple[tuple[str, str], ...], ...]:
        keyboard = result_keyboard(self.menu, spec, _)
        return tuple(tuple(row) for row in keyboard)

    def _unfit_content(
        self, content: FileRef, choice: str, settings: UserSettings, _: Gettext
    ) -> str | None:
        """Why the engine would refuse this photo for `choice` (e.g. 4000×20), or None."""
        if content.width is None or content.height is None:
            return None
        offered = [key for key, _label in self.menu.networks]
        backbones = [choice] if choice in offered else offered
        try:
            execute.check_content(
                content.width,
                content.height,
                backbones,
                self.menu.size_of(settings),
                self.menu.steps_of(settings, choice),
            )
        except InputError as error:
            return texts.refused_input(_, error.code, error.details)
        return None

    def _status_photo(self, spec: JobSpec) -> bytes | None:
        """The content photo, small, as the status message the previews will replace."""
        try:
            if spec.content.is_clip:
                return preview_jpeg(first_frame(self.files.path(spec.content)))
            with Image.open(self.files.path(spec.content)) as image:
                return preview_jpeg(ImageOps.exif_transpose(image))
        except (OSError, ValueError, InputError) as error:  # no local copy: a text status
            log.info("no preview photo for %s: %s", spec.job_id, error)
            return None

    def cancel(self, incoming: Incoming, action: Cancel, _: Gettext) -> None:
        chat = incoming.chat_id
        tracker = self.tracker
        job = tracker.active_job(incoming.user_id)
        if job is None:
            self.tg.send_text(chat, _(texts.CLEARED if action.cleared else texts.NOTHING_TO_CANCEL))
            return
        signals = tracker.signals
        if self._reported(job) == "running":
            # "Stopping…" goes out before the request: the worker answers the request with
            # "Cancelled", and the user must not read the two the wrong way round.
            try:
                self.tg.send_text(chat, _(texts.STOPPING))  # the worker stops between steps
            finally:  # (a failed send still cancels)
                signals.request_cancel(job.job_id)
                self._tell_ended(job, chat, self._reported(job), _, stopping_said=True)
            return
        signals.request_cancel(job.job_id)
        reported = self._reported(job)
        if self._tell_ended(job, chat, reported, _, stopping_said=False):
            return
        if reported == "running":
            # A worker took it as /cancel came: it stops between steps and says "Cancelled"
            # (or "too late"), maybe already; a "Stopping…" from here could come second.
            return
        if job.task_id:
            tracker.huey.revoke_by_id(job.task_id, revoke_once=True)
        self.store.update_job(job.job_id, status="cancelled", finished=time.time())
        tracker.release_files(job.spec)
        if job.spec.status_message_id is not None:
            with contextlib.suppress(TelegramError):
                self.tg.edit_status(
                    chat, job.spec.status_message_id, _(texts.CANCELLED_STATUS), job.spec.preview
                )
        # A worker that took the job meanwhile finds the cancel and may say it too: once.
        if signals.claim_cancelled_reply(job.job_id):
            self.tg.send_text(chat, _(texts.CANCELLED))

    def _reported(self, job: JobRecord) -> str | None:
        """What a worker last reported of `job`'s current attempt (None: nothing yet)."""
        state = self.tracker.signals.state(job.job_id) or {}
        return state.get("status") if state.get("attempt") == job.spec.attempt else None

    def _tell_ended(
        self, job: JobRecord, chat: int, reported: str | None, _: Gettext, stopping_said: bool
    ) -> bool:
        """Whether `job` had ended (`reported` final) when its cancel was requested; if so,
        tell the user."""
        if reported not in FINAL:
            return False
        tracker = self.tracker
        tracker.sync(job)
        if reported == "done":
            if tracker.signals.claim_late_cancel(job.job_id):  # or the worker says it
                self.tg.send_text(chat, _(texts.TOO_LATE_TO_CANCEL))
        elif reported == "cancelled":  # a worker found the request as it took the job
            if tracker.signals.claim_cancelled_reply(job.job_id):  # or it says so itself
                self.tg.send_text(chat, _(texts.CANCELLED))
        elif not stopping_said:
            # It failed: its apology is the answer. (After "Stopping…" nothing more: the
            # apology came before it or comes next.)
            self.tg.send_text(chat, _(texts.NOTHING_TO_CANCEL))
        return True

    def status(self, incoming: Incoming, _: Gettext) -> None:
        job = self.tracker.active_job(incoming.user_id)
        state = self.store.user(incoming.user_id)
        pending = None
        if state.content is not None and state.style is None:
            pending = texts.PENDING_STYLE
        elif state.style is not None:
            # a painting picked in /styles waits for its photo
            pending = texts.PENDING_CHOICE if state.content is not None else texts.PENDING_PHOTO
        position = self.store.queue_position(job.job_id) if job else None
        running = job is not None and job.status == "running"
        self.tg.send_text(incoming.chat_id, texts.status(_, position, running, pending))
