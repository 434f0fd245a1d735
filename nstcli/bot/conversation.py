"""The per-user conversation as a pure state machine: (state, event) → (state, actions).

No Telegram, no database, no clock: the service feeds it events it has already
classified (a valid image, a rejected input with its reason, a command, a button press)
and carries out the returned actions. That keeps every dialogue rule testable alone.

Flow: photo → style → pick a network (inline keyboard; options such as "+ ×4 upscale"
toggle on the same keyboard) → `Submit`. Buttons carry a nonce so a keyboard from an
earlier pair is recognised as stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from nstcli.bot import texts
from nstcli.bot.models import FileRef, UserSettings, UserState


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str


@dataclass(frozen=True)
class ImageReceived:
    ref: FileRef
    #: Said alongside the acknowledgement (e.g. "I'll scale it down").
    note: str | None = None


@dataclass(frozen=True)
class Rejected:
    """An input that cannot be used; `reason` is the reply."""

    reason: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Pressed:
    data: str


Event = Command | ImageReceived | Rejected | Text | Pressed


# -- actions -----------------------------------------------------------------------------
Keyboard = list[list[tuple[str, str]]]


@dataclass(frozen=True)
class Reply:
    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class Answer:
    """Answer the pressed button (a short toast)."""

    text: str | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text and keyboard of the message whose button was pressed."""

    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class Submit:
    choice: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Cancel:
    """Cancel the user's job; `cleared` says whether pending images were dropped."""

    cleared: bool


@dataclass(frozen=True)
class Status:
    pass


Action = Reply | Answer | Edit | Submit | Cancel | Status


@dataclass(frozen=True)
class Outcome:
    state: UserState
    actions: list[Action] = field(default_factory=list)


# -- what the menus offer ----------------------------------------------------------------
@dataclass(frozen=True)
class Menu:
    """Choices, options and setting values this bot offers (built by the service)."""

    #: (key, label, row) job buttons, e.g. ("lite", "Lite", 0).
    choices: tuple[tuple[str, str, int], ...]
    #: (key, label) option toggles, e.g. ("upscale", "+ ×4 upscale").
    options: tuple[tuple[str, str], ...] = ()
    backbones: tuple[tuple[str, str], ...] = ()
    sizes: tuple[int, ...] = (256, 384, 512)
    steps: tuple[int, ...] = (50, 100, 200, 300)
    default_size: int = 512
    default_steps: int = 200
    preserve_color: bool = False

    def size_of(self, settings: UserSettings) -> int:
        return settings.size if settings.size in self.sizes else self.default_size

    def steps_of(self, settings: UserSettings) -> int:
        return settings.steps if settings.steps in self.steps else self.default_steps


def choice_keyboard(menu: Menu, state: UserState) -> Keyboard:
    rows: dict[int, list[tuple[str, str]]] = {}
    for key, label, row in menu.choices:
        star = "★ " if key == state.settings.backbone else ""
        rows.setdefault(row, []).append((star + label, f"run:{key}:{state.nonce}"))
    keyboard = [rows[row] for row in sorted(rows)]
    toggles = [
        (("☑ " if key in state.options else "☐ ") + label, f"opt:{key}:{state.nonce}")
        for key, label in menu.options
    ]
    if toggles:
        keyboard.append(toggles)
    return keyboard


def settings_text(menu: Menu, settings: UserSettings) -> str:
    names = dict(menu.backbones)
    lines = [
        "Settings",
        f"Default network: {names.get(settings.backbone, settings.backbone)}",
        f"Size: {menu.size_of(settings)} px · Steps: {menu.steps_of(settings)}",
        f"Full quality (also send a PNG file): {_onoff(settings.full_quality)}",
    ]
    if menu.preserve_color:
        lines.append(f"Preserve colours: {_onoff(settings.preserve_color)}")
    for key, label in menu.options:
        lines.append(f"{label.lstrip('+ ').strip()}: {_onoff(key in settings.options)}")
    return "\n".join(lines)


def settings_keyboard(menu: Menu, settings: UserSettings) -> Keyboard:
    def mark(on: bool, label: str) -> str:
        return f"✓ {label}" if on else label

    size, steps = menu.size_of(settings), menu.steps_of(settings)
    keyboard: Keyboard = [
        [(mark(k == settings.backbone, label), f"set:b:{k}") for k, label in menu.backbones],
        [(mark(s == size, f"{s} px"), f"set:size:{s}") for s in menu.sizes],
        [(mark(s == steps, f"{s} steps"), f"set:steps:{s}") for s in menu.steps],
    ]
    toggles = [(mark(settings.full_quality, "Full quality"), "set:fq")]
    if menu.preserve_color:
        toggles.append((mark(settings.preserve_color, "Preserve colours"), "set:pc"))
    toggles += [(mark(k in settings.options, label), f"set:opt:{k}") for k, label in menu.options]
    keyboard.append(toggles)
    return keyboard


def _onoff(value: bool) -> str:
    return "on" if value else "off"


# -- the state machine -------------------------------------------------------------------
def handle(state: UserState, event: Event, menu: Menu, new_nonce: Callable[[], str]) -> Outcome:
    """The next state and what to do, for one event from one user."""
    if isinstance(event, Command):
        return _command(state, event.name, menu)
    if isinstance(event, ImageReceived):
        return _image(state, event, menu, new_nonce)
    if isinstance(event, Rejected):
        return Outcome(state, [Reply(event.reason)])
    if isinstance(event, Text):
        return Outcome(state, [Reply(_what_next(state))])
    return _pressed(state, event.data, menu)


def _what_next(state: UserState) -> str:
    if state.content is None:
        return texts.NEED_IMAGE_CONTENT
    if state.style is None:
        return texts.NEED_IMAGE_STYLE
    return texts.NEED_CHOICE


def _command(state: UserState, name: str, menu: Menu) -> Outcome:
    if name in ("start", "help"):
        return Outcome(state, [Reply(texts.START), Reply(texts.HELP)])
    if name == "settings":
        return Outcome(
            state,
            [Reply(settings_text(menu, state.settings), settings_keyboard(menu, state.settings))],
        )
    if name == "cancel":
        cleared = state.content is not None or state.style is not None
        return Outcome(UserState(settings=state.settings), [Cancel(cleared=cleared)])
    if name == "status":
        return Outcome(state, [Status()])
    return Outcome(state, [Reply(texts.UNKNOWN_COMMAND)])


def _image(
    state: UserState, event: ImageReceived, menu: Menu, new_nonce: Callable[[], str]
) -> Outcome:
    notes = [Reply(event.note)] if event.note else []
    if state.content is None:
        new = dataclasses.replace(state, content=event.ref, style=None, nonce=None)
        return Outcome(new, [*notes, Reply(texts.GOT_CONTENT)])
    if state.style is None:
        new = dataclasses.replace(
            state, style=event.ref, nonce=new_nonce(), options=state.settings.options
        )
        return Outcome(new, [*notes, Reply(texts.GOT_STYLE, choice_keyboard(menu, new))])
    # A third image: the user is starting a new pair; the old keyboard goes stale.
    new = dataclasses.replace(state, content=event.ref, style=None, nonce=None)
    return Outcome(new, [*notes, Reply(texts.NEW_PAIR)])


def _pressed(state: UserState, data: str, menu: Menu) -> Outcome:
    kind, _, rest = data.partition(":")
    if kind == "set":
        return _setting(state, rest, menu)
    key, _, nonce = rest.partition(":")
    fresh = (
        state.nonce is not None
        and nonce == state.nonce
        and state.content is not None
        and state.style is not None
    )
    if kind == "run" and fresh and key in {k for k, _, _ in menu.choices}:
        return Outcome(state, [Answer(texts.QUEUED_ANSWER), Submit(key, state.options)])
    if kind == "opt" and fresh and key in {k for k, _ in menu.options}:
        options = tuple(o for o in state.options if o != key)
        if key not in state.options:
            options += (key,)
        new = dataclasses.replace(state, options=options)
        return Outcome(new, [Answer(), Edit(texts.GOT_STYLE, choice_keyboard(menu, new))])
    return Outcome(state, [Answer(texts.BUTTON_EXPIRED)])


def _setting(state: UserState, data: str, menu: Menu) -> Outcome:
    settings = state.settings
    name, _, value = data.partition(":")
    changed: UserSettings | None = None
    if name == "b" and value in dict(menu.backbones):
        changed = dataclasses.replace(settings, backbone=value)
    elif name == "size" and value.isdigit() and int(value) in menu.sizes:
        changed = dataclasses.replace(settings, size=int(value))
    elif name == "steps" and value.isdigit() and int(value) in menu.steps:
        changed = dataclasses.replace(settings, steps=int(value))
    elif name == "fq":
        changed = dataclasses.replace(settings, full_quality=not settings.full_quality)
    elif name == "pc" and menu.preserve_color:
        changed = dataclasses.replace(settings, preserve_color=not settings.preserve_color)
    elif name == "opt" and value in dict(menu.options):
        options = tuple(o for o in settings.options if o != value)
        if value not in settings.options:
            options += (value,)
        changed = dataclasses.replace(settings, options=options)
    if changed is None:
        return Outcome(state, [Answer(texts.BUTTON_EXPIRED)])
    if changed == settings:  # pressing the current value: nothing to redraw
        return Outcome(state, [Answer(texts.SETTINGS_SAVED)])
    new = dataclasses.replace(state, settings=changed)
    return Outcome(
        new,
        [
            Answer(texts.SETTINGS_SAVED),
            Edit(settings_text(menu, changed), settings_keyboard(menu, changed)),
        ],
    )
