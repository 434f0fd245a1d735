"""The process heartbeat and `nst health`: healthy only while each part keeps beating."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from nstcli.bot.config import QueueConfig
from nstcli.bot.heartbeat import JOBS, POLLING, ProcessHeartbeat, check
from nstcli.bot.jobs import Heartbeat
from nstcli.bot.taskqueue import JobSignals, make_huey
from nstcli.cli.app import app
from tests.bot.test_jobs import spec


def test_healthy_only_when_every_part_beat_within_its_allowance(tmp_path):
    path = tmp_path / "heartbeat.json"
    pulse = ProcessHeartbeat(path, "bot", {POLLING: 60, JOBS: 30})
    verdict = check(path)
    assert not verdict.healthy and "polling: no beat yet" in verdict.text
    pulse.beat(POLLING)
    assert "jobs: no beat yet" in check(path).text
    pulse.beat(JOBS)
    verdict = check(path)
    assert verdict.healthy, verdict.text
    assert verdict.text.startswith("healthy: bot (pid ")
    # 45 s later polling is still within its 60 s, jobs are overdue
    verdict = check(path, now=time.time() + 45)
    assert not verdict.healthy
    assert "jobs: last beat 45 s ago (allowed 30 s)" in verdict.text
    assert "polling" not in verdict.text.split(":", 2)[2]


def test_beats_are_written_at_most_once_per_period_but_the_first_at_once(tmp_path):
    path = tmp_path / "heartbeat.json"
    pulse = ProcessHeartbeat(path, "worker", {JOBS: 30}, period=60)
    pulse.beat(JOBS)
    first = json.loads(path.read_text())["parts"][JOBS]["last"]
    assert first is not None
    for _ in range(100):
        pulse.beat(JOBS)
    assert json.loads(path.read_text())["parts"][JOBS]["last"] == first
    pulse.period = 0
    pulse.beat(JOBS)
    assert json.loads(path.read_text())["parts"][JOBS]["last"] > first


def test_closing_removes_the_file_and_a_missing_file_is_unhealthy(tmp_path):
    path = tmp_path / "sub" / "heartbeat.json"
    with ProcessHeartbeat(path, "worker", {JOBS: 30}) as pulse:
        pulse.vouch(JOBS)()
        assert check(path).healthy
    assert not path.exists()
    assert check(path).text.startswith("unhealthy: no heartbeat at ")


def test_no_path_writes_nothing(tmp_path):
    with ProcessHeartbeat(None, "worker", {JOBS: 30}) as pulse:
        pulse.beat(JOBS)
    assert list(tmp_path.iterdir()) == []


def test_a_dead_writer_and_a_corrupt_file_are_unhealthy(tmp_path):
    path = tmp_path / "heartbeat.json"
    ProcessHeartbeat(path, "worker", {JOBS: 30}).beat(JOBS)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, "pid": dead.pid}))
    assert check(path).text == f"unhealthy: worker (pid {dead.pid}) is gone"
    for text in ("{", '{"role": "bot"}', '{"role": "bot", "pid": 1, "parts": {"x": {}}}'):
        path.write_text(text)
        verdict = check(path)
        assert not verdict.healthy and verdict.text.startswith("unhealthy: unreadable heartbeat")


def test_a_writer_in_another_pid_namespace_is_judged_by_its_beats(tmp_path):
    """A worker container beside the bot's on the host network: same host name, its own
    pid namespace; its pid (here one that is dead in ours) says nothing about it."""
    path = tmp_path / "heartbeat.json"
    ProcessHeartbeat(path, "worker", {JOBS: 30}).beat(JOBS)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = json.loads(path.read_text())
    assert state["host"] and "pidns" in state
    path.write_text(json.dumps({**state, "pid": dead.pid, "pidns": state["pidns"] + "x"}))
    assert check(path).healthy
    assert not check(path, now=time.time() + 60).healthy  # its beats still count
    older = {key: value for key, value in state.items() if key != "pidns"}
    path.write_text(json.dumps({**older, "pid": dead.pid}))  # a file without a namespace
    assert check(path).healthy


def test_queue_reads_beat_only_when_they_reach_the_queue(tmp_path):
    reads: list[int] = []
    huey = make_huey(QueueConfig(tmp_path))
    huey.on_read = lambda: reads.append(1)
    assert huey.dequeue() is None
    assert reads == [1]
    unreachable = make_huey(QueueConfig(tmp_path, broker="redis://127.0.0.1:1/0"))
    unreachable.on_read = lambda: reads.append(2)
    with pytest.raises(Exception, match=r"(?i)connect"):
        unreachable.dequeue()
    assert reads == [1]


def test_a_running_jobs_reports_vouch_for_the_worker(tmp_path):
    beats = threading.Semaphore(0)
    signals = JobSignals(make_huey(QueueConfig(tmp_path)))
    beat = Heartbeat(signals, spec(), 0.02, alive=beats.release)
    try:
        assert all(beats.acquire(timeout=5) for _ in range(3))
    finally:
        beat.final("done")
        beat.close()


def test_nst_health_exit_codes(tmp_path):
    path = tmp_path / "heartbeat.json"
    runner = CliRunner()
    missing = runner.invoke(app, ["health", "--heartbeat-file", str(path)])
    assert missing.exit_code == 1 and "unhealthy: no heartbeat" in missing.output
    pulse = ProcessHeartbeat(path, "worker", {JOBS: 30})
    assert runner.invoke(app, ["health"], env={"NST_HEARTBEAT_FILE": str(path)}).exit_code == 1
    pulse.beat(JOBS)
    healthy = runner.invoke(app, ["health"], env={"NST_HEARTBEAT_FILE": str(path)})
    assert healthy.exit_code == 0, healthy.output
    assert healthy.output.startswith("healthy: worker (pid ")
    unset = runner.invoke(app, ["health"], env={"NST_HEARTBEAT_FILE": None})
    assert unset.exit_code == 2 and "error: no heartbeat to read" in unset.output


def test_the_real_bot_vouches_for_polling_and_its_in_process_workers(start_bot, tmp_path):
    path = tmp_path / "heartbeat.json"
    bot = start_bot(heartbeat_file=path, workers=1)
    bot.api.wait_for(lambda: check(path).healthy, 30, "a healthy heartbeat")
    parts = json.loads(path.read_text())["parts"]
    assert set(parts) == {POLLING, JOBS}
    assert parts[POLLING]["within"] == 2 * (1 + 10)  # the tests' 1 s long poll
    bot.close()
    assert not path.exists()
