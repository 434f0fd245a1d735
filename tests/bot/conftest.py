"""Fixtures: the fake Bot API, a fast engine stub, and the real bot polling in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from nstcli.bot import execute, texts
from nstcli.bot.app import serve_bot
from nstcli.bot.config import BotConfig, QueueConfig, WorkerConfig
from tests.bot.fakeapi import TOKEN, FakeBotAPI
from tests.bot.stub_engine import StubEngine


#: Distinct solid colours: a result's colour tells whose content it came from.
def colour_of(user: int) -> tuple[int, int, int]:
    return ((user * 67) % 256, (user * 151) % 256, (user * 29 + 90) % 256)


def solid(user: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    return Image.new("RGB", size, colour_of(user))


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI().start()
    yield server
    server.stop()


@pytest.fixture
def engine(monkeypatch) -> StubEngine:
    stub = StubEngine()
    monkeypatch.setattr(execute, "stylize_one", stub)
    return stub


@dataclass
class RunningBot:
    api: FakeBotAPI
    config: BotConfig
    stop: threading.Event
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def close(self, timeout: float = 40) -> None:
        self.stop.set()
        self.api.answer_polls_at_once()  # not a second's long poll per shut-down bot
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the bot did not shut down"
        if self.errors:
            raise self.errors[0]


def bot_config(api: FakeBotAPI, data_dir: Path, **overrides) -> BotConfig:
    worker_fields = {
        "workers",
        "progress_interval",
        "pretrained",
        "heartbeat",
        "broker",
        "threads",
        "api_limits",
        "heartbeat_file",
    }
    worker_kwargs = {k: overrides.pop(k) for k in list(overrides) if k in worker_fields}
    broker = worker_kwargs.pop("broker", None)
    worker = WorkerConfig(
        token=TOKEN,
        api_url=api.url,
        queue=QueueConfig(data_dir=data_dir, broker=broker, poll_delay=0.1),
        progress_interval=worker_kwargs.pop("progress_interval", 0.05),
        # one thread per job: on a shared, busy CPU two threads are several times slower
        threads=worker_kwargs.pop("threads", 1),
        # the fake server stands in for Telegram's public one
        api_limits=worker_kwargs.pop("api_limits", "public"),
        **worker_kwargs,
    )
    defaults = {
        "poll_timeout": 1,
        "size": 64,
        "steps": 10,
        "rate_limit": 0,
        "update_threads": 4,
        # the stub engine runs any backbone; previews have their own tests
        "backbones": ("vgg", "resnet", "lite"),
        "preview": False,
    }
    defaults.update(overrides)
    return BotConfig(worker=worker, **defaults)


@pytest.fixture
def start_bot(api, tmp_path) -> Iterator:
    running: list[RunningBot] = []

    def start(data_dir: Path | None = None, **overrides) -> RunningBot:
        config = bot_config(api, data_dir or tmp_path / "bot-data", **overrides)
        stop = threading.Event()
        bot = RunningBot(api, config, stop, None)  # type: ignore[arg-type]

        def run() -> None:
            try:
                serve_bot(config, stop)
            except BaseException as error:
                bot.errors.append(error)

        bot.thread = threading.Thread(target=run, name="test-bot", daemon=True)
        polls = len(api.sent("getUpdates"))
        api.answer_polls_at_once(False)  # a bot closed before made them prompt
        bot.thread.start()
        api.wait_for(
            lambda: len(api.sent("getUpdates")) > polls or bot.errors, 30, "the bot to poll"
        )
        if bot.errors:
            raise bot.errors[0]
        running.append(bot)
        return bot

    yield start
    for bot in running:
        if bot.thread.is_alive():
            bot.close()


class User:
    """A simulated Telegram user talking to the bot through the fake server."""

    def __init__(self, api: FakeBotAPI, user_id: int) -> None:
        self.api, self.id = api, user_id

    def say(self, text: str) -> None:
        self.api.user_text(self.id, text)

    def photo(self, image: Image.Image | None = None) -> None:
        self.api.user_photo(self.id, image or solid(self.id))

    def texts(self) -> list[str]:
        return self.api.texts_to(self.id)

    def wait_text(self, fragment: str, timeout: float = 30) -> str:
        return self.api.wait_for(
            lambda: next((t for t in self.texts() if fragment in t), None),
            timeout,
            lambda: f"user {self.id} to be told {fragment!r} (got {self.texts()})",
        )

    def press(self, label: str, timeout: float = 30) -> None:
        """Press the newest button whose label ends with `label`."""
        found = self.api.wait_for(
            lambda: [b for b in self.api.buttons(self.id) if b[1].endswith(label)],
            timeout,
            f"a {label!r} button for user {self.id}",
        )
        message_id, _, data = found[-1]
        self.api.user_press(self.id, message_id, data)

    def results(self) -> list:
        return self.api.results_to(self.id)

    def wait_results(self, count: int = 1, timeout: float = 60) -> list:
        return self.api.wait_for(
            lambda: len(self.results()) >= count and self.results(),
            timeout,
            f"{count} result(s) for user {self.id} (texts: {self.texts()})",
        )

    def submit(
        self,
        choice: str = "Lite",
        content: Image.Image | None = None,
        toggles: tuple[str, ...] = (),
        patience: float = 30,
    ) -> None:
        """Photo, style, option `toggles` switched on, and a press on `choice`: a whole job.

        `patience` is how long each reply may take; tests that load the bot on purpose (many
        users, kill -9 and restarts) pass more, since they judge what is lost, not latency.
        """
        asked = self.texts().count(texts.GOT_STYLE)
        before = len(self.texts())
        self.photo(content)
        reply = self.api.wait_for(
            lambda: next(
                (
                    t
                    for t in self.texts()[before:]
                    if t in (texts.GOT_CONTENT, texts.ASK_PHOTO_OR_STYLE)
                ),
                None,
            ),
            patience,
            lambda: f"user {self.id} to acknowledge the photo (got {self.texts()[before:]})",
        )
        if reply == texts.ASK_PHOTO_OR_STYLE:  # after a result: say it is a new photo
            self.press(texts.AS_NEW_PHOTO)
            self.wait_text("Now send the style")
        self.photo(Image.new("RGB", (20, 20), (250, 250, 250)))
        # the job keyboard, not an older one (/settings also has a "Lite" button)
        self.api.wait_for(
            lambda: self.texts().count(texts.GOT_STYLE) > asked,
            2 * patience,
            f"user {self.id}'s keyboard",
        )
        for label in toggles:
            self.press(label)
            self.api.wait_for(
                lambda label=label: any(b[1] == f"☑ {label}" for b in self.api.buttons(self.id)),
                20,
                f"{label} on",
            )
        self.press(choice)
