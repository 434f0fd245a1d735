"""Job tracking: follow jobs through the queue's key-value reports into the bot's store.

It records results, re-queues jobs whose worker died or was stopped, resumes every
unfinished job at start-up, keeps each waiting job's queue position up to date in its
status message, and forgets what is no longer needed. A watchdog thread runs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time

from huey.api import Huey, TaskWrapper

from nstcli.bot import choices, texts
from nstcli.bot.files import FileCache
from nstcli.bot.i18n import translator
from nstcli.bot.masking import describe
from nstcli.bot.models import FINAL, Delivered, JobRecord, JobSpec
from nstcli.bot.store import Store
from nstcli.bot.taskqueue import JobSignals, worker_alive
from nstcli.bot.telegram_io import TelegramError, TelegramIO

log = logging.getLogger("nstcli.bot.tracking")

#: Done updates are kept this long: Telegram re-sends unconfirmed ones for up to 24 h.
INBOX_KEEP_SECONDS = 2 * 86400
#: Files younger than this are never pruned, however short the keep time: a download
#: being checked right now has no job referring to it yet.
PRUNE_MARGIN_SECONDS = 10.0


class JobTracker:
    def __init__(
        self,
        store: Store,
        tg: TelegramIO,
        huey: Huey,
        task: TaskWrapper,
        files: FileCache,
        heartbeat: float,
        watch_interval: float = 0.3,
        keep_inputs: float = 0.0,
    ) -> None:
        self.store, self.tg, self.huey, self.task, self.files = store, tg, huey, task, files
        self.signals = JobSignals(huey)
        self.heartbeat = heartbeat
        self.watch_interval = watch_interval
        #: Seconds a finished job's inputs and results are kept for follow-ups.
        self.keep_inputs = keep_inputs
        #: Seconds between clean-ups: often enough that files go soon after they expire.
        self.cleanup_interval = min(600.0, max(0.5, keep_inputs / 4)) if keep_inputs else 600.0
        self._sync_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_cleanup = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="nst-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    # -- the queue -----------------------------------------------------------------------
    def enqueue(self, spec: JobSpec) -> None:
        self.signals.set_attempt(spec.job_id, spec.attempt)
        task = self.task.s(spec.to_dict())
        self.huey.enqueue(task)
        self.store.update_job(spec.job_id, task_id=task.id)

    def requeue(self, job: JobRecord) -> JobSpec:
        """Queue `job` again as a new attempt, and every job waiting behind it after it.

        Positions count jobs in the order they were made, and the queue runs them in the
        order they were enqueued: a job put back at the tail alone would run after jobs
        shown behind it. Those jobs get a new attempt too (their old task is skipped as
        superseded), so the queue's order stays the order the users were shown.
        """
        spec = self._requeue_one(job)
        self._requeue_behind(job)
        return spec

    def _requeue_behind(self, job: JobRecord) -> set[str]:
        """Re-queue the jobs waiting behind `job` (see `requeue`); returns their ids."""
        moved = set()
        for later in self.store.unfinished_jobs():
            if later.created > job.created and later.job_id != job.job_id and self._waiting(later):
                self._requeue_one(later)
                moved.add(later.job_id)
        return moved

    def _waiting(self, job: JobRecord) -> bool:
        """Queued, and no worker has reported on its current attempt yet."""
        state = self.signals.state(job.job_id) or {}
        return job.status == "queued" and state.get("attempt") != job.spec.attempt

    def _requeue_one(self, job: JobRecord) -> JobSpec:
        spec = dataclasses.replace(job.spec, attempt=job.spec.attempt + 1)
        log.info("re-queuing job %s as attempt %s", spec.job_id, spec.attempt)
        # the worker's edits are unknown here: the next position update must go through
        self.store.update_job(spec.job_id, spec=spec, status="queued", worker=None, shown=None)
        self.enqueue(spec)
        return spec

    def active_job(self, user_id: int) -> JobRecord | None:
        job = self.store.active_job(user_id)
        if job is not None:
            job = self.sync(job)
        return job if job is not None and job.unfinished else None

    def sync(self, job: JobRecord, allow_requeue: bool = True) -> JobRecord:
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
            with self.store.transaction():
                self.store.update_job(
                    job.job_id,
                    status=status,
                    finished=state.get("at", time.time()),
                    worker=state.get("worker"),
                    error=state.get("error"),
                )
                if state.get("results"):
                    results = [Delivered.from_dict(item) for item in state["results"]]
                    self.store.record_results(job.job_id, results)
            self.release_files(job.spec)
            return dataclasses.replace(job, status=status, worker=state.get("worker"))
        stale = not worker_alive(state["worker"], state["at"], self.stale_after())
        if allow_requeue and (status == "interrupted" or (status == "running" and stale)):
            spec = self.requeue(job)
            return dataclasses.replace(job, spec=spec, status="queued")
        if status == "running" and job.status != "running":
            started = state.get("started", time.time())
            self.store.update_job(
                job.job_id, status="running", started=started, worker=state["worker"]
            )
            return dataclasses.replace(job, status="running", worker=state["worker"])
        return job

    def stale_after(self) -> float:
        return max(10.0, 5 * self.heartbeat)

    def release_files(self, spec: JobSpec) -> None:
        self.files.delete(*spec.inputs(), keep=self.referenced_files())

    def referenced_files(self) -> set[str]:
        return self.store.referenced_files(kept_since=time.time() - self.keep_inputs)

    def expired(self, job: JobRecord, now: float | None = None) -> bool:
        """Whether a job's inputs and results are past keeping (its buttons say so)."""
        if job.unfinished or job.finished is None:
            return False
        return (now if now is not None else time.time()) - job.finished >= self.keep_inputs

    # -- restart -------------------------------------------------------------------------
    def resume(self) -> int:
        """Called once at start-up, before workers start: every unfinished job goes on."""
        pending = {}
        for task in self.huey.pending():
            with contextlib.suppress(Exception):
                payload = task.args[0]
                pending[payload["job_id"]] = payload["attempt"]
        resumed = 0
        moved: set[str] = set()  # jobs re-queued to stay behind an earlier re-queued one
        for job in self.store.unfinished_jobs():
            synced = self.sync(job, allow_requeue=False)
            if not synced.unfinished:
                continue
            resumed += 1
            state = self.signals.state(job.job_id) or {}
            current = state.get("attempt") == synced.spec.attempt
            if (
                current
                and state.get("status") == "running"
                and worker_alive(state["worker"], state["at"], self.stale_after())
            ):
                message = texts.RESUMED_RUNNING
            elif job.job_id in moved or (
                not state and pending.get(job.job_id) == synced.spec.attempt
            ):
                message = texts.RESUMED_QUEUED
            else:
                self._requeue_one(synced)
                moved |= self._requeue_behind(synced)
                message = texts.RESUMED_REQUEUED
            position = self.store.queue_position(job.job_id)
            _ = translator(job.spec.language)
            try:
                self.tg.send_text(job.spec.chat_id, _(message).format(position=position or 1))
            except TelegramError as error:
                log.warning("could not tell chat about its resumed job: %s", error)
        if resumed:
            log.warning("resumed %d unfinished job(s) after a restart", resumed)
        self.refresh_positions()
        return resumed

    # -- the watchdog --------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self.watch_interval):
            try:
                self.watch_once()
            except Exception as error:
                log.warning("watchdog: %s", describe(error))

    def watch_once(self) -> None:
        for job in self.store.unfinished_jobs():
            self.sync(job)
        self.refresh_positions()
        now = time.time()
        if now - self._last_cleanup > self.cleanup_interval:
            self._last_cleanup = now
            self._cleanup(now)

    def refresh_positions(self) -> None:
        """Edit waiting jobs' status messages when their place in the queue changed."""
        position = 0
        for job in self.store.unfinished_jobs():
            if job.status != "queued":
                continue
            position += 1
            spec = job.spec
            text = texts.queued(translator(spec.language), position, choices.label_of(spec.choice))
            if spec.status_message_id is None or job.shown == text:
                continue
            with contextlib.suppress(TelegramError):
                self.tg.edit_status(spec.chat_id, spec.status_message_id, text, spec.preview)
            self.store.update_job(job.job_id, shown=text)

    def _cleanup(self, now: float) -> None:
        """Forget shared facts of jobs finished over an hour ago and old updates; delete
        files nothing needs any more: expired inputs and results, abandoned downloads
        (after a margin, so a download that is being checked right now stays)."""
        for job in self.store.all_jobs():
            if job.finished and now - 7200 < job.finished < now - 3600:
                self.signals.forget(job.job_id, job.spec.attempt)
        self.store.forget_done(older_than=INBOX_KEEP_SECONDS)
        kept = self.store.referenced_files(kept_since=now - self.keep_inputs)
        self.files.prune(
            older_than=min(3600.0, max(PRUNE_MARGIN_SECONDS, self.keep_inputs)), keep=kept
        )
