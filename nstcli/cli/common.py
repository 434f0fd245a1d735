"""Shared CLI plumbing: consoles, error-to-exit-code mapping, option parsing helpers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.config import (
    DEVICE_CHOICES,
    INITS,
    OPTIMIZERS,
    PARAMETERIZATIONS,
    POOLINGS,
    PRECISIONS,
)
from nstcli.engine.errors import InputError, NstError

# Nothing here or in any command module imports torch at start-up: `nst --help`, `--version`
# and every TAB of shell completion would wait seconds for it. Commands import the engine
# modules that need torch inside their functions.

# Choice types for Typer, built from the engine's own lists so they cannot drift apart.
Backbone = Enum("Backbone", {name: name for name in BACKBONE_FACTS}, type=str)
Optimizer = Enum("Optimizer", {name: name for name in OPTIMIZERS}, type=str)
Init = Enum("Init", {name: name for name in INITS}, type=str)
Device = Enum("Device", {name: name for name in DEVICE_CHOICES}, type=str)
Pooling = Enum("Pooling", {name: name for name in POOLINGS}, type=str)
Precision = Enum("Precision", {name: name for name in PRECISIONS}, type=str)
Parameterization = Enum("Parameterization", {name: name for name in PARAMETERIZATIONS}, type=str)

#: Progress, messages and errors go to stderr so stdout stays clean for `--json`.
err_console = Console(stderr=True)
out_console = Console()


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn engine errors into one red line and their exit code; Ctrl-C into exit 130."""
    try:
        yield
    except NstError as error:
        err_console.print(
            f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True
        )
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: nothing was written")
        raise typer.Exit(130) from None


def parse_layers(value: str | None) -> tuple[str, ...] | None:
    """'conv1_1,conv2_1' → ('conv1_1', 'conv2_1'); None or '' → None (backbone default)."""
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_floats(value: str | None, option: str) -> tuple[float, ...] | None:
    """'0.7,0.3' → (0.7, 0.3); a non-number is a clear error naming the option."""
    if not value:
        return None
    try:
        return tuple(float(part) for part in value.split(","))
    except ValueError:
        raise InputError(f"{option} expects comma-separated numbers, got {value!r}") from None


_UNITS = {
    "": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6,
    "mib": 2**20, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tib": 2**40,
}  # fmt: skip


def parse_bytes(value: str | None, option: str) -> int | None:
    """'4GiB', '512MiB', '2G', '1.5gb', '1000000' → bytes; a bad value names the option."""
    if not value:
        return None
    text = value.strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if amount <= 0 or unit not in _UNITS:
        raise InputError(f"{option} expects a size such as 4GiB or 512MiB, got {value!r}")
    return int(amount * _UNITS[unit])


def use_weights_dir(folder: Path | None) -> None:
    """`--weights-dir` (Typer also fills it from $NST_WEIGHTS_DIR): the engine's weight
    lookup reads that variable, so the option simply sets it for this process."""
    if folder is not None:
        os.environ["NST_WEIGHTS_DIR"] = str(folder)
