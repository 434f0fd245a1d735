"""The per-user conversation as a pure state machine: (state, event) → (state, actions).

No Telegram, no database, no clock: the service feeds it events it has already
classified (a valid image, a rejected input with its reason, a command, a button press)
and carries out the returned actions. That keeps every dialogue rule testable alone.

Flow: photo → style → pick a network (inline keyboard; options such as "+ ×4 upscale"
toggle on the same keyboard) → `Submit`. After the photo the bot also shows the gallery
(`ShowGallery`: the numbered sheet, a button per painting); a painting picked there is the
style, exactly as an uploaded one would be. `/styles` shows the gallery at any time: a
painting picked before any photo waits for the photo. Buttons carry a nonce so a keyboard
from an earlier pair (or the gallery of an earlier photo) is recognised as stale. A result
carries follow-up buttons (`result_keyboard`): the service looks their job up and hands it
over in `FollowUpPressed` (None once its inputs expired), and each becomes a `Submit` with
that job as its base ("another painting" shows the gallery again for the same photo). An
image sent after a result asks whether it is a new photo or a new style for the last photo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from nstcli.bot import paintings, texts
from nstcli.bot.buttons import ButtonData, FollowUp, Kind, decode, encode, follow_up
from nstcli.bot.i18n import LANGUAGES, Gettext, translator
from nstcli.bot.models import FileRef, JobSpec, UserSettings, UserState
from nstcli.engine.strength import DEFAULT_STRENGTH

_identity = translator("en")  # English: the msgids themselves


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    name: str


@dataclass(frozen=True)
class MediaReceived:
    """A usable image or clip (`ref.media` says which: intake decided it once)."""

    ref: FileRef
    #: Said alongside the acknowledgement (e.g. "I'll scale it down").
    note: str | None = None
    #: Telegram's media_group_id when the image came in an album.
    album: str | None = None


#: Its name from when only still images came in.
ImageReceived = MediaReceived


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


@dataclass(frozen=True)
class FollowUpPressed:
    """A result's button (`Kind.FOLLOW_UP` or `Kind.RERUN`), with the job it belongs to:
    None when that job is unknown, someone else's, or past keeping its inputs."""

    data: ButtonData
    base: JobSpec | None


Event = Command | MediaReceived | Rejected | Text | Pressed | FollowUpPressed


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
class DropKeyboard:
    """Remove the buttons of the message whose button was pressed (they expired)."""


@dataclass(frozen=True)
class ShowGallery:
    """Send the gallery: the numbered sheet captioned `caption`, one button per painting
    in the user's language, each carrying `nonce` (`UserState.photo_nonce`)."""

    nonce: str
    caption: str


@dataclass(frozen=True)
class Submit:
    choice: str
    options: tuple[str, ...]
    #: Chosen when the press is handled, so a replay after a crash finds the same job.
    job_id: str = ""
    #: A follow-up: the job whose kept inputs (and result) this one starts from.
    base: str = ""
    #: The strength to run at (None: the user's setting, or the base job's).
    strength: float | None = None


@dataclass(frozen=True)
class Cancel:
    """Cancel the user's job; `cleared` says whether pending images were dropped."""

    cleared: bool


@dataclass(frozen=True)
class Status:
    pass


Action = Reply | Answer | Edit | DropKeyboard | ShowGallery | Submit | Cancel | Status


@dataclass(frozen=True)
class Outcome:
    state: UserState
    actions: list[Action] = field(default_factory=list)


# -- what the menus offer ----------------------------------------------------------------
@dataclass(frozen=True)
class Menu:
    """Choices, options and setting values this bot offers (built by the service)."""

    #: (key, label) of the networks offered, e.g. ("lite", "Lite"): the job keyboard's
    #: first row and /settings' default network.
    networks: tuple[tuple[str, str], ...]
    #: (key, label, row) other job buttons, e.g. ("compare", "Compare all", 1).
    jobs: tuple[tuple[str, str, int], ...] = ()
    #: (key, label) option toggles, e.g. ("upscale", "+ ×4 upscale").
    options: tuple[tuple[str, str], ...] = ()
    sizes: tuple[int, ...] = (256, 384, 512)
    steps: tuple[int, ...] = (50, 100, 200, 300)
    default_size: int = 512
    #: Steps when the user has not picked any (None: each network's own default).
    default_steps: int | None = None
    #: (backbone, its default steps) for `default_steps` None.
    backbone_steps: tuple[tuple[str, int], ...] = ()
    preserve_color: bool = False
    #: Offer the preview toggle (a status photo while the job runs).
    preview: bool = True
    #: Strength notches (/settings, and a step down or up for less or more style).
    strengths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    default_strength: float = DEFAULT_STRENGTH
    #: Seconds a result's inputs are kept for its follow-up buttons (0: no follow-ups).
    keep_inputs: float = 86400.0
    #: The ×4 toggle's key and the ×4-of-a-result follow-up's (None: not offered).
    upscale_option: str | None = None
    upscale_result: str | None = None

    @property
    def follow_ups(self) -> bool:
        return self.keep_inputs > 0

    def notch(self, strength: float | None, step: int) -> float | None:
        """The strength one notch below (`step` -1) or above (+1), None past the end."""
        current = self.default_strength if strength is None else strength
        if step < 0:
            lower = [s for s in self.strengths if s < current - 1e-9]
            return max(lower) if lower else None
        higher = [s for s in self.strengths if s > current + 1e-9]
        return min(higher) if higher else None

    def runnable(self, key: str) -> bool:
        """Whether `key` is a job button of this bot (a network or another job)."""
        return key in dict(self.networks) or key in {k for k, _label, _row in self.jobs}

    def size_of(self, settings: UserSettings) -> int:
        return settings.size if settings.size in self.sizes else self.default_size

    def steps_of(self, settings: UserSettings, choice: str | None = None) -> int:
        """The user's steps, or the bot's default, or the default of the network `choice`
        (None: the user's default network) — so a bot left alone runs each network's
        measured default."""
        if settings.steps in self.steps:
            return settings.steps
        if self.default_steps is not None:
            return self.default_steps
        own = dict(self.backbone_steps)
        return own.get(choice or settings.backbone, max(own.values(), default=200))


def choice_keyboard(menu: Menu, state: UserState, _: Gettext = _identity) -> Keyboard:
    nonce = state.nonce or ""
    networks = [
        (("★ " if key == state.settings.backbone else "") + label, encode(Kind.RUN, key, nonce))
        for key, label in menu.networks
    ]
    rows: dict[int, list[tuple[str, str]]] = {}
    for key, label, row in menu.jobs:
        rows.setdefault(row, []).append((_(label), encode(Kind.RUN, key, nonce)))
    keyboard = [row for row in [networks, *(rows[r] for r in sorted(rows))] if row]
    if state.content is not None and state.content.is_clip:  # clips: a network, no options
        return [networks]
    toggles = [
        (("☑ " if key in state.options else "☐ ") + _(label), encode(Kind.OPTION, key, nonce))
        for key, label in menu.options
    ]
    if toggles:
        keyboard.append(toggles)
    return keyboard


def result_keyboard(menu: Menu, spec: JobSpec, _: Gettext = _identity) -> Keyboard:
    """The follow-up buttons under a job's results (none when inputs are not kept)."""
    if not menu.follow_ups:
        return []
    job = spec.job_id
    first = [(_(texts.ANOTHER_PAINTING), encode(Kind.FOLLOW_UP, FollowUp.GALLERY.value, job))]
    if spec.choice == menu.upscale_result:  # an enlarged result: a new style is what is left
        return [first]
    if menu.upscale_result and menu.upscale_option not in spec.options and not spec.content.is_clip:
        first.append((_(texts.UPSCALE_THIS), encode(Kind.FOLLOW_UP, FollowUp.UPSCALE.value, job)))
    strength = [
        (_(label), encode(Kind.FOLLOW_UP, action.value, job))
        for label, action, step in (
            (texts.LESS_STYLE, FollowUp.LESS, -1),
            (texts.MORE_STYLE, FollowUp.MORE, +1),
        )
        if menu.notch(spec.strength, step) is not None
    ]
    others = [
        (texts.rerun_label(_, label), encode(Kind.RERUN, key, job))
        for key, label in menu.networks
        if key != spec.choice
    ]
    return [row for row in (first, strength, others) if row]


def ask_keyboard(state: UserState, _: Gettext = _identity) -> Keyboard:
    nonce = state.nonce or ""
    return [
        [(_(texts.AS_NEW_PHOTO), encode(Kind.ASK, "photo", nonce))],
        [(_(texts.AS_NEW_STYLE), encode(Kind.ASK, "style", nonce))],
    ]


def settings_text(menu: Menu, settings: UserSettings, _: Gettext = _identity) -> str:
    names = dict(menu.networks)
    onoff = lambda value: _(texts.ON) if value else _(texts.OFF)  # noqa: E731
    lines = [
        _(texts.SETTINGS_TITLE),
        _(texts.DEFAULT_NETWORK).format(name=names.get(settings.backbone, settings.backbone)),
        _(texts.SIZE_STEPS).format(size=menu.size_of(settings), steps=menu.steps_of(settings)),
        _(texts.FULL_QUALITY_LINE).format(value=onoff(settings.full_quality)),
    ]
    if menu.preserve_color:
        lines.append(_(texts.PRESERVE_LINE).format(value=onoff(settings.preserve_color)))
    if menu.preview:
        lines.append(_(texts.PREVIEW_LINE).format(value=onoff(settings.preview)))
    for key, label in menu.options:
        name = _(label).lstrip("+ ").strip()
        name = name[:1].upper() + name[1:]  # a line of its own: "Увеличение ×4: вкл."
        lines.append(_(texts.OPTION_LINE).format(name=name, value=onoff(key in settings.options)))
    language = LANGUAGES.get(settings.language or "", "—")
    lines.append(_(texts.LANGUAGE_LINE).format(value=language))
    return "\n".join(lines)


def settings_keyboard(menu: Menu, settings: UserSettings, _: Gettext = _identity) -> Keyboard:
    def mark(on: bool, label: str) -> str:
        return f"✓ {label}" if on else label

    size, steps = menu.size_of(settings), menu.steps_of(settings)

    def button(on: bool, label: str, name: str, value: object = "") -> tuple[str, str]:
        return mark(on, label), encode(Kind.SETTING, name, str(value))

    keyboard: Keyboard = [
        [button(k == settings.backbone, label, "b", k) for k, label in menu.networks],
        [button(s == size, _(texts.PX).format(n=s), "size", s) for s in menu.sizes],
        [button(s == steps, texts.steps_label(_, s), "steps", s) for s in menu.steps],
    ]
    toggles = [button(settings.full_quality, _(texts.FULL_QUALITY), "fq")]
    if menu.preserve_color:
        toggles.append(button(settings.preserve_color, _(texts.PRESERVE), "pc"))
    if menu.preview:
        toggles.append(button(settings.preview, _(texts.PREVIEW), "pv"))
    toggles += [button(k in settings.options, _(label), "opt", k) for k, label in menu.options]
    keyboard.append(toggles)
    keyboard.append(
        [button(settings.language == code, name, "lang", code) for code, name in LANGUAGES.items()]
    )
    return keyboard


# -- the state machine -------------------------------------------------------------------
def handle(
    state: UserState,
    event: Event,
    menu: Menu,
    new_nonce: Callable[[], str],
    _: Gettext = _identity,
) -> Outcome:
    """The next state and what to do, for one event from one user (said with `_`)."""
    if isinstance(event, Command):
        return _command(state, event.name, menu, new_nonce, _)
    if isinstance(event, MediaReceived):
        return _image(state, event, menu, new_nonce, _)
    if isinstance(event, Rejected):
        return Outcome(state, [Reply(event.reason)])
    if isinstance(event, Text):
        return Outcome(state, [Reply(_(_what_next(state)))])
    if isinstance(event, FollowUpPressed):
        return _follow_up(state, event, menu, new_nonce, _)
    return _pressed(state, event.data, menu, new_nonce, _)


def _what_next(state: UserState) -> str:
    if state.asking is not None:
        return texts.NEED_ANSWER
    if state.content is None:
        return texts.NEED_IMAGE_CONTENT
    if state.style is None:
        return texts.NEED_IMAGE_STYLE
    return texts.NEED_CHOICE


def help_lines(menu: Menu, _: Gettext) -> list[str]:
    networks = [label for _key, label in menu.networks]
    options = [_(label).lstrip("+ ").strip() for _key, label in menu.options]
    offered = texts.offered(_, networks, options)
    privacy = texts.keeping_note(_, menu.keep_inputs)
    return [_(texts.START), _(texts.HELP) + "\n" + offered + "\n\n" + privacy]


def _command(
    state: UserState, name: str, menu: Menu, new_nonce: Callable[[], str], _: Gettext
) -> Outcome:
    if name in ("start", "help"):
        return Outcome(state, [Reply(text) for text in help_lines(menu, _)])
    if name == "settings":
        return Outcome(
            state,
            [
                Reply(
                    settings_text(menu, state.settings, _),
                    settings_keyboard(menu, state.settings, _),
                )
            ],
        )
    if name == "cancel":
        cleared = state.content is not None or state.style is not None
        return Outcome(UserState(settings=state.settings), [Cancel(cleared=cleared)])
    if name == "status":
        return Outcome(state, [Status()])
    if name == "styles":
        # The gallery of the photo there is (the same buttons as the one shown after it),
        # or, before any photo, one to pick from first.
        photo = state.content is not None or state.asking is not None
        caption = _(texts.GALLERY_FOR_PHOTO if photo else texts.GALLERY_FIRST)
        nonce = state.photo_nonce or new_nonce()
        return Outcome(dataclasses.replace(state, photo_nonce=nonce), [ShowGallery(nonce, caption)])
    return Outcome(state, [Reply(_(texts.UNKNOWN_COMMAND))])


def _image(
    state: UserState,
    event: MediaReceived,
    menu: Menu,
    new_nonce: Callable[[], str],
    _: Gettext,
) -> Outcome:
    if event.album is not None and event.album == state.album and state.style is not None:
        # The third (or later) image of the album that made this pair: say so once.
        if state.album_told:
            return Outcome(state)
        return Outcome(
            dataclasses.replace(state, album_told=True), [Reply(_(texts.ALBUM_TOO_LONG))]
        )
    notes = [Reply(event.note)] if event.note else []
    if event.ref.is_clip:
        return _clip(state, event, notes, _)
    new_album = event.album is not None and event.album != state.album
    if (
        state.content is None
        and state.style is None
        and state.last is not None
        and event.album is None
    ):
        # After a result: a new photo, or a new style for the last one? Ask.
        new = dataclasses.replace(
            state, style=None, asking=event.ref, nonce=new_nonce(), photo_nonce=None
        )
        return Outcome(new, [*notes, Reply(_(texts.ASK_PHOTO_OR_STYLE), ask_keyboard(new, _))])
    if state.content is None and state.style is not None and event.album is None:
        # A painting picked in /styles before any photo: this image is its photo.
        new = dataclasses.replace(
            state,
            content=event.ref,
            nonce=new_nonce(),
            options=state.settings.options,
            album=None,
            album_told=False,
            asking=None,
            photo_nonce=None,
        )
        return Outcome(new, [*notes, Reply(_choice_text(new, _), choice_keyboard(menu, new, _))])
    if state.content is None or new_album:
        # A first image, or the first of a new album: it is the photo of a new pair.
        fresh = state.content is None
        new = dataclasses.replace(
            state,
            content=event.ref,
            style=None,
            nonce=None,
            album=event.album,
            album_told=False,
            asking=None,
            photo_nonce=None,
        )
        text = texts.GOT_CONTENT if fresh or state.style is None else texts.NEW_PAIR
        if event.album is not None:  # the album's next image is the style: no gallery
            return Outcome(new, [*notes, Reply(_(text))])
        new, gallery = _gallery(new, new_nonce, _)
        return Outcome(new, [*notes, Reply(_(text)), gallery])
    if state.style is None:
        new = dataclasses.replace(
            state, style=event.ref, nonce=new_nonce(), options=state.settings.options
        )
        return Outcome(new, [*notes, Reply(_(texts.GOT_STYLE), choice_keyboard(menu, new, _))])
    # A third image: the user is starting a new pair; the old keyboard goes stale.
    new = dataclasses.replace(state, content=event.ref, style=None, nonce=None, album=None)
    new, gallery = _gallery(new, new_nonce, _)
    return Outcome(new, [*notes, Reply(_(texts.NEW_PAIR)), gallery])


def _gallery(
    state: UserState, new_nonce: Callable[[], str], _: Gettext
) -> tuple[UserState, ShowGallery]:
    """The gallery for the photo `state` just got: its buttons carry a new nonce, so those
    of an earlier photo's gallery are stale."""
    nonce = new_nonce()
    return (
        dataclasses.replace(state, photo_nonce=nonce),
        ShowGallery(nonce, _(texts.GALLERY_FOR_PHOTO)),
    )


def _choice_text(state: UserState, _: Gettext) -> str:
    """The job keyboard's text: the painting's title when the style is one."""
    painting = paintings.painting_of(state.style) if state.style is not None else None
    if painting is None:
        return _(texts.GOT_STYLE)
    return texts.painting_chosen(_, painting.title_in(_.language))


def _clip(state: UserState, event: MediaReceived, notes: list[Action], _: Gettext) -> Outcome:
    """A clip is always the content (a style must be a still): the photo of a new pair,
    or, while a style is awaited for a clip or photo, refused as a style."""
    if state.content is not None and state.style is None and state.asking is None:
        return Outcome(state, [Reply(_(texts.STYLE_NOT_CLIP))])
    new = dataclasses.replace(
        state, content=event.ref, style=None, nonce=None, album=None, album_told=False,
        asking=None,
    )  # fmt: skip
    return Outcome(new, [*notes, Reply(_(texts.GOT_CLIP))])


def _pressed(
    state: UserState, text: str, menu: Menu, new_nonce: Callable[[], str], _: Gettext
) -> Outcome:
    data = decode(text)
    if data is None:  # forged, or from a keyboard this bot no longer draws
        return Outcome(state, [Answer(_(texts.BUTTON_EXPIRED))])
    if data.kind is Kind.SETTING:
        return _setting(state, data.key, data.ref, menu, _)
    if data.kind is Kind.ASK:
        return _asked(state, data, menu, new_nonce, _)
    if data.kind is Kind.PAINTING:
        return _painting(state, data, menu, new_nonce, _)
    key, nonce = data.key, data.ref
    fresh = (
        state.nonce is not None
        and nonce == state.nonce
        and state.content is not None
        and state.style is not None
    )
    if data.kind is Kind.RUN and fresh and menu.runnable(key):
        return Outcome(state, [Answer(_(texts.QUEUED_ANSWER)), Submit(key, state.options)])
    if data.kind is Kind.OPTION and fresh and key in dict(menu.options):
        options = tuple(o for o in state.options if o != key)
        if key not in state.options:
            options += (key,)
        new = dataclasses.replace(state, options=options)
        return Outcome(new, [Answer(), Edit(_choice_text(new, _), choice_keyboard(menu, new, _))])
    return Outcome(state, [Answer(_(texts.BUTTON_EXPIRED))])


def _painting(
    state: UserState, data: ButtonData, menu: Menu, new_nonce: Callable[[], str], _: Gettext
) -> Outcome:
    """A painting picked in the gallery: the pair's style, as an uploaded image would be
    (the job keyboard next), or, before any photo, the style the photo will get."""
    painting = paintings.by_slug(data.key)
    if painting is None:  # forged, or a painting this version no longer ships
        return Outcome(state, [Answer(_(texts.BUTTON_EXPIRED))])
    if state.photo_nonce is None or data.ref != state.photo_nonce:
        return Outcome(state, [Answer(_(texts.GALLERY_STALE))])
    title = painting.title_in(_.language)
    # An image sent after a result and not yet placed is the photo a painting is for.
    content = state.content if state.content is not None else state.asking
    new = dataclasses.replace(
        state, content=content, style=paintings.ref_of(painting), asking=None, album=None
    )
    if content is None:
        new = dataclasses.replace(new, nonce=None)
        return Outcome(new, [Answer(title), Reply(texts.painting_first(_, title))])
    new = dataclasses.replace(new, nonce=new_nonce(), options=state.settings.options)
    return Outcome(new, [Answer(title), Reply(_choice_text(new, _), choice_keyboard(menu, new, _))])


def _asked(
    state: UserState, data: ButtonData, menu: Menu, new_nonce: Callable[[], str], _: Gettext
) -> Outcome:
    """The answer to "a new photo, or a new style for the last photo?"."""
    image = state.asking
    if image is None or data.ref != state.nonce or data.key not in ("photo", "style"):
        return Outcome(state, [Answer(_(texts.BUTTON_EXPIRED))])
    if data.key == "style" and state.last is not None:
        new = dataclasses.replace(
            state,
            content=state.last,
            style=image,
            asking=None,
            nonce=new_nonce(),
            options=state.settings.options,
            photo_nonce=None,
        )
        return Outcome(
            new,
            [
                Answer(),
                Edit(_(texts.AS_NEW_STYLE)),
                Reply(_(texts.GOT_STYLE), choice_keyboard(menu, new, _)),
            ],
        )
    new = dataclasses.replace(state, content=image, style=None, asking=None, nonce=None)
    new, gallery = _gallery(new, new_nonce, _)
    return Outcome(
        new, [Answer(), Edit(_(texts.AS_NEW_PHOTO)), Reply(_(texts.GOT_CONTENT)), gallery]
    )


def _follow_up(
    state: UserState,
    event: FollowUpPressed,
    menu: Menu,
    new_nonce: Callable[[], str],
    _: Gettext,
) -> Outcome:
    """A result's button: a new job from the kept inputs, or the same photo again."""
    base, data = event.base, event.data
    expired = Outcome(state, [Answer(texts.result_expired(_, menu.keep_inputs)), DropKeyboard()])
    if base is None:
        return expired
    queued = Answer(_(texts.QUEUED_ANSWER))
    if data.kind is Kind.RERUN:
        if data.key not in dict(menu.networks):
            return expired
        return Outcome(
            state,
            [queued, Submit(data.key, base.options, base=base.job_id, strength=base.strength)],
        )
    action = follow_up(data)
    if action is FollowUp.GALLERY:  # the gallery again, for the same (kept) photo
        new = dataclasses.replace(
            state, content=base.content, style=None, nonce=None, asking=None, album=None
        )
        new, gallery = _gallery(new, new_nonce, _)
        return Outcome(new, [Answer(), Reply(_(texts.SAME_PHOTO)), gallery])
    if action in (FollowUp.LESS, FollowUp.MORE):
        step = -1 if action is FollowUp.LESS else 1
        strength = menu.notch(base.strength, step)
        if strength is None:
            return Outcome(state, [Answer(_(texts.NO_LESS if step < 0 else texts.NO_MORE))])
        return Outcome(
            state, [queued, Submit(base.choice, base.options, base=base.job_id, strength=strength)]
        )
    if action is FollowUp.UPSCALE and menu.upscale_result:
        return Outcome(state, [queued, Submit(menu.upscale_result, (), base=base.job_id)])
    return expired


def _setting(state: UserState, name: str, value: str, menu: Menu, _: Gettext) -> Outcome:
    settings = state.settings
    changed: UserSettings | None = None
    if name == "b" and value in dict(menu.networks):
        changed = dataclasses.replace(settings, backbone=value)
    elif name == "size" and value.isdigit() and int(value) in menu.sizes:
        changed = dataclasses.replace(settings, size=int(value))
    elif name == "steps" and value.isdigit() and int(value) in menu.steps:
        changed = dataclasses.replace(settings, steps=int(value))
    elif name == "fq":
        changed = dataclasses.replace(settings, full_quality=not settings.full_quality)
    elif name == "pc" and menu.preserve_color:
        changed = dataclasses.replace(settings, preserve_color=not settings.preserve_color)
    elif name == "pv" and menu.preview:
        changed = dataclasses.replace(settings, preview=not settings.preview)
    elif name == "lang" and value in LANGUAGES:
        changed = dataclasses.replace(settings, language=value)
        _ = translator(value)  # the reply is in the language just chosen
    elif name == "opt" and value in dict(menu.options):
        options = tuple(o for o in settings.options if o != value)
        if value not in settings.options:
            options += (value,)
        changed = dataclasses.replace(settings, options=options)
    if changed is None:
        return Outcome(state, [Answer(_(texts.BUTTON_EXPIRED))])
    if changed == settings:  # pressing the current value: nothing to redraw
        return Outcome(state, [Answer(_(texts.SETTINGS_SAVED))])
    new = dataclasses.replace(state, settings=changed)
    return Outcome(
        new,
        [
            Answer(_(texts.SETTINGS_SAVED)),
            Edit(settings_text(menu, changed, _), settings_keyboard(menu, changed, _)),
        ],
    )
