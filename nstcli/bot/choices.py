"""What a user can pick on the job keyboard, and the one hook to add more.

Every choice has an explicit `ChoiceKind`. Built in: one `NETWORK` button per engine
backbone (VGG19 / ResNet50 / Lite), the `UPSCALE` option and the `UPSCALE_RESULT`
follow-up (×4 of a finished result).
Other features plug in with `register_choice`:

* a *job* choice (`run=`) adds a button that starts a job, e.g. "Compare all":
  `register_choice(Choice("compare", "Compare all", run=compare_runner))` where the
  runner calls `ctx.stylize(backbone, span=...)` per backbone and returns one `ResultPicture`
  per result;
* an *option* (`apply=`) adds a toggle ("+ ×4 upscale") to the job keyboard and to
  /settings, applied to every result of a job that has it on:
  `register_choice(Choice("upscale", "+ ×4 upscale", apply=upscale_fn))`.

Registration must happen at import time of this module (or of something the bot and
`nst worker` both import), because remote workers look choices up by key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from nstcli.bot import execute, texts
from nstcli.bot.i18n import translator
from nstcli.bot.models import JobSpec
from nstcli.engine.backbones import BACKBONES
from nstcli.engine.errors import NstError
from nstcli.engine.weights import obtainable


def label_of(key: str) -> str:
    """A registered choice's button label; an unknown key (an old job's) as it is."""
    found = CHOICES.get(key)
    return found.label if found else key


@dataclass
class RunContext:
    """What a runner gets: the decoded inputs, the job, progress and cancellation."""

    content: Image.Image
    style: Image.Image
    spec: JobSpec
    progress: Callable[[float, str], None]
    should_stop: Callable[[], bool]
    #: The finished result a `FOLLOW_UP` choice works on (`JobSpec.source`).
    source: Image.Image | None = None
    pretrained: bool = True
    threads: int | None = None
    #: Receives the image as it forms, a few times per run (None: no preview wanted).
    preview: Callable[[Image.Image], None] | None = None

    def stylize(self, backbone: str, span: tuple[float, float] = (0.0, 1.0)) -> Image.Image:
        """One engine run with this job's size/steps; progress mapped into `span` (0–1)."""
        start, end = span
        title = label_of(backbone)

        def on_step(work_done: float) -> None:
            self.progress(start + (end - start) * work_done, title)

        return execute.stylize_one(
            self.content,
            self.style,
            backbone,
            self.spec.size,
            self.spec.steps,
            preserve_color=self.spec.preserve_color,
            strength=self.spec.strength,
            pretrained=self.pretrained,
            threads=self.threads,
            on_step=on_step,
            should_stop=self.should_stop,
            on_preview=self.preview,
        )


@dataclass(frozen=True)
class ResultPicture:
    """One picture a job sends back, with its caption."""

    image: Image.Image
    caption: str


Runner = Callable[[RunContext], list[ResultPicture]]
Postprocess = Callable[[Image.Image, RunContext], Image.Image]


class ChoiceKind(enum.Enum):
    """Where a choice appears."""

    #: An engine backbone: the first row of the job keyboard, /settings' default network,
    #: and a result's "another network" buttons.
    NETWORK = "network"
    #: Any other job button on the job keyboard (its own row, `Choice.row`).
    JOB = "job"
    #: A toggle on the job keyboard and in /settings, applied to each result.
    OPTION = "option"
    #: Run only from a result's follow-up buttons (e.g. ×4 of that result).
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Choice:
    """A job button (`run`) or an option toggle (`apply`); exactly one of the two."""

    key: str
    label: str
    run: Runner | None = None
    apply: Postprocess | None = None
    #: Keyboard row of a `JOB` button (below the networks' row; smaller rows first).
    row: int = 1
    #: Defaults to `OPTION` for `apply=` and `JOB` for `run=`.
    kind: ChoiceKind = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.kind is None:
            kind = ChoiceKind.OPTION if self.apply is not None else ChoiceKind.JOB
            object.__setattr__(self, "kind", kind)

    @property
    def is_option(self) -> bool:
        return self.kind is ChoiceKind.OPTION


_KEY = re.compile(r"^[a-z0-9_]{1,16}$")
CHOICES: dict[str, Choice] = {}


def register_choice(choice: Choice) -> None:
    """The extension hook: add (or replace) a job button or an option toggle."""
    if not _KEY.match(choice.key):
        raise ValueError(f"choice key {choice.key!r} must be 1-16 of [a-z0-9_]")
    if (choice.run is None) == (choice.apply is None):
        raise ValueError("a choice needs exactly one of run= (job) or apply= (option)")
    if (choice.kind is ChoiceKind.OPTION) != (choice.apply is not None):
        raise ValueError("an OPTION choice takes apply=; every other kind takes run=")
    CHOICES[choice.key] = choice


def unregister_choice(key: str) -> None:
    CHOICES.pop(key, None)


def of_kind(kind: ChoiceKind) -> list[Choice]:
    """Registered choices of one kind, in registration order (`JOB`s by row)."""
    found = [c for c in CHOICES.values() if c.kind is kind]
    return sorted(found, key=lambda c: c.row) if kind is ChoiceKind.JOB else found


def obtainable_backbones(pretrained: bool, offline: bool = False) -> list[str]:
    """Backbones whose weights are here or downloadable (all of them for random init)."""
    return [
        name
        for name, spec in BACKBONES.items()
        if not pretrained or obtainable(spec.weights, offline=offline)
    ]


def default_steps(offered: list[str]) -> tuple[tuple[str, int], ...]:
    """(backbone, its measured default steps) for each offered backbone."""
    return tuple((name, BACKBONES[name].defaults.steps) for name in offered if name in BACKBONES)


def caption(spec: JobSpec, what: str) -> str:
    _ = translator(spec.language)
    text = texts.result_caption(_, what, spec.size, spec.steps)
    return text if spec.strength is None else texts.with_strength(_, text, spec.strength)


def backbone_runner(name: str) -> Runner:
    def run(ctx: RunContext) -> list[ResultPicture]:
        return [
            ResultPicture(
                ctx.stylize(name), caption(ctx.spec, BACKBONES[name].facts.captioned_title)
            )
        ]

    return run


def upscale_option(image: Image.Image, ctx: RunContext) -> Image.Image:
    """The "+ ×4 upscale" toggle: the shipped SRResNet on each result (tiles as progress)."""

    def on_tile(done: int, total: int) -> None:
        ctx.progress(done / max(total, 1), texts.UPSCALE_TITLE)

    return execute.upscale_one(
        image, threads=ctx.threads, on_progress=on_tile, should_stop=ctx.should_stop
    )


def upscale_result(ctx: RunContext) -> list[ResultPicture]:
    """×4 of a finished result (`ctx.source`): the upscaler alone, no engine re-run."""
    if ctx.source is None:
        raise NstError("there is no result to enlarge")

    def on_tile(done: int, total: int) -> None:
        ctx.progress(done / max(total, 1), texts.UPSCALE_TITLE)

    image = execute.upscale_one(
        ctx.source, threads=ctx.threads, on_progress=on_tile, should_stop=ctx.should_stop
    )
    _ = translator(ctx.spec.language)
    return [ResultPicture(image, texts.upscaled_caption(_, image.width, image.height))]


#: The "+ ×4 upscale" toggle's key and the result follow-up's (`BotConfig.upscale` offers
#: both).
UPSCALE = "upscale"
UPSCALE_RESULT = "x4"

# Buttons take the short titles ("EfficientNet-Lite0" is long for a button).
for _name, _spec in BACKBONES.items():
    register_choice(
        Choice(_name, _spec.facts.short_title, run=backbone_runner(_name), kind=ChoiceKind.NETWORK)
    )
register_choice(Choice(UPSCALE, texts.UPSCALE_OPTION, apply=upscale_option))
register_choice(
    Choice(UPSCALE_RESULT, texts.UPSCALE_TITLE, run=upscale_result, kind=ChoiceKind.FOLLOW_UP)
)
