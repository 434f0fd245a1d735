"""`nst serve-bot`, `nst worker` and `nst health`: thin Typer layers over `nstcli.bot`."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from nstcli.bot.config import DEFAULT_API_URL, BotConfig, WorkerConfig
from nstcli.bot.heartbeat import ENV as HEARTBEAT_ENV
from nstcli.cli.common import err_console, user_errors

_TOKEN_HELP = "Bot token from @BotFather. Never printed."
_API_HELP = (
    "Base URL of the Bot API server, e.g. a self-hosted telegram-bot-api "
    "(sets both the method and the file-download URL)."
)
_DATA_HELP = (
    "Folder for the job store, the queue and downloads. (default: the per-user data "
    "folder, e.g. ~/.local/share/nst/bot)"
)
_HEARTBEAT_HELP = (
    "Heartbeat file: serve-bot and worker prove there that they poll and take jobs; "
    "`nst health` (a container's HEALTHCHECK) reads it."
)
_BROKER_HELP = "Redis URL (redis://host:6379/0): share the queue with `nst worker`s elsewhere."

Token = Annotated[
    str | None,
    typer.Option("--token", envvar="TELEGRAM_BOT_TOKEN", help=_TOKEN_HELP, show_default=False),
]
ApiUrl = Annotated[str, typer.Option("--api-url", help=_API_HELP)]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="NST_DATA_DIR", help=_DATA_HELP, show_default=False),
]
HeartbeatFile = Annotated[
    Path | None,
    typer.Option(
        "--heartbeat-file", envvar=HEARTBEAT_ENV, help=_HEARTBEAT_HELP, show_default=False
    ),
]
Broker = Annotated[str | None, typer.Option("--broker", help=_BROKER_HELP, show_default=False)]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log each job and request.")]
Threads = Annotated[
    int | None,
    typer.Option(
        help="CPU threads per job. (default: the cores divided among --workers)",
        show_default=False,
    ),
]
ApiLimits = Annotated[
    str,
    typer.Option(
        "--api-limits",
        help="File-size limits of the Bot API server: public (20 MB down, 50 MB up), local "
        "(a self-hosted server: 2000 MB), or auto (public only for api.telegram.org).",
    ),
]
ProgressInterval = Annotated[
    float, typer.Option(help="Seconds between progress edits of a status message.", hidden=True)
]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _stop_on_signals() -> threading.Event:
    """SIGINT/SIGTERM end the wait in the main thread; a second signal is not needed."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        err_console.print(f"[yellow]{signal.Signals(signum).name}[/]: shutting down cleanly")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _worker_config(
    token: str | None,
    api_url: str,
    data_dir: Path | None,
    broker: str | None,
    workers: int,
    progress_interval: float,
    threads: int | None = None,
    api_limits: str = "auto",
    heartbeat_file: Path | None = None,
):  # type: ignore[no-untyped-def]
    from nstcli.bot.config import (
        QueueConfig,
        check_api_url,
        check_broker,
        check_token,
        default_data_dir,
    )

    return WorkerConfig(
        token=check_token(token),
        api_url=check_api_url(api_url),
        queue=QueueConfig(
            data_dir=(data_dir or default_data_dir()).expanduser(), broker=check_broker(broker)
        ),
        workers=workers,
        progress_interval=progress_interval,
        threads=threads,
        api_limits=api_limits,
        heartbeat_file=heartbeat_file,
    )


def serve_bot(
    token: Token = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    data_dir: DataDir = None,
    allow_user: Annotated[
        list[int] | None,
        typer.Option(
            "--allow-user",
            help="Only answer this Telegram user id (repeatable).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Job workers in this process (0: only `nst worker`s run jobs).")
    ] = WorkerConfig.workers,
    broker: Broker = None,
    threads: Threads = None,
    max_queue: Annotated[
        int, typer.Option(help="Most unfinished jobs at once.")
    ] = BotConfig.max_queue,
    size: Annotated[
        int, typer.Option(help="Longest result side users may pick, in pixels.")
    ] = BotConfig.size,
    steps: Annotated[
        int | None,
        typer.Option(
            help="Default optimisation steps. (default: each network's own, see `nst layers`)",
            show_default=False,
        ),
    ] = None,
    rate_limit: Annotated[
        int, typer.Option(help="Jobs per user per hour (0: unlimited).")
    ] = BotConfig.rate_limit,
    poll_timeout: Annotated[
        int, typer.Option(help="Long-poll seconds per getUpdates.", hidden=True)
    ] = BotConfig.poll_timeout,
    backbones: Annotated[
        str | None,
        typer.Option(
            help="Networks to offer, e.g. vgg,lite. (default: those whose weights are here "
            "or downloadable)",
            show_default=False,
        ),
    ] = None,
    upscale: Annotated[
        bool, typer.Option(help="Offer the '+ ×4 upscale' toggle.")
    ] = BotConfig.upscale,
    preview: Annotated[
        bool, typer.Option(help="Offer a preview of the image as it forms (users toggle it).")
    ] = BotConfig.preview,
    keep_inputs: Annotated[
        float,
        typer.Option(
            help="Hours a result's photo and style image are kept for its follow-up buttons "
            "(less/more style, ×4, another network), then deleted. 0: delete on delivery, "
            "no follow-ups."
        ),
    ] = BotConfig.keep_inputs,
    api_limits: ApiLimits = WorkerConfig.api_limits,
    heartbeat_file: HeartbeatFile = None,
    progress_interval: ProgressInterval = WorkerConfig.progress_interval,
    verbose: Verbose = False,
) -> None:
    """Run the Telegram bot: users send a photo and a style image and get the result back."""
    _logging(verbose)
    with user_errors():
        from nstcli.bot.app import serve_bot as run

        config = BotConfig(
            worker=_worker_config(
                token,
                api_url,
                data_dir,
                broker,
                workers,
                progress_interval,
                threads,
                api_limits,
                heartbeat_file,
            ),
            allow_users=frozenset(allow_user or ()),
            max_queue=max_queue,
            size=size,
            steps=steps,
            rate_limit=rate_limit,
            poll_timeout=poll_timeout,
            backbones=(
                tuple(name.strip() for name in backbones.split(",") if name.strip())
                if backbones is not None
                else None
            ),
            upscale=upscale,
            preview=preview,
            keep_inputs=keep_inputs,
        )
        run(config, _stop_on_signals())


def worker(
    broker: Broker = None,
    token: Token = None,
    api_url: ApiUrl = DEFAULT_API_URL,
    data_dir: DataDir = None,
    workers: Annotated[
        int, typer.Option(help="Jobs run at once by this process.")
    ] = WorkerConfig.workers,
    threads: Threads = None,
    api_limits: ApiLimits = WorkerConfig.api_limits,
    heartbeat_file: HeartbeatFile = None,
    progress_interval: ProgressInterval = WorkerConfig.progress_interval,
    verbose: Verbose = False,
) -> None:
    """Run bot jobs from a shared queue (--broker redis://...), e.g. on another machine."""
    _logging(verbose)
    with user_errors():
        from nstcli.bot.app import run_worker

        config = _worker_config(
            token,
            api_url,
            data_dir,
            broker,
            workers,
            progress_interval,
            threads,
            api_limits,
            heartbeat_file,
        )
        if config.workers < 1:
            raise typer.BadParameter("--workers must be at least 1")
        run_worker(config, _stop_on_signals())


def health(heartbeat_file: HeartbeatFile = None) -> None:
    """Exit 0 if the bot polls and its workers take jobs, 1 if not (a HEALTHCHECK)."""
    with user_errors():
        from nstcli.bot.heartbeat import check
        from nstcli.engine.errors import InputError

        if heartbeat_file is None:
            raise InputError(f"no heartbeat to read: pass --heartbeat-file or set ${HEARTBEAT_ENV}")
        verdict = check(heartbeat_file)
    typer.echo(verdict.text)
    raise typer.Exit(0 if verdict.healthy else 1)
