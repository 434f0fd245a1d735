"""Rich progress bars fed by the engine's step callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nstcli.cli.common import err_console
from nstcli.engine.result import StepRecord
from nstcli.engine.stylize import ProgressCallback


def _noop(record: StepRecord, total: int) -> None:
    return None


def losses_text(record: StepRecord) -> str:
    """'loss 12.3 (content 1.2, style 11.1)' plus a marker when a spike was damped."""
    spike = " [yellow]spike→lr↓[/]" if record.spike else ""
    return (
        f"loss {record.total:.3g} (content {record.content:.3g}, style {record.style:.3g}){spike}"
    )


def bar_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every step bar: name, bar, n/N, losses, elapsed, ETA."""
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


@contextlib.contextmanager
def step_progress(
    title: str, enabled: bool = True, stages: Sequence[tuple[str, int]] = ()
) -> Iterator[ProgressCallback]:
    """Yield an `on_step` callback that advances bars showing step, losses and ETA.

    With `stages` (name, steps) — e.g. the whole-image scales, then the tiles — each stage
    gets its own bar under the overall one; records whose `stage` starts with "tile" go to
    a stage named "tiles", the rest to the first stage.
    """
    if not enabled:
        yield _noop
        return
    progress = Progress(*bar_columns(), console=err_console, transient=False)
    with progress:
        overall = progress.add_task(title, total=None, losses="loading…")
        stage_tasks = {
            name: progress.add_task(f"  {name}", total=steps, losses="")
            for name, steps in stages
        } if len(stages) > 1 else {}  # fmt: skip
        done: dict[str, int] = dict.fromkeys(stage_tasks, 0)

        def on_step(record: StepRecord, total: int) -> None:
            progress.update(overall, total=total, completed=record.step, losses=losses_text(record))
            if stage_tasks:
                name = "tiles" if record.stage.startswith("tile") else next(iter(stage_tasks))
                done[name] += 1
                progress.update(stage_tasks[name], completed=done[name], losses=record.stage)

        yield on_step
