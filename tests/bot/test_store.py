"""The bot's SQLite store: durable across reopen, positions, de-duplication."""

from __future__ import annotations

import dataclasses

from nstcli.bot.models import FileRef, JobSpec, UserSettings, UserState
from nstcli.bot.store import Store


def spec(job_id: str, user: int) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        attempt=1,
        user_id=user,
        chat_id=user,
        choice="lite",
        content=FileRef(f"c-{job_id}", f"uc-{job_id}"),
        style=FileRef(f"s-{job_id}", f"us-{job_id}"),
        size=64,
        steps=5,
    )


def test_state_and_jobs_survive_reopening(tmp_path):
    path = tmp_path / "bot.sqlite3"
    store = Store(path)
    state = UserState(content=FileRef("f", "u", 4, 3), settings=UserSettings(size=256))
    store.save_user(1, 1, state)
    store.add_job(spec("a", 1))
    store.update_job("a", status="running", worker="host:1:x")
    store.close()
    store = Store(path)
    assert store.user(1) == state
    assert store.user(2) == UserState()
    (job,) = store.unfinished_jobs()
    assert (job.job_id, job.status, job.worker) == ("a", "running", "host:1:x")
    assert store.active_job(1).job_id == "a"
    store.close()


def test_queue_positions_and_counts(tmp_path):
    store = Store(tmp_path / "bot.sqlite3")
    for index, user in enumerate((1, 2, 3)):
        store.add_job(spec(f"j{index}", user))
    assert [store.queue_position(f"j{i}") for i in range(3)] == [1, 2, 3]
    store.update_job("j0", status="running")
    assert [store.queue_position(f"j{i}") for i in range(3)] == [None, 1, 2]
    store.update_job("j1", status="done")
    assert store.count_unfinished() == 2
    assert len(store.recent_starts(2, since=0)) == 1 and store.recent_starts(9, since=0) == []
    assert store.referenced_files() == {"uc-j0", "us-j0", "uc-j2", "us-j2"}
    updated = dataclasses.replace(spec("j2", 3), attempt=2, status_message_id=77)
    store.update_job("j2", spec=updated)
    assert store.job("j2").spec == updated
    store.close()


def test_inbox_keeps_updates_until_done_and_ignores_redeliveries(tmp_path):
    store = Store(tmp_path / "bot.sqlite3")
    first = [(5, 1, {"update_id": 5, "n": "a"}), (6, 2, {"update_id": 6, "n": "b"})]
    assert [e.update_id for e in store.receive(first)] == [5, 6]
    # Telegram re-sends a batch whose confirmation a crash prevented: nothing new in it
    again = store.receive([*first, (7, 1, {"update_id": 7, "n": "c"})])
    assert [e.update_id for e in again] == [7]
    store.decided(5, [{"kind": "Reply", "text": "hi", "keyboard": None}])
    store.done(6)
    assert store.refuse_once(9) is True and store.refuse_once(9) is False
    store.close()
    store = Store(tmp_path / "bot.sqlite3")
    pending = store.pending_updates()
    assert [(e.update_id, e.user_id) for e in pending] == [(5, 1), (7, 1)]
    assert pending[0].actions == [{"kind": "Reply", "text": "hi", "keyboard": None}]
    assert pending[1].actions is None and pending[1].payload == {"update_id": 7, "n": "c"}
    assert store.receive([(6, 2, {"update_id": 6})]) == []  # done, and still recognised
    store.close()


def test_a_failed_transaction_leaves_nothing(tmp_path):
    store = Store(tmp_path / "bot.sqlite3")
    try:
        with store.transaction():
            store.add_job(spec("x", 1))
            raise RuntimeError("crash mid-way")
    except RuntimeError:
        pass
    assert store.all_jobs() == []
    store.close()
