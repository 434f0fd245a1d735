"""Run one style-transfer job through several backbones (and optionally several values of
one numeric setting) with identical settings and seed, one after another.

The point is a fair comparison: every job gets the same content, style, options and seed;
only the backbone (and the swept value) differs. A backbone that cannot run here — its
weights are missing, or an option does not apply to it — becomes a *skipped* entry that
says why, and the other backbones still run. Presentation (sheets, tables, JSON) lives
elsewhere and consumes the `Comparison` returned by `run_comparison`.
"""

from __future__ import annotations

import dataclasses
import gc
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from nstcli.engine.backbones import get_spec
from nstcli.engine.config import StylizeConfig
from nstcli.engine.errors import Cancelled, InputError, NstError, WeightsError
from nstcli.engine.job import LoadedBackbone, load_backbone_for
from nstcli.engine.result import StepRecord, StylizeResult
from nstcli.engine.stylize import stylize
from nstcli.engine.weights import find

SweepValue = int | float


def numeric_fields() -> dict[str, type]:
    """StylizeConfig fields holding one number (int or float), by name → that type.

    Read from the dataclass itself so fields added later are sweepable without edits here.
    """
    hints = typing.get_type_hints(StylizeConfig)
    numeric: dict[str, type] = {}
    for item in dataclasses.fields(StylizeConfig):
        hint = hints[item.name]
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds = [kind for kind in options if kind is not type(None)]
        if len(kinds) == 1 and kinds[0] in (int, float):  # bool is its own type: excluded
            numeric[item.name] = kinds[0]
    return numeric


def option_name(field_name: str) -> str:
    """`style_weight` → `--style-weight`, the spelling users see."""
    return "--" + field_name.replace("_", "-")


def format_value(value: SweepValue) -> str:
    """Short, exact labels: 100000.0 → '1e5', 0.5 → '0.5', 2.5e-05 → '2.5e-5', 300 → '300'."""
    if isinstance(value, int):
        return str(value)
    if value != 0 and not 1e-3 <= abs(value) < 1e4:
        mantissa, exponent = f"{value:.6e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


@dataclass(frozen=True)
class Sweep:
    """One numeric setting and the values to try it at (the columns of the grid)."""

    option: str  # a StylizeConfig field name
    values: tuple[SweepValue, ...]

    @classmethod
    def parse(cls, text: str, allowed: Collection[str] | None = None) -> Sweep:
        """'style-weight=1e4,1e5,1e6' (also '--style-weight=…' or 'style_weight=…').

        `allowed` restricts the options to those a front end offers (default: every
        numeric config field).
        """
        numeric = numeric_fields()
        choices = [name for name in numeric if allowed is None or name in allowed]
        name, sep, raw_values = text.partition("=")
        field_name = name.strip().lstrip("-").replace("-", "_")
        if not sep or not field_name:
            raise InputError(f"--sweep {text!r}: expected OPTION=V1,V2,… e.g. style-weight=1e4,1e5")
        if field_name not in choices:
            listed = ", ".join(option_name(choice)[2:] for choice in choices)
            raise InputError(
                f"--sweep: {name.strip()!r} is not a numeric option; choose from {listed}"
            )
        kind = numeric[field_name]
        shown = option_name(field_name)[2:]
        values: list[SweepValue] = []
        for part in (p.strip() for p in raw_values.split(",")):
            if not part:
                continue
            try:
                number = float(part)
            except ValueError:
                raise InputError(f"--sweep {shown}: {part!r} is not a number") from None
            if kind is int:
                if not number.is_integer():
                    raise InputError(f"--sweep {shown}: {part!r} must be a whole number")
                values.append(int(number))
            else:
                values.append(number)
        if not values:
            raise InputError(f"--sweep {shown}: give at least one value after '='")
        if len(set(values)) != len(values):
            raise InputError(f"--sweep {shown}: values repeat")
        return cls(field_name, tuple(values))

    def label(self, value: SweepValue) -> str:
        return f"{option_name(self.option)[2:]}={format_value(value)}"


@dataclass(frozen=True)
class Job:
    """One cell of the comparison: a backbone, maybe a swept value, and its full settings.

    `config` is None when the settings do not apply to this backbone; `problem` says why.
    """

    backbone: str
    sweep_value: SweepValue | None
    config: StylizeConfig | None
    problem: str | None = None


@dataclass(frozen=True)
class ComparePlan:
    """The jobs in run order (backbone by backbone, then sweep value) and the grid's axes."""

    jobs: tuple[Job, ...]
    backbones: tuple[str, ...]
    sweep: Sweep | None = None


def plan(
    base: StylizeConfig,
    backbones: Sequence[str],
    weights: Mapping[str, str] | None = None,
    sweep: Sweep | None = None,
) -> ComparePlan:
    """Every job of the comparison, each config resolved for its backbone.

    Errors that concern every job (a bad sweep value, an unknown backbone) raise
    `InputError` at once; errors that concern one backbone only (an option it does not
    support) make that backbone's jobs skipped.
    """
    if not backbones:
        raise InputError("--backbones: name at least one backbone")
    names = list(dict.fromkeys(backbones))
    for name in names:
        get_spec(name)  # unknown names are a plain usage error
    weights = dict(weights or {})
    for name in weights:
        if name not in names:
            raise InputError(f"--weights {name}=…: {name} is not among --backbones")
    values: tuple[SweepValue | None, ...] = (None,)
    if sweep is not None:
        for value in sweep.values:  # validates each value once, for every backbone alike
            dataclasses.replace(base, **{sweep.option: value})
        values = sweep.values
    jobs: list[Job] = []
    for name in names:
        for value in values:
            changes: dict[str, Any] = {"backbone": name, "weights": weights.get(name)}
            if sweep is not None:
                changes[sweep.option] = value
            try:
                config = dataclasses.replace(base, **changes).resolved()
            except InputError as error:
                jobs.append(Job(name, value, None, f"{name}: {error}"))
                continue
            jobs.append(Job(name, value, config))
    if all(job.config is None for job in jobs):
        raise InputError(jobs[0].problem or "no backbone can run with these settings")
    return ComparePlan(tuple(jobs), tuple(names), sweep)


@dataclass
class Entry:
    """What became of one job: a result, or the reason it was skipped."""

    job: Job
    result: StylizeResult | None = None
    #: Short reason for a panel caption, e.g. "weights missing — run `nst weights download vgg`".
    skip_reason: str | None = None
    #: The full one-line message (tables, JSON, logs).
    skip_message: str | None = None

    @property
    def ran(self) -> bool:
        return self.result is not None

    @property
    def backbone(self) -> str:
        return self.job.backbone

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the result's own summary plus status, or the skip reason."""
        head: dict[str, Any] = {
            "backbone": self.backbone,
            "sweep_value": self.job.sweep_value,
            "status": "ok" if self.ran else "skipped",
        }
        if self.result is not None:
            return head | self.result.summary()
        return head | {"reason": self.skip_reason, "message": self.skip_message}


@dataclass
class Comparison:
    """All entries in plan order, plus what is needed to lay them out as a grid."""

    entries: list[Entry]
    backbones: tuple[str, ...]
    sweep: Sweep | None = None
    content_size: tuple[int, int] = (0, 0)
    style_size: tuple[int, int] = (0, 0)

    @property
    def ran(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.ran]

    @property
    def skipped(self) -> list[Entry]:
        return [entry for entry in self.entries if not entry.ran]

    def row(self, backbone: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.backbone == backbone]

    def summary(self) -> dict[str, Any]:
        return {
            "backbones": list(self.backbones),
            "sweep": (
                {"option": self.sweep.option, "values": list(self.sweep.values)}
                if self.sweep
                else None
            ),
            "ran": len(self.ran),
            "skipped": len(self.skipped),
            "results": [entry.summary() for entry in self.entries],
        }


class CompareObserver:
    """Hooks a front end overrides to show progress; every method is optional."""

    def loading(self, job: Job) -> None:
        """`job`'s backbone is being built (weights read)."""

    def step(self, job: Job, record: StepRecord, total: int) -> None:
        """`job` finished optimisation step `record.step` of `total`."""

    def finished(self, entry: Entry) -> None:
        """`entry` ran or was skipped."""


def _skip_reason(job: Job, error: NstError) -> str:
    """A short panel caption for why `job` could not run."""
    if isinstance(error, WeightsError) and job.config is not None:
        if _weights_absent(job.config):
            return f"weights missing — run `nst weights download {job.backbone}`"
        return "weights unusable (see message)"
    return "cannot run with these settings (see message)"


def _weights_absent(config: StylizeConfig) -> bool:
    """Is `config`'s weight set (not a file) missing from every place searched?"""
    spec = get_spec(config.backbone)
    if config.weights not in spec.weight_sets:
        return False  # a file of the user's: its own error says what is wrong
    try:
        return find(spec.weight_set(config.weights)) is None
    except WeightsError:  # present but corrupt
        return False


def run_comparison(
    content: Image.Image,
    style: Image.Image,
    planned: ComparePlan,
    observer: CompareObserver | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Comparison:
    """Run the plan's jobs one after another; never raises for a backbone that cannot run.

    Each backbone's network is built once and reused for its swept values (numeric
    settings do not change the network), then released before the next backbone so only
    one is ever in memory. `Cancelled` (from `should_stop`) and bugs still propagate.
    """
    observer = observer or CompareObserver()
    entries: list[Entry] = []
    loaded: LoadedBackbone | None = None
    loaded_for: str | None = None
    load_error: tuple[str, str] | None = None
    for job in planned.jobs:
        if loaded_for != job.backbone:
            loaded, load_error, loaded_for = None, None, job.backbone
            gc.collect()
        entry = Entry(job)
        if job.config is None:
            entry.skip_reason = "option does not apply to this backbone (see message)"
            entry.skip_message = job.problem
        elif load_error is not None:
            entry.skip_reason, entry.skip_message = load_error
        else:
            try:
                if loaded is None:
                    observer.loading(job)
                    loaded = load_backbone_for(job.config)
                entry.result = stylize(
                    content,
                    style,
                    job.config,
                    on_step=lambda record, total, job=job: observer.step(job, record, total),
                    should_stop=should_stop,
                    backbone=loaded,
                )
            except Cancelled:
                raise
            except NstError as error:
                entry.skip_reason = _skip_reason(job, error)
                entry.skip_message = f"{job.backbone}: {error}"
                if loaded is None:  # the network itself is the problem: skip the whole row
                    load_error = (entry.skip_reason, entry.skip_message)
        entries.append(entry)
        observer.finished(entry)
    return Comparison(entries, planned.backbones, planned.sweep, content.size, style.size)
