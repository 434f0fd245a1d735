"""Rich progress bars fed by the engine's step callback, laid out for 80 columns.

One line per run: name, bar, steps (a clip's: frames), stage ("256px", "tile 3/20"), one
short loss figure, elapsed time and ETA — about 75 characters. The bar and the ETA follow
`StepRecord.work_done` (steps weighted by their pixel count), not the step count: the
first scales of a multi-scale run are cheap, and counting steps made early ETAs ~40% low.
The full losses are in `--json`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nstcli.cli.common import err_console

if TYPE_CHECKING:
    from nstcli.engine.clip.pipeline import ClipCallback, ClipProgress
    from nstcli.engine.result import StepRecord
    from nstcli.engine.stylize import ProgressCallback


def _noop(record: StepRecord, total: int) -> None:
    return None


def loss_text(record: StepRecord) -> str:
    """'loss 3.2e+05', with a yellow ↯ when the spike guard rolled back and cut the step."""
    spike = "[yellow]↯[/]" if record.spike else ""
    return f"loss {record.total:.2g}{spike}"


def bar_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every step bar; the fields are set by `step_fields`."""
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=10),
        TextColumn("{task.fields[steps]:>7}"),
        TextColumn("{task.fields[stage]:<10}"),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


def step_fields(record: StepRecord, total: int) -> dict[str, object]:
    """Task updates for one step: pixel-weighted completion (of 1.0) and the text fields."""
    return {
        "completed": record.work_done,
        "steps": f"{record.step}/{total}",
        "stage": record.stage,
        "loss": loss_text(record),
    }


#: Fields of a task before its first step.
IDLE_FIELDS = {"steps": "", "stage": "", "loss": ""}


@contextlib.contextmanager
def step_progress(title: str, enabled: bool = True) -> Iterator[ProgressCallback]:
    """Yield an `on_step` callback that advances one bar showing steps, stage, loss, ETA."""
    if not enabled:
        yield _noop
        return
    progress = Progress(*bar_columns(), console=err_console, transient=False)
    with progress:
        task = progress.add_task(title, total=1.0, **(IDLE_FIELDS | {"loss": "loading…"}))

        def on_step(record: StepRecord, total: int) -> None:
            progress.update(task, **step_fields(record, total))

        yield on_step


@contextlib.contextmanager
def clip_progress(title: str, enabled: bool = True) -> Iterator[ClipCallback]:
    """Yield an `on_progress` callback for a clip run: one bar over the whole clip (frames
    done, the current frame's step, loss, elapsed, ETA from pixel-weighted work)."""
    if not enabled:
        yield lambda progress: None
        return
    progress = Progress(*bar_columns(), console=err_console, transient=False)
    with progress:
        task = progress.add_task(title, total=1.0, **(IDLE_FIELDS | {"loss": "loading…"}))

        def on_progress(event: ClipProgress) -> None:
            fields: dict[str, object] = {
                "completed": event.work_done,
                "steps": f"{event.frame - (event.finished is None)}/{event.frames}",
            }
            if event.record is not None:
                fields |= {"stage": f"frame {event.frame}", "loss": loss_text(event.record)}
            progress.update(task, **fields)

        yield on_progress
