"""One bot per data dir: an exclusive lock (filelock) held for the process's lifetime.

Two `nst serve-bot` on one store would both resume and run the same jobs. The lock is an
OS lock on `bot.lock` (released by the kernel even after `kill -9`); the holder's pid is
written next to it so the refusal can name it. `nst worker`s take no lock: many workers
may share one queue.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from nstcli.engine.atomic import atomic_write
from nstcli.engine.errors import InputError


@contextlib.contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir` for this process, or raise a one-line `InputError` naming the holder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "bot.lock"), timeout=0)
    pid_file = data_dir / "bot.pid"
    try:
        lock.acquire()
    except Timeout:
        holder = pid_file.read_text().strip() if pid_file.is_file() else "unknown"
        raise InputError(
            f"another nst serve-bot (pid {holder}) is using {data_dir}; "
            "stop it or pass another --data-dir"
        ) from None
    try:
        with atomic_write(pid_file) as stream:  # never a half-written pid for the next one
            stream.write(f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        lock.release()
