"""Worker-side guarantees without Telegram: one run per job, superseded and finished
jobs skipped, a late heartbeat never overwriting the final report, dead workers noticed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time

import pytest

from nstcli.bot import identity, taskqueue
from nstcli.bot.config import QueueConfig
from nstcli.bot.identity import ProcessIdentity, this_process
from nstcli.bot.jobs import Heartbeat, JobRunner
from nstcli.bot.models import FileRef, JobSpec
from nstcli.bot.taskqueue import JobSignals, make_huey, worker_alive


@pytest.fixture
def signals(tmp_path) -> JobSignals:
    return JobSignals(make_huey(QueueConfig(tmp_path)))


def spec(attempt: int = 1) -> JobSpec:
    return JobSpec(
        job_id="job1",
        attempt=attempt,
        user_id=1,
        chat_id=1,
        choice="lite",
        content=FileRef("c", "uc"),
        style=FileRef("s", "us"),
        size=32,
        steps=2,
    )


def runner(signals: JobSignals) -> JobRunner:
    # tg/files are never touched on the paths tested here: a touch would raise
    return JobRunner(tg=None, signals=signals, files=None, shutdown=threading.Event())  # type: ignore[arg-type]


def test_an_attempt_runs_on_one_worker_only(signals):
    assert signals.claim("job1", 1) is True
    assert signals.claim("job1", 1) is False
    runner(signals).run(spec(1))  # claimed elsewhere: returns without working
    assert signals.state("job1") is None


def test_superseded_and_finished_jobs_are_skipped(signals):
    signals.set_attempt("job1", 2)
    runner(signals).run(spec(1))
    assert signals.state("job1") is None
    signals.report("job1", 2, "done")
    runner(signals).run(spec(2))
    assert signals.state("job1")["status"] == "done"


@pytest.mark.parametrize("lock", ["real", "none"])
def test_a_late_heartbeat_never_overwrites_the_final_state(signals, lock):
    """The race made deterministic: a beat is caught *inside* its report (after its check
    of the final flag), `final("done")` is called then, and only then the beat's write lands.

    With Heartbeat's lock, `final` waits for the beat and writes last: "done". The control
    (lock replaced by a no-op) shows the harness really produces the race: "running" wins.
    """
    real_report = signals.report
    beat_inside, final_written, release = threading.Event(), threading.Event(), threading.Event()
    trapped = []

    def report(job_id, attempt, status, **extra):
        if threading.current_thread().name == "nst-heartbeat" and not trapped:
            trapped.append(status)
            beat_inside.set()
            assert release.wait(10), "the test never released the beat"
        real_report(job_id, attempt, status, **extra)
        if status == "done":
            final_written.set()

    signals.report = report  # type: ignore[method-assign]
    beat = Heartbeat(signals, spec(), interval=0.001)
    if lock == "none":
        beat._lock = contextlib.nullcontext()  # type: ignore[assignment]
    assert beat_inside.wait(10), "the heartbeat never beat"
    finisher = threading.Thread(target=beat.final, args=("done",))
    finisher.start()
    # With the lock, `final` is blocked behind the beat: "done" cannot be written yet.
    assert final_written.wait(0.3) is (lock == "none")
    release.set()
    finisher.join(10)
    beat.close()
    assert trapped == ["running"]
    assert signals.state("job1")["status"] == ("done" if lock == "real" else "running")


def test_worker_liveness():
    me = this_process()
    assert worker_alive(taskqueue.WORKER_ID, time.time() - 3600, 10)  # ourselves
    assert not worker_alive(f"{me.text()}:oldrun", time.time(), 10)  # we restarted
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = ProcessIdentity(me.host, me.pidns, finished.pid)
    assert not worker_alive(f"{gone.text()}:x", time.time(), 10)
    assert worker_alive("elsewhere:9:1:x", time.time() - 5, 10)
    assert not worker_alive("elsewhere:9:1:x", time.time() - 50, 10)
    # An identity of the older "host:pid:token" shape is judged by its heartbeat alone.
    assert worker_alive(f"{me.host}:{finished.pid}:x", time.time() - 5, 10)
    assert not worker_alive(f"{me.host}:{finished.pid}:x", time.time() - 50, 10)


def test_a_worker_in_another_pid_namespace_is_judged_by_its_heartbeat(monkeypatch):
    """Two containers on the host network: same host name, and both are pid 1."""
    monkeypatch.setattr(os, "getpid", lambda: 1)  # we are pid 1 in our container
    me = this_process()
    assert me.pid == 1
    other = f"{me.host}:{me.pidns}x:1:tok"  # the other container's pid 1
    assert worker_alive(other, time.time() - 5, 10)  # not "us restarted": it is alive
    assert not worker_alive(other, time.time() - 50, 10)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # a pid dead here may be a live process there
    assert worker_alive(f"{me.host}:{me.pidns}x:{finished.pid}:tok", time.time() - 5, 10)
    assert not worker_alive(f"{me.host}:{me.pidns}:{finished.pid}:tok", time.time() - 5, 10)


def test_pid_namespace_falls_back_where_proc_is_absent(monkeypatch):
    def no_proc(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(os, "readlink", no_proc)
    identity.pid_namespace.cache_clear()
    try:
        assert identity.pid_namespace() == ""
        me = this_process()
        assert ProcessIdentity.parse(me.text()) == me
        assert ProcessIdentity.parse(me.text()).same_pid_space()
        assert not ProcessIdentity(me.host, "4026531836", me.pid).same_pid_space()
    finally:
        identity.pid_namespace.cache_clear()
