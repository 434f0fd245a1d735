"""Keep the bot token out of every log line, exception text and message.

The token leaks through URLs (`/bot<token>/getMe`, file URLs), urllib3's DEBUG log and
`requests` exceptions. Rather than trusting every call site, a log-record factory masks
each record when it is created, and `mask()` is applied to any text we show or store.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed_factory: Callable[..., logging.LogRecord] | None = None


def add_secret(token: str) -> None:
    """Register `token` (and its secret half, which appears URL-quoted or alone)."""
    with _lock:
        _secrets.add(token)
        if ":" in token:
            _secrets.add(token.split(":", 1)[1])


def clear_secrets() -> None:
    with _lock:
        _secrets.clear()


def mask(text: object) -> str:
    """`text` as a string with every registered secret replaced by `***`."""
    result = str(text)
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret and secret in result:
            result = result.replace(secret, MASK)
    return result


def describe(error: BaseException) -> str:
    """A one-line, token-free description of `error` for logs and users."""
    return mask(f"{type(error).__name__}: {error}")


def install_log_masking() -> None:
    """Mask every log record (message, arguments and traceback) at creation time.

    Also keeps urllib3's connection log, which prints full request paths, off DEBUG.
    """
    global _installed_factory
    if _installed_factory is not None:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = mask(text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed_factory = factory
    for name in ("urllib3", "urllib3.connectionpool", "requests"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
