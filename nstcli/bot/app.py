"""Process lifecycles: `serve_bot` (polling + store + optional in-process workers) and
`run_worker` (workers only). Both return when `stop` is set, after a clean shutdown:
stop taking updates, interrupt running jobs between steps (they resume on the next
start), and wait for the worker threads. `serve_bot` holds its data dir exclusively and
ends with an `InputError` when Telegram reports another poller for the token (409).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from urllib.parse import urlparse

import telebot
from telebot import apihelper, types

from nstcli.bot import choices, texts
from nstcli.bot.actions import Actions
from nstcli.bot.config import BotConfig, WorkerConfig
from nstcli.bot.files import FileCache
from nstcli.bot.heartbeat import JOBS, JOBS_WITHIN, POLLING, ProcessHeartbeat, polling_within
from nstcli.bot.i18n import LANGUAGES, translator
from nstcli.bot.instance import exclusive_data_dir
from nstcli.bot.intake import PollingBot
from nstcli.bot.jobs import JobRunner
from nstcli.bot.masking import add_secret, install_log_masking
from nstcli.bot.service import BotService, build_menu
from nstcli.bot.store import Store
from nstcli.bot.taskqueue import make_huey, register_job_task, start_consumer
from nstcli.bot.telegram_io import TelegramError, TelegramIO, configure_api
from nstcli.bot.tracking import JobTracker
from nstcli.engine.errors import InputError
from nstcli.engine.weights import offline_from_env

log = logging.getLogger("nstcli.bot")


def _prepare(config: WorkerConfig) -> None:
    add_secret(config.token)
    install_log_masking()
    configure_api(config.api_url)
    config.data_dir.mkdir(parents=True, exist_ok=True)


def check_token_with_telegram(tg: TelegramIO) -> str:
    """getMe once: a rejected token is a clear start-up error; returns the bot's name."""
    try:
        me = tg.call("getMe", tg.bot.get_me)
    except TelegramError as error:
        if any(code in str(error) for code in ("Unauthorized", "Not Found", "401", "404")):
            raise InputError("Telegram rejected the bot token (401/404): check it") from None
        raise InputError(f"cannot reach the Bot API: {error}") from None
    return me.username or str(me.id)


def set_command_menu(tg: TelegramIO) -> None:
    """The "/" menu in each language we speak (best effort: the bot works without it)."""
    for language in LANGUAGES:
        _ = translator(language)
        commands = [types.BotCommand(name, _(about)) for name, about in texts.COMMANDS]
        code = None if language == "en" else language  # English is everyone else's default
        try:
            tg.call("setMyCommands", tg.bot.set_my_commands, commands, language_code=code)
        except TelegramError as error:
            log.warning("could not set the command menu (%s): %s", language, error)


def offered_backbones(config: BotConfig) -> list[str]:
    """--backbones, else every backbone whose weights are here or can be downloaded."""
    if config.backbones is not None:
        return list(config.backbones)
    offered = choices.obtainable_backbones(config.worker.pretrained, offline_from_env())
    if not offered:
        raise InputError("no backbone's weights are available here: see `nst weights`")
    return offered


def _runner(
    config: WorkerConfig,
    tg: TelegramIO,
    huey,  # type: ignore[no-untyped-def]
    shutdown: threading.Event,
    alive: Callable[[], None] | None,
) -> JobRunner:
    from nstcli.bot.taskqueue import JobSignals

    cores = os.cpu_count() or 1
    return JobRunner(
        tg=tg,
        signals=JobSignals(huey),
        files=FileCache(config.data_dir / "files", tg),
        shutdown=shutdown,
        progress_interval=config.progress_interval,
        heartbeat=config.heartbeat,
        pretrained=config.pretrained,
        threads=config.threads or max(1, cores // max(1, config.workers)),
        alive=alive,
    )


def describe_queue(config: WorkerConfig) -> str:
    broker = config.queue.broker
    if broker:
        parsed = urlparse(broker)  # never show a password from the URL
        return f"redis at {parsed.hostname}:{parsed.port or 6379}"
    return f"sqlite at {config.data_dir / 'queue.sqlite3'}"


def serve_bot(config: BotConfig, stop: threading.Event) -> None:
    worker = config.worker
    _prepare(worker)
    parts = {POLLING: polling_within(config.poll_timeout)}
    if worker.workers > 0:
        parts[JOBS] = JOBS_WITHIN
    with (
        exclusive_data_dir(config.data_dir),
        ProcessHeartbeat(worker.heartbeat_file, "bot", parts) as pulse,
    ):
        _serve(config, stop, pulse)


def _serve(config: BotConfig, stop: threading.Event, pulse: ProcessHeartbeat) -> None:
    worker = config.worker
    store = Store(config.data_dir / "bot.sqlite3")
    huey = make_huey(worker.queue)
    bot = PollingBot(worker.token)
    bot.polled = pulse.vouch(POLLING)
    tg = TelegramIO(bot, limits=worker.limits)
    shutdown = threading.Event()
    jobs_alive = pulse.vouch(JOBS)
    runner = _runner(worker, tg, huey, shutdown, jobs_alive) if worker.workers > 0 else None
    if runner is not None:  # this bot's own tracker deletes kept inputs when they expire
        runner.keep_inputs = config.keep_seconds > 0
    task = register_job_task(huey, runner)
    files = FileCache(config.data_dir / "files", tg)
    tracker = JobTracker(
        store, tg, huey, task, files, worker.heartbeat, keep_inputs=config.keep_seconds
    )
    menu = build_menu(config, offered_backbones(config))
    service = BotService(Actions(config, store, tg, tracker, menu, files))
    bot.receive, bot.sink = service.receive, service.dispatch
    name = check_token_with_telegram(tg)
    set_command_menu(tg)
    tracker.resume()
    consumer = (
        start_consumer(huey, worker.workers, worker.queue.poll_delay, jobs_alive)
        if runner
        else None
    )
    service.start()

    def poll() -> None:
        try:
            bot.infinity_polling(
                timeout=config.poll_timeout + 10,
                long_polling_timeout=config.poll_timeout,
                allowed_updates=["message", "callback_query"],
                logger_level=logging.ERROR,
            )
        finally:
            if bot.conflict:  # polling stopped itself: end the process with the reason
                stop.set()

    poller = threading.Thread(target=poll, name="nst-polling", daemon=True)
    poller.start()
    log.warning(
        "bot @%s polling %s; %d in-process worker(s); queue: %s; offering %s",
        name,
        urlparse(apihelper.API_URL or "").netloc,
        worker.workers,
        describe_queue(worker),
        ", ".join([key for key, _label in menu.networks] + [key for key, *_ in menu.jobs]),
    )
    try:
        stop.wait()
    finally:
        log.warning("shutting down: no new updates; running jobs pause and resume on restart")
        bot.stop_polling()
        poller.join(config.poll_timeout + 15)
        service.stop()
        shutdown.set()
        if consumer is not None:
            consumer.stop(graceful=True)
        store.close()
    if bot.conflict:
        raise InputError(
            "Telegram answered 409 Conflict: another process is polling this bot token "
            f"(or a webhook is set): {bot.conflict}"
        )


def run_worker(config: WorkerConfig, stop: threading.Event) -> None:
    _prepare(config)
    huey = make_huey(config.queue)
    tg = TelegramIO(telebot.TeleBot(config.token, threaded=False), limits=config.limits)
    name = check_token_with_telegram(tg)
    shutdown = threading.Event()
    with ProcessHeartbeat(config.heartbeat_file, "worker", {JOBS: JOBS_WITHIN}) as pulse:
        alive = pulse.vouch(JOBS)
        register_job_task(huey, _runner(config, tg, huey, shutdown, alive))
        consumer = start_consumer(huey, max(1, config.workers), config.queue.poll_delay, alive)
        log.warning(
            "worker for @%s: %d worker(s); queue: %s", name, config.workers, describe_queue(config)
        )
        try:
            stop.wait()
        finally:
            log.warning("worker shutting down: running jobs pause and resume elsewhere")
            shutdown.set()
            consumer.stop(graceful=True)
