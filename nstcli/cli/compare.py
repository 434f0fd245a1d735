"""`nst compare`: the same job through several backbones, as one contact sheet and a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

import nstcli.cli.stylize as stylize_command
from nstcli.cli.common import err_console, out_console, use_weights_dir, user_errors
from nstcli.cli.options import (
    CLIP_OPTIONS,
    borrowed_names,
    config_from_options,
    with_options_of,
)
from nstcli.cli.progress import IDLE_FIELDS, bar_columns, step_fields
from nstcli.engine.backbone_facts import BACKBONE_FACTS
from nstcli.engine.errors import InputError

if TYPE_CHECKING:  # the engine (torch) is imported when the command runs, not at start-up
    from nstcli.engine.compare import ComparePlan, Comparison, Entry, Job, Sweep
    from nstcli.engine.result import StepRecord

#: `nst stylize` parameters that compare replaces with its own (several backbones, one
#: weights file each, a sheet instead of one image, never downloading mid-comparison).
REPLACED = (
    "content", "styles", "output", "backbone", "weights", "offline", "quiet", "as_json",
    # stylize's per-output extras, which a contact sheet of several results has no use for
    "save_every", "gif", "depth", "mask", "upscale",
    # clips are stylised by `nst stylize` only
    *CLIP_OPTIONS,
)  # fmt: skip


def default_output(content: Path, style: Path) -> Path:
    """`tubingen_starry_night_compare.png` in the current folder."""
    return Path(f"{content.stem}_{style.stem}_compare.png")


def result_path(sheet: Path, job: Job, sweep: Sweep | None) -> Path:
    """Each result beside the sheet: `SHEET_vgg.png`, or `SHEET_vgg_style-weight-1e5.png`."""
    from nstcli.engine.compare import format_value

    name = f"{sheet.stem}_{job.backbone}"
    if sweep is not None and job.sweep_value is not None:
        name += f"_{sweep.option.replace('_', '-')}-{format_value(job.sweep_value)}"
    return sheet.with_name(name + sheet.suffix)


def parse_weights(values: list[str] | None) -> dict[str, str]:
    """['vgg=/w/vgg.pth', 'vgg=torchvision', …] → {'vgg': '/w/vgg.pth', …}: a weight set
    name or a file for each backbone named."""
    chosen: dict[str, str] = {}
    for value in values or []:
        name, sep, weights = value.partition("=")
        name = name.strip()
        if not sep or not name or not weights.strip():
            raise InputError(
                f"--weights {value!r}: expected BACKBONE=SET or BACKBONE=FILE, "
                "e.g. vgg=torchvision or vgg=my-vgg19.pth"
            )
        if name in chosen:
            raise InputError(f"--weights: {name} is given twice")
        chosen[name] = weights.strip()
    return chosen


def job_title(job: Job, sweep: Sweep | None) -> str:
    if sweep is not None and job.sweep_value is not None:
        return f"{job.backbone} {sweep.label(job.sweep_value)}"
    return job.backbone


class ProgressObserver:
    """One Rich bar per job plus an overall bar counting every step of every job.

    Implements every hook of `engine.compare.CompareObserver` (not subclassed, so this
    module loads without the engine).
    """

    def __init__(self, progress: Progress, planned: ComparePlan) -> None:
        self.progress = progress
        self.sweep = planned.sweep
        steps = {job: (job.config.steps or 0) if job.config else 0 for job in planned.jobs}
        self.total = sum(steps.values())
        self.done: dict[Job, int] = {}
        self.overall = progress.add_task("all", total=self.total, **IDLE_FIELDS)
        self.tasks: dict[Job, TaskID] = {
            job: progress.add_task(
                job_title(job, self.sweep), total=1.0, start=False,
                **(IDLE_FIELDS | {"loss": "waiting"}),
            )
            for job in planned.jobs
        }  # fmt: skip

    def loading(self, job: Job) -> None:
        self.progress.start_task(self.tasks[job])
        self.progress.update(self.tasks[job], loss="loading…")

    def step(self, job: Job, record: StepRecord, total: int) -> None:
        task = self.tasks[job]
        if not self.progress.tasks[task].started:
            self.progress.start_task(task)
        self.done[job] = record.step
        self.progress.update(task, **step_fields(record, total))
        done = sum(self.done.values())
        self.progress.update(self.overall, completed=done, steps=f"{done}/{self.total}")

    def finished(self, entry: Entry) -> None:
        task = self.tasks[entry.job]
        if entry.ran:
            self.progress.stop_task(task)
            return
        steps = entry.job.config.steps if entry.job.config else 0
        self.total -= (steps or 0) - self.done.get(entry.job, 0)
        self.progress.update(task, completed=0, loss="[yellow]skipped[/] (see below)")
        self.progress.update(self.overall, total=max(1, self.total))


@with_options_of(stylize_command.stylize, exclude=REPLACED)
def compare(
    content: Annotated[
        Path, typer.Argument(help="Photo whose layout is kept.", show_default=False)
    ],
    style: Annotated[
        Path,
        typer.Argument(
            help="Painting whose style is applied: an image file or a gallery name (`nst styles`).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help=(
                "Contact sheet (.png, .jpg, .webp); each result is saved beside it as "
                "SHEET_BACKBONE.png. (default: CONTENT_STYLE_compare.png)"
            ),
            show_default=False,
        ),
    ] = None,
    backbones: Annotated[
        str,
        typer.Option(
            help="Comma-separated backbones, run in this order: "
            + ", ".join(f"{name} ({facts.title})" for name, facts in BACKBONE_FACTS.items())
            + "."
        ),
    ] = ",".join(BACKBONE_FACTS),
    weights: Annotated[
        list[str] | None,
        typer.Option(
            "--weights",
            metavar="BACKBONE=SET|FILE",
            help="Weight set or file for one backbone, e.g. vgg=torchvision (repeatable).",
            show_default=False,
        ),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            metavar="OPTION=V1,V2",
            help=(
                "Also vary one numeric option, e.g. style-weight=1e4,1e5,1e6: the sheet "
                "becomes a backbone × value grid."
            ),
            show_default=False,
        ),
    ] = None,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff/--no-diff",
            help="Add heat maps of how far each region moved from the content (not with --sweep).",
        ),
    ] = True,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars, table or messages.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the figures as JSON on stdout instead of a table."),
    ] = False,
    **options: Any,
) -> None:
    """Run the same job through several backbones with identical options and seed, and
    draw one contact sheet: results, figures, difference maps and a loss-over-time chart.

    Weights are never downloaded here: a backbone without them is shown as skipped (run
    `nst weights download` first). Exit code 0 if at least one backbone ran, 2 if none.
    """
    with user_errors():
        from nstcli.gallery import style_source

        source = style_source(style)  # a file wins over a slug; a bad name fails at once

        from nstcli.engine.compare import Sweep, numeric_fields, plan, run_comparison
        from nstcli.engine.images import check_writable, load_image, save_image
        from nstcli.render import render_sheet

        use_weights_dir(options.pop("weights_dir", None))
        inputs = [content, *([source.path] if source.path else [])]
        chosen_weights = parse_weights(weights)
        base = config_from_options(options, offline=True)
        numeric = set(numeric_fields()) & set(borrowed_names(compare))
        swept = Sweep.parse(sweep, allowed=numeric) if sweep else None
        names = [name.strip() for name in backbones.split(",") if name.strip()]
        planned = plan(base, names, chosen_weights, swept)
        sheet_path = check_writable(output or default_output(content, style), inputs)
        outputs = {job: result_path(sheet_path, job, swept) for job in planned.jobs}
        for path in outputs.values():
            check_writable(path, inputs)
        content_image = load_image(content)
        style_image = source.open()

        if quiet or as_json:
            comparison = run_comparison(content_image, style_image, planned)
        else:
            with Progress(*bar_columns(), console=err_console, transient=False) as progress:
                observer = ProgressObserver(progress, planned)
                comparison = run_comparison(content_image, style_image, planned, observer)

        for entry in comparison.ran:
            assert entry.result is not None
            entry.result.output_path = save_image(entry.result.image, outputs[entry.job])
        sheet: Path | None = None
        if comparison.ran:
            rendered = render_sheet(
                comparison,
                content_image,
                style_image,
                content_name=content.name,
                style_name=source.label,
                difference=diff,
            )
            sheet = save_image(rendered.image, sheet_path)

    if as_json:
        summary = {"sheet": str(sheet) if sheet else None, "content": str(content)}
        summary |= {"style": str(style)} | comparison.summary()
        out_console.print_json(json.dumps(summary))
    elif not quiet:
        out_console.print(figures_table(comparison))
        for message in skip_messages(comparison):
            out_console.print(f"[yellow]skipped[/] {message}", highlight=False, soft_wrap=True)
        if sheet is not None:
            err_console.print(f"[green]saved[/] sheet {sheet} and {len(comparison.ran)} result(s)")
    if not comparison.ran:
        reasons = "; ".join(skip_messages(comparison))
        err_console.print(
            f"[bold red]error:[/] no backbone could run: {reasons}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)


def skip_messages(comparison: Comparison) -> list[str]:
    """Each distinct reason once (a sweep repeats a backbone's reason for every value)."""
    return list(dict.fromkeys(entry.skip_message or "" for entry in comparison.skipped))


def figures_table(comparison: Comparison) -> Table:
    """The sheet's figures as a Rich table (messages of skipped rows are printed below it)."""
    from nstcli.engine.compare import format_value
    from nstcli.render.text import short_number

    sweep = comparison.sweep
    table = Table(title="nst compare")
    table.add_column("backbone")
    if sweep is not None:
        table.add_column(sweep.option.replace("_", "-"))
    for column in ("steps", "total s", "s/step", "content", "style", "total loss"):
        table.add_column(column, justify="right")
    table.add_column("result", overflow="fold")
    for entry in comparison.entries:
        cells = [entry.backbone]
        if sweep is not None:
            value = entry.job.sweep_value
            cells.append(format_value(value) if value is not None else "")
        result = entry.result
        if result is not None and result.final is not None:
            final = result.final
            cells += [
                str(result.steps),
                f"{result.wall_time:.1f}",
                f"{result.seconds_per_step:.3f}",
                short_number(final.content),
                short_number(final.style),
                short_number(final.total),
                str(result.output_path or ""),
            ]
        else:
            cells += ["-"] * 6 + ["[yellow]skipped[/] (see below)"]
        table.add_row(*cells)
    return table
