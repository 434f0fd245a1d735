"""The process heartbeat `nst health` reads: is the bot still polling, the worker still
taking jobs? A live pid says neither, so the process itself vouches for each part.

A process names its parts with how long each may stay quiet (`polling` for `nst
serve-bot`; `jobs` for every process that runs jobs) and calls `beat(part)` each time
that part has provably worked: a getUpdates answered, a queue read that reached the
queue, a running job's report stored. The state goes to one small JSON file at most every
`period` seconds (and at once on a part's first beat), written whole through
`engine/atomic.py`: a reader never sees half a file. `check` reads it from another
process (a container's HEALTHCHECK) and names what is overdue.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nstcli.bot.identity import ProcessIdentity, alive_here, this_process
from nstcli.engine.atomic import atomic_write

log = logging.getLogger("nstcli.bot.heartbeat")

ENV = "NST_HEARTBEAT_FILE"
POLLING, JOBS = "polling", "jobs"
#: A job's own reports come every few seconds and an idle queue read returns within ~1 s.
JOBS_WITHIN = 30.0


def polling_within(poll_timeout: float) -> float:
    """How long polling may stay quiet: two whole long polls, each with its 10 s margin."""
    return 2 * (poll_timeout + 10)


class ProcessHeartbeat:
    """Writes this process's heartbeat file (none when `path` is None: then beats cost
    nothing); `beat` is cheap enough for any loop. Closing removes the file."""

    def __init__(
        self, path: Path | None, role: str, parts: dict[str, float], period: float = 5.0
    ) -> None:
        self.path, self.role, self.period = path, role, period
        self._within = dict(parts)
        self._last: dict[str, float | None] = dict.fromkeys(parts)
        self._written = 0.0
        self._lock = threading.Lock()
        self._warned = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write()

    def __enter__(self) -> ProcessHeartbeat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def vouch(self, part: str) -> Callable[[], None]:
        """The callback that vouches for `part` (what the poller or a worker calls)."""
        return functools.partial(self.beat, part)

    def beat(self, part: str) -> None:
        if self.path is None:
            return
        now = time.time()
        with self._lock:
            first = self._last[part] is None
            self._last[part] = now
            if first or now - self._written >= self.period:
                self._write()

    def close(self) -> None:
        """A process that stopped is not healthy: remove the file rather than let it age."""
        if self.path is None:
            return
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        assert self.path is not None
        me = this_process()
        state = {
            "role": self.role,
            "pid": me.pid,
            "host": me.host,
            "pidns": me.pidns,
            "parts": {
                part: {"last": self._last[part], "within": within}
                for part, within in self._within.items()
            },
        }
        try:
            with atomic_write(self.path) as stream:
                stream.write(json.dumps(state).encode())
            self._written = time.time()
        except OSError as error:  # a full disk must not stop the poller or a worker
            if not self._warned:
                log.warning("cannot write the heartbeat %s: %s", self.path, error)
                self._warned = True


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    text: str


def check(path: Path, now: float | None = None) -> Verdict:
    """Healthy when the writer is alive and every part beat within its allowance."""
    now = time.time() if now is None else now
    try:
        state = json.loads(path.read_text())
        who = f"{state['role']} (pid {int(state['pid'])})"
        parts = [
            (part, None if b["last"] is None else float(b["last"]), float(b["within"]))
            for part, b in state["parts"].items()
        ]
    except FileNotFoundError:
        return Verdict(False, f"unhealthy: no heartbeat at {path} (nothing running writes it)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return Verdict(False, f"unhealthy: unreadable heartbeat {path}: {error!r}")
    if alive_here(_writer(state)) is False:
        return Verdict(False, f"unhealthy: {who} is gone")
    late, fine = [], []
    for part, last, within in parts:
        if last is None:  # starting up (a HEALTHCHECK's start period covers it), or stuck
            late.append(f"{part}: no beat yet")
        elif now - last > within:
            late.append(f"{part}: last beat {now - last:.0f} s ago (allowed {within:.0f} s)")
        else:
            fine.append(f"{part} {now - last:.0f} s ago")
    if late:
        return Verdict(False, f"unhealthy: {who}: " + "; ".join(late))
    return Verdict(True, f"healthy: {who}: " + ", ".join(fine))


def _writer(state: dict[str, object]) -> ProcessIdentity | None:
    """The writer's identity; None (judge by the beats alone) for a file without one."""
    host, pidns = state.get("host"), state.get("pidns")
    if not isinstance(host, str) or not isinstance(pidns, str):
        return None
    return ProcessIdentity(host, pidns, int(state["pid"]))  # type: ignore[call-overload]
