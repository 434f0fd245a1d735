"""A throw-away `redis-server` on 127.0.0.1 and a free port (the Redis tests, image-test)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path, timeout: float = 20) -> tuple[subprocess.Popen, str]:
    """(the server, its redis:// URL) once it answers PING; RuntimeError if it cannot start.

    No persistence: the data lives as long as the test. The port is free when chosen, but
    another process (a parallel test worker's Redis) may take it first: then this server
    exits, and it is started again on another port, never mistaken for the one that won."""
    server = shutil.which("redis-server")
    if server is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = free_port()
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while time.monotonic() < deadline and process.poll() is None:
            if _server_pid(port) == process.pid:
                return process, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait()
    raise RuntimeError("redis-server did not start")


def _server_pid(port: int) -> int | None:
    """The pid of the Redis answering on `port` (INFO's process_id), None if none answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"INFO server\r\n")
            reply = b""
            while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return None
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    return None
