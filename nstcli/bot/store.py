"""The bot's own SQLite store: the update inbox, users' pending inputs and settings, jobs.

Every update is in the inbox before Telegram is told it arrived (the next getUpdates
offset), and a user's new state is written together with the replies it owes, so a
`kill -9` loses nothing: a restart replays what is not done. WAL mode with
synchronous=NORMAL survives process crashes (not power cuts). One connection behind a
lock: the bot's writes are tiny and few.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nstcli.bot.models import UNFINISHED, Delivered, JobRecord, JobSpec, UserState

_SCHEMA = """
create table if not exists users (
    user_id integer primary key, chat_id integer, state text not null);
create table if not exists jobs (
    id text primary key, user_id integer not null, chat_id integer not null,
    spec text not null, status text not null, created real not null,
    task_id text, started real, finished real, worker text, error text, shown text,
    results text);
create index if not exists jobs_user on jobs (user_id, status);
create index if not exists jobs_status on jobs (status, created);
create table if not exists inbox (
    update_id integer primary key, user_id integer not null, payload text not null,
    received real not null, actions text, done real);
create index if not exists inbox_pending on inbox (done, update_id);
create table if not exists refused (user_id integer primary key, at real not null);
"""


@dataclass(frozen=True)
class InboxEntry:
    """One stored update; `actions` is set once its handling was decided."""

    update_id: int
    user_id: int
    payload: dict[str, Any]
    actions: list[dict[str, Any]] | None = None


class Store:
    """Typed access to the bot's SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=normal")
        self._conn.execute("pragma busy_timeout=10000")
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("pragma table_info(jobs)")}
        if "results" not in columns:  # a store made before results were recorded
            self._conn.execute("alter table jobs add column results text")
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit; nests (inner blocks join the outer transaction)."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("begin immediate")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("rollback")
                raise
            self._conn.execute("commit")

    # -- the update inbox ------------------------------------------------------------------
    def receive(self, updates: Sequence[tuple[int, int, dict[str, Any]]]) -> list[InboxEntry]:
        """Store (update_id, user_id, raw update) in one transaction; returns the new ones.

        Telegram re-sends updates whose confirmation a crash prevented: those are already
        here (done or pending) and are not returned again.
        """
        fresh = []
        now = time.time()
        with self.transaction() as conn:
            for update_id, user_id, payload in updates:
                cursor = conn.execute(
                    "insert or ignore into inbox (update_id, user_id, payload, received) "
                    "values (?, ?, ?, ?)",
                    (update_id, user_id, json.dumps(payload), now),
                )
                if cursor.rowcount == 1:
                    fresh.append(InboxEntry(update_id, user_id, payload))
        return fresh

    def pending_updates(self) -> list[InboxEntry]:
        """Updates not yet done, oldest first (a restart replays them in this order)."""
        with self._lock:
            rows = self._conn.execute(
                "select update_id, user_id, payload, actions from inbox "
                "where done is null order by update_id"
            ).fetchall()
        return [
            InboxEntry(row[0], row[1], json.loads(row[2]), json.loads(row[3]) if row[3] else None)
            for row in rows
        ]

    def decided(self, update_id: int, actions: list[dict[str, Any]]) -> None:
        """Record what an update's handling owes the user (call inside the transaction
        that saves the user's new state, so a replay never decides twice)."""
        with self.transaction() as conn:
            conn.execute(
                "update inbox set actions = ? where update_id = ?", (json.dumps(actions), update_id)
            )

    def done(self, update_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("update inbox set done = ? where update_id = ?", (time.time(), update_id))

    def forget_done(self, older_than: float) -> None:
        """Drop done updates older than Telegram keeps unconfirmed ones (24 h), with margin."""
        with self.transaction() as conn:
            conn.execute("delete from inbox where done < ?", (time.time() - older_than,))

    def refuse_once(self, user_id: int) -> bool:
        """True the first time a user outside the allow-list writes (so we reply once)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "insert or ignore into refused (user_id, at) values (?, ?)", (user_id, time.time())
            )
            return cursor.rowcount == 1

    # -- users ---------------------------------------------------------------------------
    def user(self, user_id: int) -> UserState:
        with self._lock:
            row = self._conn.execute(
                "select state from users where user_id = ?", (user_id,)
            ).fetchone()
        return UserState.from_dict(json.loads(row[0])) if row else UserState()

    def save_user(self, user_id: int, chat_id: int, state: UserState) -> None:
        with self.transaction() as conn:
            conn.execute(
                "insert into users (user_id, chat_id, state) values (?, ?, ?) "
                "on conflict (user_id) do update set chat_id = excluded.chat_id, "
                "state = excluded.state",
                (user_id, chat_id, json.dumps(state.to_dict())),
            )

    def referenced_files(self, kept_since: float | None = None) -> set[str]:
        """Unique ids of files still needed: users' pending inputs, unfinished jobs' inputs,
        and the inputs and results of jobs finished after `kept_since` (kept for follow-ups)."""
        needed: set[str] = set()
        with self._lock:
            for (state,) in self._conn.execute("select state from users"):
                user = UserState.from_dict(json.loads(state))
                for ref in (user.content, user.style, user.asking):
                    if ref is not None:
                        needed.add(ref.unique_id)
            rows = self._conn.execute(
                "select spec, results from jobs where status in (?, ?) or finished >= ?",
                (*UNFINISHED, kept_since if kept_since is not None else float("inf")),
            ).fetchall()
        for spec, results in rows:
            needed.update(ref.unique_id for ref in JobSpec.from_dict(json.loads(spec)).inputs())
            needed.update(d.ref.unique_id for d in _results(results))
        return needed

    # -- jobs ----------------------------------------------------------------------------
    def add_job(self, spec: JobSpec) -> JobRecord:
        record = JobRecord(spec=spec, status="queued", created=time.time())
        with self.transaction() as conn:
            conn.execute(
                "insert into jobs (id, user_id, chat_id, spec, status, created) "
                "values (?, ?, ?, ?, ?, ?)",
                (
                    spec.job_id,
                    spec.user_id,
                    spec.chat_id,
                    json.dumps(spec.to_dict()),
                    record.status,
                    record.created,
                ),
            )
        return record

    def update_job(self, job_id: str, **fields: object) -> None:
        if "spec" in fields:
            fields["spec"] = json.dumps(fields["spec"].to_dict())  # type: ignore[union-attr]
        columns = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction() as conn:
            conn.execute(f"update jobs set {columns} where id = ?", (*fields.values(), job_id))

    def job(self, job_id: str) -> JobRecord | None:
        rows = self._select("where id = ?", (job_id,))
        return rows[0] if rows else None

    def record_results(self, job_id: str, results: Sequence[Delivered]) -> None:
        self.update_job(job_id, results=json.dumps([d.to_dict() for d in results]))

    def active_job(self, user_id: int) -> JobRecord | None:
        rows = self._select(
            "where user_id = ? and status in (?, ?) order by created", (user_id, *UNFINISHED)
        )
        return rows[0] if rows else None

    def unfinished_jobs(self) -> list[JobRecord]:
        return self._select("where status in (?, ?) order by created", UNFINISHED)

    def jobs_for(self, user_id: int) -> list[JobRecord]:
        return self._select("where user_id = ? order by created", (user_id,))

    def all_jobs(self) -> list[JobRecord]:
        return self._select("order by created", ())

    def count_unfinished(self) -> int:
        with self._lock:
            return self._conn.execute(
                "select count(*) from jobs where status in (?, ?)", UNFINISHED
            ).fetchone()[0]

    def recent_starts(self, user_id: int, since: float) -> list[float]:
        """When this user's jobs created since `since` were created, oldest first, each
        once per unit of its weight (a clip by its length: `JobSpec.weight`): the rate
        limit counts them, and says when the oldest leave its window."""
        with self._lock:
            rows = self._conn.execute(
                "select created, max(1, coalesce(json_extract(spec, '$.weight'), 1)) "
                "from jobs where user_id = ? and created >= ? order by created",
                (user_id, since),
            ).fetchall()
        return [created for created, weight in rows for _ in range(int(weight))]

    def queue_position(self, job_id: str) -> int | None:
        """1-based place among queued jobs (None once it runs or ends)."""
        with self._lock:
            row = self._conn.execute(
                "select created, status from jobs where id = ?", (job_id,)
            ).fetchone()
            if row is None or row[1] != "queued":
                return None
            ahead = self._conn.execute(
                "select count(*) from jobs where status = 'queued' and created < ?", (row[0],)
            ).fetchone()[0]
        return ahead + 1

    def _select(self, where: str, params: tuple[object, ...]) -> list[JobRecord]:
        with self._lock:
            rows = self._conn.execute(
                "select spec, status, created, task_id, started, finished, worker, error, shown, "
                f"results from jobs {where}",
                params,
            ).fetchall()
        return [
            JobRecord(
                spec=JobSpec.from_dict(json.loads(row[0])),
                status=row[1],
                created=row[2],
                task_id=row[3],
                started=row[4],
                finished=row[5],
                worker=row[6],
                error=row[7],
                shown=row[8],
                results=_results(row[9]),
            )
            for row in rows
        ]


def _results(text: str | None) -> tuple[Delivered, ...]:
    return tuple(Delivered.from_dict(item) for item in json.loads(text)) if text else ()
