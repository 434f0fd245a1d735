"""The job queue: huey (SqliteHuey in the data dir, or RedisHuey with --broker).

Besides the queue itself, huey's key-value storage (SQLite table or Redis hash, same
API) carries the few facts the bot and workers on other machines must share:

* ``attempt:<job>``  — the current attempt number (the bot bumps it when it re-queues);
* ``claim:<job>:<n>`` — set-if-empty by the one worker that runs attempt n;
* ``cancel:<job>``   — /cancel was pressed;
* ``state:<job>``    — the worker's report: running (with heartbeat), done, failed,
  cancelled or interrupted, plus which worker and when;
* ``late:<job>``     — set-if-empty by whichever of the bot and the worker tells the
  user that a /cancel came as the job finished (so exactly one of them does).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer

from nstcli.bot.config import QueueConfig
from nstcli.bot.identity import ProcessIdentity, alive_here, this_process

TASK_NAME = "nst_run_job"

#: This process's identity in worker reports: host, pid namespace, pid and a per-start token.
WORKER_ID = f"{this_process().text()}:{uuid.uuid4().hex[:6]}"


class _ReportsReads:
    """Calls `on_read()` after each queue read that reached the queue: the consumer's
    heartbeat (a read that raised, e.g. Redis unreachable, takes no job and reports nothing).
    """

    on_read: Callable[[], None] | None = None

    def dequeue(self):  # type: ignore[no-untyped-def]
        task = super().dequeue()  # type: ignore[misc]
        if self.on_read is not None:
            self.on_read()
        return task


class _RedisHuey(_ReportsReads, RedisHuey):
    pass


class _SqliteHuey(_ReportsReads, SqliteHuey):
    pass


def make_huey(config: QueueConfig) -> Huey:
    if config.broker:
        return _RedisHuey(config.name, url=config.broker, results=False)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return _SqliteHuey(config.name, filename=str(config.data_dir / "queue.sqlite3"), results=False)


def register_job_task(huey: Huey, handler: Callable[[dict[str, Any]], None] | None) -> TaskWrapper:
    """The one task type; `handler` is None in a bot that runs no workers itself."""

    def nst_run_job(payload: dict[str, Any]) -> None:
        if handler is None:
            raise RuntimeError("this process does not run jobs")
        handler(payload)

    return huey.task(name=TASK_NAME)(nst_run_job)


class _Consumer(Consumer):
    """huey's consumer without its signal handlers: our process owns SIGINT/SIGTERM."""

    def _set_signal_handlers(self) -> None:
        return None


def start_consumer(
    huey: Huey, workers: int, poll_delay: float, on_read: Callable[[], None] | None = None
) -> Consumer:
    """Start `workers` threads taking jobs; `on_read` hears each queue read (the heartbeat)."""
    if isinstance(huey, _ReportsReads):
        huey.on_read = on_read
    consumer = _Consumer(
        huey,
        workers=workers,
        periodic=False,
        initial_delay=min(0.05, poll_delay),
        backoff=1.5,
        max_delay=poll_delay,
        check_worker_health=False,
        worker_type="thread",
    )
    consumer.start()
    return consumer


class JobSignals:
    """Typed access to the shared key-value facts listed in the module docstring."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey

    def set_attempt(self, job_id: str, attempt: int) -> None:
        self.huey.put(f"attempt:{job_id}", attempt)

    def attempt(self, job_id: str) -> int | None:
        return self.huey.get(f"attempt:{job_id}", peek=True)

    def claim(self, job_id: str, attempt: int) -> bool:
        return bool(self.huey.put_if_empty(f"claim:{job_id}:{attempt}", WORKER_ID))

    def request_cancel(self, job_id: str) -> None:
        self.huey.put(f"cancel:{job_id}", True)

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.huey.get(f"cancel:{job_id}", peek=True))

    def claim_late_cancel(self, job_id: str) -> bool:
        """True once: to whoever says "too late to cancel" for this job."""
        return bool(self.huey.put_if_empty(f"late:{job_id}", WORKER_ID))

    def claim_cancelled_reply(self, job_id: str) -> bool:
        """True once: to whoever tells the user their job was cancelled (the bot, for a
        job still waiting, or the worker that stopped it or found it cancelled)."""
        return bool(self.huey.put_if_empty(f"told:{job_id}", WORKER_ID))

    def report(self, job_id: str, attempt: int, status: str, **extra: Any) -> None:
        state = {"status": status, "attempt": attempt, "worker": WORKER_ID, "at": time.time()}
        state.update(extra)
        self.huey.put(f"state:{job_id}", state)

    def state(self, job_id: str) -> dict[str, Any] | None:
        return self.huey.get(f"state:{job_id}", peek=True)

    def forget(self, job_id: str, attempts: int) -> None:
        for key in ("attempt", "cancel", "state", "late", "told"):
            self.huey.delete(f"{key}:{job_id}")
        for attempt in range(1, attempts + 1):
            self.huey.delete(f"claim:{job_id}:{attempt}")


def worker_alive(worker: str, last_seen: float, stale_after: float) -> bool:
    """Whether the worker that reported `last_seen` may still be running the job.

    In our own host and pid namespace a dead pid (or our own pid with another start
    token: we restarted) is decisive at once; a worker of another host or pid namespace
    (another container's pid 1 is not ours) is judged by its heartbeat's age alone.
    """
    identity = ProcessIdentity.parse(worker)
    if identity is not None and identity.is_us():
        return worker == WORKER_ID
    if alive_here(identity) is False:
        return False
    return time.time() - last_seen < stale_after
