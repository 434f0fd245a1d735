"""`make image-test`: the built image, run in containers on this machine (minutes).

1. `nst --version`;
2. a `lite` stylize at 64 px with no network at all (`--network none`, NST_OFFLINE=1);
3. a bot container (`serve-bot --broker … --workers 0`) and a worker container (`worker
   --broker …`) sharing a Redis on the host, serving one user through the test suite's fake
   Bot API on 127.0.0.1;
4. the image's HEALTHCHECK (`podman healthcheck run`, which runs `nst health`): both
   containers healthy, then the worker unhealthy once it is stopped (SIGSTOP: the process
   is there but takes no jobs), while the bot stays healthy;
5. SIGTERM (`podman stop`): both exit 0.

The last line printed says what was checked and how long it took; any failure ends the
run with exit 1 and the containers' logs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from nstcli import samples
from tests.bot.conftest import User
from tests.bot.fakeapi import TOKEN, FakeBotAPI
from tests.bot.redisproc import start_redis


class Failed(Exception):
    pass


class Podman:
    def __init__(self, podman: str, run_flags: list[str], image: str) -> None:
        self.podman, self.run_flags, self.image = podman, run_flags, image

    def __call__(self, *args: str, timeout: float = 300, check: bool = True):  # type: ignore[no-untyped-def]
        result = subprocess.run(
            [self.podman, *args], capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise Failed(f"podman {shlex.join(args)}: exit {result.returncode}: {result.stderr}")
        return result

    def run(self, *args: str, flags: list[str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
        flags = self.run_flags if flags is None else flags
        return self("run", *flags, *args, **kwargs)

    def healthy(self, name: str) -> bool:
        return self("healthcheck", "run", name, check=False, timeout=60).returncode == 0

    def health_text(self, name: str) -> str:
        return self("exec", name, "nst", "health", check=False, timeout=60).stdout.strip()


def offline(flags: list[str]) -> list[str]:
    """The run flags with the network replaced by none."""
    kept: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag == "--network":
            skip = True
        elif not flag.startswith("--network="):
            kept.append(flag)
    return [*kept, "--network", "none"]


def wait(condition: Callable[[], object], timeout: float, what: str, every: float = 1.0) -> float:
    """Seconds until `condition()` held; Failed after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(every)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")


def check_version(podman: Podman) -> str:
    version = podman.run("--rm", podman.image, "--version").stdout.strip()
    if not version.startswith("nst "):
        raise Failed(f"nst --version said {version!r}")
    print(f"image-test: {version}", flush=True)
    return version


def check_stylize(podman: Podman, work: Path) -> None:
    work.mkdir()
    work.chmod(0o777)  # the image's user (uid 10001) writes the result here
    samples.content_scene(96, 72).save(work / "content.png")
    samples.style_picture(64, 64).save(work / "style.png")
    started = time.monotonic()
    podman.run(
        "--rm", "-e", "NST_OFFLINE=1", "-v", f"{work}:/work", podman.image,
        "stylize", "/work/content.png", "/work/style.png", "--backbone", "lite",
        "--size", "64", "--quiet", "-o", "/work/out.png",
        flags=offline(podman.run_flags),
    )  # fmt: skip
    with Image.open(work / "out.png") as result:
        if max(result.size) != 64:
            raise Failed(f"the stylized result is {result.size}, not 64 px on its longer side")
    print(f"image-test: lite stylize 64 px offline in {time.monotonic() - started:.0f} s")


def check_bot(podman: Podman, names: dict[str, str], redis: str, api: FakeBotAPI) -> str:
    common = ["-d", "-e", f"TELEGRAM_BOT_TOKEN={TOKEN}", "-e", "NST_OFFLINE=1"]
    remote = ["--broker", redis, "--api-url", api.url, "--api-limits", "public", "--verbose"]
    podman.run(
        *common, "--name", names["bot"], podman.image, "serve-bot", *remote, "--workers", "0",
        "--poll-timeout", "1", "--size", "64", "--rate-limit", "0", "--no-preview",
    )  # fmt: skip
    podman.run(*common, "--name", names["worker"], podman.image, "worker", *remote)
    wait(lambda: api.sent("getUpdates"), 180, "the bot container to poll")
    wait(lambda: len(api.sent("getMe")) >= 2, 180, "the worker container to start")
    started = time.monotonic()
    user = User(api, 4242)
    user.submit("Lite")
    (result,) = user.wait_results(1, timeout=300)
    data = result.files.get("photo") or result.files.get("document")
    if not data:
        raise Failed("the result carried no picture")
    took = time.monotonic() - started
    print(f"image-test: bot + worker over Redis served one user in {took:.0f} s")
    return f"bot + worker containers over Redis served 1 user ({took:.0f} s)"


def check_health(podman: Podman, names: dict[str, str]) -> str:
    for role in ("bot", "worker"):
        wait(lambda role=role: podman.healthy(names[role]), 120, f"the {role} to be healthy")
        print(f"image-test: {podman.health_text(names[role])}", flush=True)
    pid = int(podman("inspect", "--format", "{{.State.Pid}}", names["worker"]).stdout)
    os.kill(pid, signal.SIGSTOP)
    try:
        after = wait(lambda: not podman.healthy(names["worker"]), 120, "an unhealthy worker", 2)
        print(f"image-test: {podman.health_text(names['worker'])}", flush=True)
        if not podman.healthy(names["bot"]):
            raise Failed(f"the bot turned unhealthy too: {podman.health_text(names['bot'])}")
    finally:
        os.kill(pid, signal.SIGCONT)
    return f"health: bot and worker healthy, worker unhealthy {after:.0f} s after SIGSTOP"


def check_clean_stop(podman: Podman, names: dict[str, str]) -> None:
    for name in names.values():
        podman("stop", "--time", "60", name, timeout=120)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        if code != "0":
            raise Failed(f"{name} exited {code} on SIGTERM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--podman", default="podman")
    parser.add_argument("--run-flags", default="", help="flags for every `podman run`")
    args = parser.parse_args()
    podman = Podman(args.podman, shlex.split(args.run_flags), args.image)
    names = {role: f"nst-image-test-{os.getpid()}-{role}" for role in ("bot", "worker")}
    started = time.monotonic()
    api = FakeBotAPI().start()
    redis = None
    with tempfile.TemporaryDirectory(prefix="nst-image-test-") as temp:
        try:
            version = check_version(podman)
            check_stylize(podman, Path(temp) / "work")
            redis, url = start_redis(Path(temp))
            served = check_bot(podman, names, url, api)
            health = check_health(podman, names)
            check_clean_stop(podman, names)
        except (Failed, AssertionError, subprocess.TimeoutExpired) as error:
            for name in names.values():
                logs = podman("logs", "--tail", "40", name, check=False)
                print(f"--- {name}:\n{logs.stdout}{logs.stderr}", file=sys.stderr)
            print(f"image-test FAILED: {error}", file=sys.stderr)
            return 1
        finally:
            podman("rm", "--force", "--volumes", *names.values(), check=False)
            if redis is not None:
                redis.terminate()
                redis.wait(20)
            api.stop()
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    print(
        f"image-test passed in {minutes}m{seconds:02d}s ({args.image}): {version}; lite stylize "
        f"64 px offline; {served}; {health}; both exit 0 on SIGTERM"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
