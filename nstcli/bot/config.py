"""Bot and worker configuration as dataclasses, validated once at start-up."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from nstcli import userdirs
from nstcli.engine.errors import InputError

DEFAULT_API_URL = "https://api.telegram.org"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"

# <bot id>:<secret>, as @BotFather hands it out (the secret is 35 characters in practice).
_TOKEN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{3,200}$")


def default_data_dir() -> Path:
    """A per-user folder that survives restarts (platformdirs: $XDG_DATA_HOME/nst/bot)."""
    return userdirs.data_dir("bot")


def check_token(token: str | None) -> str:
    """The token, stripped, or an `InputError` that never repeats the token itself."""
    if token is None or not token.strip():
        raise InputError(f"no bot token: pass --token or set ${TOKEN_ENV}")
    token = token.strip()
    if not _TOKEN.match(token):
        raise InputError(
            "the bot token is malformed: expected <digits>:<secret> as issued by @BotFather"
        )
    return token


def check_api_url(url: str) -> str:
    """A base URL such as https://api.telegram.org or http://127.0.0.1:8081 (no token)."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"--api-url must be an http(s) URL such as {DEFAULT_API_URL}, got {url!r}")
    if "{" in url:
        raise InputError("--api-url is a base URL; the /bot<token>/<method> part is added")
    return url.strip().rstrip("/")


def check_broker(url: str | None) -> str | None:
    if url is None:
        return None
    if urlparse(url).scheme not in ("redis", "rediss", "unix"):
        raise InputError(
            f"--broker must be a redis:// URL (e.g. redis://localhost:6379/0), got {url!r}"
        )
    if importlib.util.find_spec("redis") is None:  # an extra: only --broker needs it
        raise InputError("--broker needs the Redis client: pip install 'nst[redis]'")
    return url


MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """File sizes the Bot API server allows: Telegram's public one, or a self-hosted
    `telegram-bot-api --local`, which lets bots download and upload up to 2000 MB."""

    download: int = 20 * MB
    photo_upload: int = 10 * MB
    document_upload: int = 50 * MB

    @classmethod
    def for_server(cls, api_url: str, kind: str = "auto") -> Limits:
        """`kind` "public", "local", or "auto": public for api.telegram.org, else local."""
        if kind == "public" or (kind == "auto" and api_url.rstrip("/") == DEFAULT_API_URL):
            return cls()
        return cls(download=2000 * MB, photo_upload=10 * MB, document_upload=2000 * MB)


API_LIMITS = ("auto", "public", "local")


@dataclass(frozen=True)
class QueueConfig:
    """Where the task queue lives: SqliteHuey in `data_dir`, or RedisHuey at `broker`."""

    data_dir: Path
    broker: str | None = None
    name: str = "nst-bot"
    #: Longest pause between queue polls for SqliteHuey (Redis blocks instead).
    poll_delay: float = 0.2


@dataclass(frozen=True)
class WorkerConfig:
    """What a job worker needs, in the bot's process or in `nst worker`."""

    token: str
    api_url: str = DEFAULT_API_URL
    queue: QueueConfig = field(default_factory=lambda: QueueConfig(default_data_dir()))
    workers: int = 1
    #: Seconds between edits of a job's status message (Telegram allows ~1 msg/s per chat).
    progress_interval: float = 3.0
    #: False runs vgg/resnet with random weights: benchmarks only.
    pretrained: bool = True
    #: Seconds between a running job's "still alive" reports.
    heartbeat: float = 2.0
    #: CPU threads per job (None: the cores divided among the workers).
    threads: int | None = None
    #: Which file-size limits the Bot API server has (see `Limits.for_server`).
    api_limits: str = "auto"
    #: Where this process writes the heartbeat `nst health` reads (None: none written).
    heartbeat_file: Path | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be at least 1, got {self.threads}")
        if self.api_limits not in API_LIMITS:
            raise InputError(f"--api-limits must be one of {', '.join(API_LIMITS)}")

    @property
    def data_dir(self) -> Path:
        return self.queue.data_dir

    @property
    def limits(self) -> Limits:
        return Limits.for_server(self.api_url, self.api_limits)


@dataclass(frozen=True)
class ClipConfig:
    """What the bot accepts as a moving picture (GIF, video, video message) and how it
    runs one. The file itself is also bound by the server's download limit (`Limits`)."""

    #: Accept clips at all (False: they are refused as before).
    enabled: bool = True
    #: Frames per second a clip is subsampled to before anything else.
    fps: float = 12.0
    #: Longest clip, in seconds (at `fps`, at most `max_seconds * fps` frames).
    max_seconds: float = 10.0
    #: Longer side of a clip's frames (and at most the bot's `size`).
    max_side: int = 360
    #: A clip counts toward the hourly rate limit as one job per this many frames.
    frames_per_job: int = 24

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 60:
            raise InputError(f"clip fps must be above 0 and at most 60, got {self.fps:g}")
        if not 0 < self.max_seconds <= 600:
            raise InputError(f"clip length must be 0 to 600 s, got {self.max_seconds:g}")
        if self.max_side < 16 or self.frames_per_job < 1:
            raise InputError("clip frames need at least 16 px, and a job at least one frame")

    @property
    def max_frames(self) -> int:
        return max(1, round(self.max_seconds * self.fps))

    def weight(self, frames: int | None) -> int:
        """How many jobs a clip of `frames` frames counts as (1 for a still image)."""
        return max(1, -(-(frames or 1) // self.frames_per_job))


@dataclass(frozen=True)
class BotConfig:
    """Everything `nst serve-bot` was asked for."""

    worker: WorkerConfig
    allow_users: frozenset[int] = frozenset()
    max_queue: int = 20
    #: Longer side of results; users may pick this or smaller sizes.
    size: int = 512
    #: Default steps for every network (None: each network's own measured default).
    steps: int | None = None
    #: Jobs per user per hour (0: no limit).
    rate_limit: int = 10
    #: Long-poll seconds per getUpdates (tests use 1).
    poll_timeout: int = 20
    #: Threads handling updates (one user's updates always run in order on one of them).
    update_threads: int = 4
    #: Backbone buttons to offer (None: every backbone whose weights are here or downloadable).
    backbones: tuple[str, ...] | None = None
    #: Offer the "+ ×4 upscale" toggle.
    upscale: bool = True
    #: Offer the preview (the status message shows the image as it forms).
    preview: bool = True
    #: Hours a result's photo and style are kept for its follow-up buttons, then deleted
    #: (0: deleted on delivery, and results carry no follow-ups).
    keep_inputs: float = 24.0
    #: Moving pictures: limits and cost.
    clips: ClipConfig = field(default_factory=ClipConfig)

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise InputError(f"--max-queue must be at least 1, got {self.max_queue}")
        if self.size < 16:
            raise InputError(f"--size must be at least 16 pixels, got {self.size}")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps must be at least 1, got {self.steps}")
        if self.rate_limit < 0:
            raise InputError(f"--rate-limit must not be negative, got {self.rate_limit}")
        if not 0 <= self.keep_inputs <= 24 * 30:  # (NaN fails this too)
            raise InputError(f"--keep-inputs takes 0 to 720 hours, got {self.keep_inputs}")
        if self.worker.workers < 0:
            raise InputError(f"--workers must not be negative, got {self.worker.workers}")
        if self.worker.workers == 0 and self.worker.queue.broker is None:
            raise InputError("--workers 0 needs --broker: otherwise nothing would run the jobs")
        if self.backbones is not None:
            from nstcli.engine.backbones import BACKBONES

            unknown = [name for name in self.backbones if name not in BACKBONES]
            if unknown or not self.backbones:
                raise InputError(
                    f"--backbones takes a comma-separated list of {', '.join(BACKBONES)}, "
                    f"got {','.join(self.backbones) or 'nothing'}"
                )

    @property
    def data_dir(self) -> Path:
        return self.worker.data_dir

    @property
    def keep_seconds(self) -> float:
        return self.keep_inputs * 3600
