"""Bot throughput (jobs per hour) and the bot's own overhead per job, measured offline.

The real bot (`serve_bot`, SqliteHuey, in-process workers) polls the test suite's fake
Bot API on 127.0.0.1; simulated users send a photo, a style image and press a button.

* Throughput: for each backbone (lite and vgg with their offline weights) and worker
  count, one untimed warm-up job loads the network, then `--jobs` users submit at once;
  jobs/hour = jobs / (first press → last result) × 3600, at `--size` and `--steps` (the
  bot's default is each network's own, vgg 98 and lite 100 steps: scale accordingly,
  the optimisation dominates).
* Previews: each throughput row runs with previews on (the default: the status message
  is a photo replaced by the current image a few times per job) and off. The preview's
  cost is measured directly: time the workers spent encoding and uploading frames plus
  the engine's tensor→image conversions for them, as a share of the jobs' time.
* Overhead: time from the user's last input (the button press reaching the Bot API) to
  the engine being called for that job, with idle workers and a no-op engine.

    python bench/bot_throughput.py --size 512 --steps 10 --jobs 4 --out bench/results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from nstcli import samples  # noqa: E402
from nstcli.bot import app, execute  # noqa: E402
from nstcli.bot.app import serve_bot  # noqa: E402
from nstcli.bot.config import BotConfig, QueueConfig, WorkerConfig  # noqa: E402
from nstcli.engine import stylize as engine_stylize  # noqa: E402
from tests.bot.fakeapi import TOKEN, FakeBotAPI  # noqa: E402

LABELS = {"lite": "Lite", "vgg": "VGG19", "resnet": "ResNet50"}


class Bot:
    """A bot polling a fresh fake server from a fresh data dir."""

    def __init__(
        self,
        workers: int,
        size: int,
        steps: int,
        pretrained: bool,
        threads: int | None = None,
        preview: bool = True,
    ) -> None:
        self.api = FakeBotAPI().start()
        self.folder = tempfile.TemporaryDirectory(prefix="nst-bench-")
        worker = WorkerConfig(
            token=TOKEN,
            api_url=self.api.url,
            queue=QueueConfig(Path(self.folder.name)),
            workers=workers,
            pretrained=pretrained,
            threads=threads,
        )
        config = BotConfig(
            worker=worker,
            size=size,
            steps=steps,
            max_queue=100,
            rate_limit=0,
            poll_timeout=1,
            backbones=("lite", "vgg", "resnet"),
            preview=preview,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=serve_bot, args=(config, self.stop), daemon=True)
        self.thread.start()
        self.api.wait_for(lambda: self.api.sent("getUpdates"), 120, "the bot to poll")
        self.users = 0

    def submit(self, label: str, content: Image.Image, style: Image.Image) -> tuple[int, float]:
        """One user's full request; returns (user id, when the button press was sent)."""
        self.users += 1
        user = 1000 + self.users
        api = self.api
        api.user_photo(user, content)
        api.wait_for(lambda: len(api.texts_to(user)) >= 1, 60, "photo acknowledged")
        api.user_photo(user, style)
        buttons = api.wait_for(
            lambda: [b for b in api.buttons(user) if b[1].endswith(label)], 60, "keyboard"
        )
        message_id, _, data = buttons[-1]
        pressed = time.monotonic()
        api.user_press(user, message_id, data)
        return user, pressed

    def wait_result(self, user: int, timeout: float = 3600) -> float:
        self.api.wait_for(lambda: self.api.results_to(user), timeout, f"result for {user}")
        return self.api.results_to(user)[0].at

    def close(self) -> None:
        self.stop.set()
        self.thread.join(120)
        self.api.stop()
        self.folder.cleanup()


class PreviewCost:
    """Time the workers spend on previews: frames encoded and uploaded (`JobRunner`
    counts it), and the engine's tensor→image conversion of each snapshot."""

    def __init__(self) -> None:
        self.runners: list = []
        self.conversions: list[float] = []
        self._runner, self._convert = app._runner, engine_stylize.tensor_to_image

    def __enter__(self) -> PreviewCost:
        def runner(*args, **kwargs):  # type: ignore[no-untyped-def]
            made = self._runner(*args, **kwargs)
            self.runners.append(made)
            return made

        def convert(tensor):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            image = self._convert(tensor)
            self.conversions.append(time.perf_counter() - started)
            return image

        app._runner = runner  # type: ignore[assignment]
        engine_stylize.tensor_to_image = convert  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        app._runner = self._runner  # type: ignore[assignment]
        engine_stylize.tensor_to_image = self._convert  # type: ignore[assignment]

    def start(self) -> None:
        """Count from here (after the warm-up job)."""
        self._uploads_before = sum(r.preview_seconds for r in self.runners)
        self._conversions_before = len(self.conversions)

    def seconds(self, results: int) -> float:
        """Preview seconds since `start`: uploads, and every conversion but the one that
        made each delivered result (the smallest are the previews' when sizes differ)."""
        uploads = sum(r.preview_seconds for r in self.runners) - self._uploads_before
        converted = sorted(self.conversions[self._conversions_before :])
        return uploads + sum(converted[: max(0, len(converted) - results)])


def throughput(
    backbone: str,
    workers: int,
    size: int,
    steps: int,
    jobs: int,
    threads: int | None,
    preview: bool,
) -> dict:
    content = samples.content_scene(size, round(size * 0.75))
    style = samples.style_picture(size, size)
    with PreviewCost() as cost:
        bot = Bot(workers, size, steps, (backbone != "resnet"), threads, preview)
        try:
            label = LABELS[backbone]
            warm, _ = bot.submit(label, content, style)  # loads the network once
            bot.wait_result(warm)
            cost.start()
            started = time.monotonic()
            users = [bot.submit(label, content, style)[0] for _ in range(jobs)]
            finished = max(bot.wait_result(user) for user in users)
            frames = sum(len(f) for (chat, _m), f in bot.api.previews.items() if chat in users)
        finally:
            bot.close()
    wall = finished - started
    # job-seconds: the workers were busy for the whole window (jobs ≥ workers)
    preview_share = cost.seconds(jobs) / (wall * min(workers, jobs))
    return {
        "backbone": backbone + ("" if backbone != "resnet" else " (random init)"),
        "workers": workers,
        "threads_per_job": threads or max(1, (os.cpu_count() or 1) // workers),
        "size": size,
        "steps": steps,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "seconds_per_job": round(wall / jobs, 1),
        "jobs_per_hour": round(jobs / wall * 3600, 1),
        "previews": "on" if preview else "off",
        "preview_frames": frames,
        "preview_cost_pct": round(100 * preview_share, 2),
    }


def overhead(samples_count: int) -> dict:
    """Last input → engine called, with an idle worker and a no-op engine."""
    called: list[float] = []  # jobs run one after another, so in order

    def no_op(content, style, backbone, size, steps, **options):  # type: ignore[no-untyped-def]
        called.append(time.monotonic())
        return content

    real = execute.stylize_one
    execute.stylize_one = no_op  # type: ignore[assignment]
    bot = Bot(workers=1, size=64, steps=1, pretrained=True)
    delays = []
    try:
        for index in range(samples_count):
            content = Image.new("RGB", (64, 48), (10 * index, 0, 0))
            user, pressed = bot.submit("Lite", content, Image.new("RGB", (32, 32), "white"))
            bot.wait_result(user, timeout=120)
            delays.append(called[index] - pressed)
    finally:
        bot.close()
        execute.stylize_one = real  # type: ignore[assignment]
    return {
        "samples": samples_count,
        "median_s": round(statistics.median(delays), 3),
        "max_s": round(max(delays), 3),
        "all_s": [round(d, 3) for d in delays],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", default="lite,vgg")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--overhead-samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="per job (default: bot's)")
    parser.add_argument("--previews", default="on,off", help="on, off or both (on,off)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("NST_OFFLINE", "1")

    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "overhead": overhead(args.overhead_samples),
        "throughput": [],
    }
    print(f"overhead: {report['overhead']}", flush=True)
    for backbone in args.backbones.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            for preview in (p.strip() == "on" for p in args.previews.split(",")):
                row = throughput(
                    backbone, workers, args.size, args.steps, args.jobs, args.threads, preview
                )
                report["throughput"].append(row)
                print(row, flush=True)
    lines = [
        "| backbone | workers | threads/job | size | steps | jobs | previews | wall s | s/job "
        "| jobs/hour | preview frames | preview cost |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["throughput"]:
        lines.append(
            f"| {row['backbone']} | {row['workers']} | {row['threads_per_job']} | "
            f"{row['size']} | {row['steps']} | {row['jobs']} | {row['previews']} | "
            f"{row['wall_s']} | {row['seconds_per_job']} | {row['jobs_per_hour']} | "
            f"{row['preview_frames']} | {row['preview_cost_pct']}% |"
        )
    overhead_row = report["overhead"]
    lines.append("")
    lines.append(
        f"Bot overhead (last input → job start): median {overhead_row['median_s']} s, "
        f"max {overhead_row['max_s']} s over {overhead_row['samples']} jobs (target < 1 s)."
    )
    print("\n".join(lines))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bot_throughput.json").write_text(json.dumps(report, indent=2))
        (args.out / "bot_throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
