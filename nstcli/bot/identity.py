"""Who a process is, for the heartbeat file and the workers' job reports.

A host and a pid are not enough: containers on the host network share the host's name,
and each one's main process is pid 1 in its own pid namespace. So a process is named by
host, pid namespace and pid, and a local pid check (`os.kill(pid, 0)`) is trusted only
for a process named in *our* host and pid namespace; any other is judged by its
heartbeat's age alone. Where /proc is absent the namespace is unknown (""): two unknowns
on the same host count as the same space (no containers of this kind there), an unknown
beside a known one does not.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass


@functools.cache
def pid_namespace() -> str:
    """This process's pid namespace, e.g. "4026531836"; "" where it cannot be read."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except (OSError, AttributeError, NotImplementedError):
        return ""
    return link.removeprefix("pid:[").removesuffix("]")


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pidns: str
    pid: int

    def same_pid_space(self) -> bool:
        """Whether this identity's pid means a process we can check with `pid_running`."""
        here = this_process()
        return self.host == here.host and self.pidns == here.pidns

    def is_us(self) -> bool:
        return self == this_process()

    def text(self) -> str:
        """ "host:pidns:pid" (no part holds a colon; an unknown namespace is empty)."""
        return f"{self.host}:{self.pidns}:{self.pid}"

    @classmethod
    def parse(cls, text: str) -> ProcessIdentity | None:
        """The identity at the start of `text` ("host:pidns:pid[:more]"); None for any
        other shape (an older "host:pid:token" too: then only a heartbeat can tell)."""
        parts = text.split(":")
        if len(parts) < 3 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]))


def this_process() -> ProcessIdentity:
    """Read afresh each time for the pid (a fork is another process)."""
    return ProcessIdentity(socket.gethostname(), pid_namespace(), os.getpid())


def pid_running(pid: int) -> bool:
    """Whether a process with this pid exists in our pid namespace (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def alive_here(identity: ProcessIdentity | None) -> bool | None:
    """A local verdict where one is possible: False for a dead process in our pid space,
    True for a running one, None where only a heartbeat can tell (another host or pid
    namespace, or no identity)."""
    if identity is None or not identity.same_pid_space():
        return None
    return pid_running(identity.pid)
