"""The bot side: turn Telegram updates into conversation events, keep the store, queue jobs.

* Updates are handled on a few "lanes" (threads); one user's updates always go to the
  same lane, so they are handled in order while different users proceed in parallel.
  No CPU work happens here: images are only downloaded and checked.
* Everything the user is told about is in the store first (state, job record).
* A watchdog thread follows jobs through the queue's key-value reports: it records
  results, re-queues jobs whose worker died or was stopped, and keeps the queue
  position shown in each waiting job's status message up to date.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import mimetypes
import queue
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import telebot
from huey.api import Huey, TaskWrapper
from PIL import Image
from telebot import types, util

from nstcli.bot import choices, texts
from nstcli.bot.config import BotConfig
from nstcli.bot.conversation import (
    Answer,
    Cancel,
    Command,
    Edit,
    Event,
    ImageReceived,
    Menu,
    Pressed,
    Rejected,
    Reply,
    Status,
    Submit,
    Text,
    handle,
)
from nstcli.bot.files import FileCache
from nstcli.bot.masking import describe
from nstcli.bot.models import FINAL, MAX_DOWNLOAD_BYTES, FileRef, JobRecord, JobSpec, UserState
from nstcli.bot.store import Store
from nstcli.bot.taskqueue import JobSignals, worker_alive
from nstcli.bot.telegram_io import FileTooBig, TelegramError, TelegramIO
from nstcli.engine.backbones import BACKBONES
from nstcli.engine.errors import InputError
from nstcli.engine.images import load_image

log = logging.getLogger("nstcli.bot.service")

SIZES = (256, 384, 512, 768, 1024)
STEPS = (50, 100, 200, 300)


def build_menu(config: BotConfig) -> Menu:
    sizes = sorted({s for s in SIZES if s < config.size} | {config.size})[-4:]
    steps = sorted({s for s in STEPS if s <= max(300, config.steps)} | {config.steps})
    return Menu(
        choices=tuple((c.key, c.label, c.row) for c in choices.job_choices()),
        options=tuple((c.key, c.label) for c in choices.options()),
        backbones=tuple((name, spec.title) for name, spec in BACKBONES.items()),
        sizes=tuple(sizes),
        steps=tuple(steps),
        default_size=config.size,
        default_steps=config.steps,
        preserve_color=True,
    )


class PollingBot(telebot.TeleBot):
    """telebot's polling loop, handing each update to our lanes instead of its handlers."""

    def __init__(self, token: str, sink: Callable[[types.Update], None] | None = None) -> None:
        super().__init__(token, threaded=False, skip_pending=False)
        self.sink = sink

    def process_new_updates(self, updates: list[types.Update]) -> None:
        if not updates:
            return
        # Confirm the batch at the next getUpdates: our store de-duplicates anyway.
        self.last_update_id = max(self.last_update_id, *(u.update_id for u in updates))
        for update in updates:
            if self.sink is not None:
                self.sink(update)


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

    key: str
    user_id: int
    chat_id: int
    message: types.Message | None = None
    callback: types.CallbackQuery | None = None


class BotService:
    def __init__(
        self,
        config: BotConfig,
        store: Store,
        tg: TelegramIO,
        huey: Huey,
        task: TaskWrapper,
        files: FileCache,
        watch_interval: float = 0.3,
    ) -> None:
        self.config = config
        self.store = store
        self.tg = tg
        self.huey = huey
        self.signals = JobSignals(huey)
        self.task = task
        self.files = files
        self.menu = build_menu(config)
        self.watch_interval = watch_interval
        self._submit_lock = threading.Lock()
        self._sync_lock = threading.RLock()
        self._stop = threading.Event()
        self._lanes: Lanes | None = None
        self._watchdog: threading.Thread | None = None
        self._last_cleanup = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._lanes = Lanes(self.config.update_threads, self.handle_update)
        self._watchdog = threading.Thread(target=self._watch, name="nst-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        if self._lanes is not None:
            self._lanes.close()
        if self._watchdog is not None:
            self._watchdog.join(10)

    def dispatch(self, update: types.Update) -> None:
        """Called from the polling thread: route by user, return at once."""
        incoming = _incoming(update)
        if incoming is None:
            return
        if self._lanes is None:
            self.handle_update(incoming)
        else:
            self._lanes.put(incoming.user_id, incoming)

    # -- one update ----------------------------------------------------------------------
    def handle_update(self, incoming: Incoming) -> None:
        allowed = self.config.allow_users
        if allowed and incoming.user_id not in allowed:
            if incoming.callback is not None:
                self.tg.answer(incoming.callback.id)
            if self.store.refuse_once(incoming.user_id):
                self.tg.send_text(incoming.chat_id, texts.REFUSED)
            return
        if not self.store.first_sight(incoming.key):
            log.info("update %s was handled before a restart; skipping", incoming.key)
            return
        state = self.store.user(incoming.user_id)
        event = self._event(incoming, state)
        outcome = handle(state, event, self.menu, lambda: uuid.uuid4().hex[:8])
        if outcome.state != state:
            self.store.save_user(incoming.user_id, incoming.chat_id, outcome.state)
        for action in outcome.actions:
            self._act(incoming, outcome.state, action)

    def _act(self, incoming: Incoming, state: UserState, action: Any) -> None:
        chat = incoming.chat_id
        if isinstance(action, Reply):
            self.tg.send_text(chat, action.text, action.keyboard)
        elif isinstance(action, Answer) and incoming.callback is not None:
            self.tg.answer(incoming.callback.id, action.text)
        elif isinstance(action, Edit) and incoming.callback is not None:
            message = incoming.callback.message
            if message is not None:
                with contextlib.suppress(TelegramError):  # e.g. a message too old to edit
                    self.tg.edit_text(chat, message.message_id, action.text, action.keyboard)
        elif isinstance(action, Submit):
            self._submit(incoming, state, action)
        elif isinstance(action, Cancel):
            self._cancel(incoming, action)
        elif isinstance(action, Status):
            self._status(incoming, state)

    # -- classifying input ---------------------------------------------------------------
    def _event(self, incoming: Incoming, state: UserState) -> Event:
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
            return Rejected(texts.STICKER)
        if kind in ("animation", "video", "video_note"):
            return Rejected(texts.ANIMATED)
        if kind == "photo":
            best = message.photo[-1]
            ref = FileRef(
                best.file_id, best.file_unique_id, best.width, best.height, best.file_size
            )
        elif kind == "document":
            document = message.document
            mime = document.mime_type or mimetypes.guess_type(document.file_name or "")[0]
            if not mime or not mime.startswith("image/"):
                return Rejected(texts.not_an_image(mime, document.file_name))
            ref = FileRef(
                document.file_id, document.file_unique_id, size=document.file_size, kind="document"
            )
        else:
            return Rejected(texts.NOT_MEDIA)
        return self._check_image(ref, self.menu.size_of(state.settings))

    def _check_image(self, ref: FileRef, size: int) -> Event:
        """Download and decode the image now, so problems are answered at once."""
        if ref.size and ref.size > MAX_DOWNLOAD_BYTES:
            return Rejected(texts.too_big(ref.size))
        try:
            path = self.files.fetch(ref)
        except FileTooBig:
            return Rejected(texts.too_big(ref.size or MAX_DOWNLOAD_BYTES + 1))
        except TelegramError as error:
            log.warning("download of %s failed: %s", ref.unique_id, error)
            return Rejected(texts.DOWNLOAD_FAILED)
        problem, (width, height) = _inspect(path)
        if problem is not None:
            self.files.delete(ref)
            return Rejected(problem)
        ref = dataclasses.replace(ref, width=width, height=height)
        note = texts.downscaled(width, height, size) if max(width, height) > size else None
        return ImageReceived(ref, note)

    # -- jobs ----------------------------------------------------------------------------
    def _submit(self, incoming: Incoming, state: UserState, action: Submit) -> None:
        user, chat = incoming.user_id, incoming.chat_id
        settings = state.settings
        with self._submit_lock:
            active = self.active_job(user)
            if active is not None:
                what = "running" if active.status == "running" else "in the queue"
                self.tg.send_text(chat, texts.BUSY.format(state=what))
                return
            unfinished = self.store.count_unfinished()
            if unfinished >= self.config.max_queue:
                self.tg.send_text(chat, texts.QUEUE_FULL.format(n=unfinished))
                return
            limit = self.config.rate_limit
            if limit and self.store.count_recent(user, time.time() - 3600) >= limit:
                self.tg.send_text(chat, texts.RATE_LIMITED.format(n=limit))
                return
            assert state.content is not None and state.style is not None
            spec = JobSpec(
                job_id=uuid.uuid4().hex,
                attempt=1,
                user_id=user,
                chat_id=chat,
                choice=action.choice,
                content=state.content,
                style=state.style,
                size=self.menu.size_of(settings),
                steps=self.menu.steps_of(settings),
                preserve_color=settings.preserve_color,
                full_quality=settings.full_quality,
                options=action.options,
            )
            with self.store.transaction():
                self.store.add_job(spec)
                self.store.save_user(user, chat, UserState(settings=settings))
            position = self.store.queue_position(spec.job_id) or 1
        label = _label(spec.choice)
        if incoming.callback is not None and incoming.callback.message is not None:
            with contextlib.suppress(TelegramError):  # only removes the used keyboard
                self.tg.edit_text(chat, incoming.callback.message.message_id, f"Network: {label}")
        text = texts.queued(position, label)
        try:
            message_id: int | None = self.tg.send_text(chat, text)
        except TelegramError as error:
            log.warning("could not send the status message: %s", error)
            message_id = None
        spec = dataclasses.replace(spec, status_message_id=message_id)
        self.store.update_job(spec.job_id, spec=spec, shown=text if message_id else None)
        self._enqueue(spec)

    def _enqueue(self, spec: JobSpec) -> None:
        self.signals.set_attempt(spec.job_id, spec.attempt)
        task = self.task.s(spec.to_dict())
        self.huey.enqueue(task)
        self.store.update_job(spec.job_id, task_id=task.id)

    def _requeue(self, job: JobRecord) -> JobSpec:
        spec = dataclasses.replace(job.spec, attempt=job.spec.attempt + 1)
        log.info("re-queuing job %s as attempt %s", spec.job_id, spec.attempt)
        # the worker's edits are unknown here: the next position update must go through
        self.store.update_job(spec.job_id, spec=spec, status="queued", worker=None, shown=None)
        self._enqueue(spec)
        return spec

    def active_job(self, user_id: int) -> JobRecord | None:
        job = self.store.active_job(user_id)
        if job is not None:
            job = self._sync(job)
        return job if job is not None and job.unfinished else None

    def _sync(self, job: JobRecord, allow_requeue: bool = True) -> JobRecord:
        """Bring the store's record up to date with what the workers reported."""
        with self._sync_lock:  # the watchdog and the lanes must not both re-queue a job
            job = self.store.job(job.job_id) or job
            return self._sync_locked(job, allow_requeue)

    def _sync_locked(self, job: JobRecord, allow_requeue: bool) -> JobRecord:
        if not job.unfinished:
            return job
        state = self.signals.state(job.job_id)
        if not state or state.get("attempt") != job.spec.attempt:
            return job
        status = state["status"]
        if status in FINAL:
            self.store.update_job(
                job.job_id,
                status=status,
                finished=state.get("at", time.time()),
                worker=state.get("worker"),
                error=state.get("error"),
            )
            self._release_files(job.spec)
            return dataclasses.replace(job, status=status, worker=state.get("worker"))
        stale = not worker_alive(state["worker"], state["at"], self._stale_after())
        if allow_requeue and (status == "interrupted" or (status == "running" and stale)):
            spec = self._requeue(job)
            return dataclasses.replace(job, spec=spec, status="queued")
        if status == "running" and job.status != "running":
            started = state.get("started", time.time())
            self.store.update_job(
                job.job_id, status="running", started=started, worker=state["worker"]
            )
            return dataclasses.replace(job, status="running", worker=state["worker"])
        return job

    def _stale_after(self) -> float:
        return max(10.0, 5 * self.config.worker.heartbeat)

    def _release_files(self, spec: JobSpec) -> None:
        self.files.delete(spec.content, spec.style, keep=self.store.referenced_files())

    def _cancel(self, incoming: Incoming, action: Cancel) -> None:
        chat = incoming.chat_id
        job = self.active_job(incoming.user_id)
        if job is None:
            self.tg.send_text(chat, texts.CLEARED if action.cleared else texts.NOTHING_TO_CANCEL)
            return
        self.signals.request_cancel(job.job_id)
        state = self.signals.state(job.job_id) or {}
        if state.get("status") == "running" and state.get("attempt") == job.spec.attempt:
            self.tg.send_text(chat, texts.STOPPING)  # the worker stops between steps
            return
        if job.task_id:
            self.huey.revoke_by_id(job.task_id, revoke_once=True)
        self.store.update_job(job.job_id, status="cancelled", finished=time.time())
        self._release_files(job.spec)
        if job.spec.status_message_id is not None:
            self.tg.edit_text(chat, job.spec.status_message_id, texts.CANCELLED_STATUS)
        self.tg.send_text(chat, texts.CANCELLED)

    def _status(self, incoming: Incoming, state: UserState) -> None:
        job = self.active_job(incoming.user_id)
        pending = None
        if state.content is not None and state.style is None:
            pending = "I have your photo and am waiting for the style image."
        elif state.style is not None:
            pending = "I have both images; pick a network on the buttons."
        position = self.store.queue_position(job.job_id) if job else None
        running = job is not None and job.status == "running"
        self.tg.send_text(incoming.chat_id, texts.status(position, running, pending))

    # -- restart and watchdog ------------------------------------------------------------
    def resume(self) -> int:
        """Called once at start-up, before workers start: every unfinished job goes on."""
        pending = {}
        for task in self.huey.pending():
            with contextlib.suppress(Exception):
                payload = task.args[0]
                pending[payload["job_id"]] = payload["attempt"]
        resumed = 0
        for job in self.store.unfinished_jobs():
            synced = self._sync(job, allow_requeue=False)
            if not synced.unfinished:
                continue
            resumed += 1
            state = self.signals.state(job.job_id) or {}
            current = state.get("attempt") == job.spec.attempt
            chat = job.spec.chat_id
            if (
                current
                and state.get("status") == "running"
                and worker_alive(state["worker"], state["at"], self._stale_after())
            ):
                message = texts.RESUMED_RUNNING
            elif not state and pending.get(job.job_id) == job.spec.attempt:
                message = texts.RESUMED_QUEUED
            else:
                self._requeue(synced)
                message = texts.RESUMED_REQUEUED
            position = self.store.queue_position(job.job_id)
            try:
                self.tg.send_text(chat, message.format(position=position or 1))
            except TelegramError as error:
                log.warning("could not tell chat about its resumed job: %s", error)
        if resumed:
            log.warning("resumed %d unfinished job(s) after a restart", resumed)
        self._refresh_positions()
        return resumed

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_interval):
            try:
                self.watch_once()
            except Exception as error:
                log.warning("watchdog: %s", describe(error))

    def watch_once(self) -> None:
        for job in self.store.unfinished_jobs():
            self._sync(job)
        self._refresh_positions()
        now = time.time()
        if now - self._last_cleanup > 600:
            self._last_cleanup = now
            self._cleanup(now)

    def _refresh_positions(self) -> None:
        """Edit waiting jobs' status messages when their place in the queue changed."""
        position = 0
        for job in self.store.unfinished_jobs():
            if job.status != "queued":
                continue
            position += 1
            message_id = job.spec.status_message_id
            text = texts.queued(position, _label(job.spec.choice))
            if message_id is None or job.shown == text:
                continue
            with contextlib.suppress(TelegramError):
                self.tg.edit_text(job.spec.chat_id, message_id, text)
            self.store.update_job(job.job_id, shown=text)

    def _cleanup(self, now: float) -> None:
        """Forget shared facts of jobs finished over an hour ago, and stale downloads."""
        for job in self.store.all_jobs():
            if job.finished and now - 7200 < job.finished < now - 3600:
                self.signals.forget(job.job_id, job.spec.attempt)
        self.store.forget_seen(older_than=2 * 86400)
        self.files.prune(older_than=86400, keep=self.store.referenced_files())


def _incoming(update: types.Update) -> Incoming | None:
    if update.message is not None:
        message = update.message
        user = message.from_user.id if message.from_user else message.chat.id
        key = f"m:{message.chat.id}:{message.message_id}"
        return Incoming(key, user, message.chat.id, message=message)
    if update.callback_query is not None:
        callback = update.callback_query
        chat = callback.message.chat.id if callback.message is not None else callback.from_user.id
        return Incoming(f"c:{callback.id}", callback.from_user.id, chat, callback=callback)
    return None


def _inspect(path: Path) -> tuple[str | None, tuple[int, int]]:
    """(why this file cannot be used or None, its upright size) for a downloaded image."""
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
        return (texts.TOO_MANY_PIXELS if "too large" in str(error) else texts.CORRUPT), (0, 0)


def _label(choice: str) -> str:
    found = choices.CHOICES.get(choice)
    return found.label if found else choice
