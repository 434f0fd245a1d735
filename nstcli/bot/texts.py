"""Every sentence the bot says, in one place (short, plain, and actionable).

The English text is the gettext msgid: constants are marked with `N_` and translated
where they are said (`_(texts.START)`); functions take the user's `_` first. Translations
live in `locales/<lang>/LC_MESSAGES/nst.po` (see `nstcli.bot.i18n`).
"""

from __future__ import annotations

from nstcli.bot.config import MB
from nstcli.bot.i18n import N_, Gettext

START = N_(
    "Hi! I repaint a photo in the style of a picture (neural style transfer).\n"
    "Send me the photo first, then the picture whose style you like "
    "(or pick a painting from my gallery), and pick a network on the buttons."
)
HELP = N_(
    "Tip: send images as files to avoid Telegram's compression.\n"
    "/styles — the gallery of paintings · /settings — size, steps and options · "
    "/status — your job · "
    "/cancel — stop a job or forget the images · /help — this text"
)
REFUSED = N_("Sorry, this bot is private and only answers its allowed users.")

GOT_CONTENT = N_("Got the photo. Now send the style image.")
GOT_STYLE = N_("Got the style. Pick a network:")
NEW_PAIR = N_("Starting over: this image is the new photo. Now send the style image.")
NEED_IMAGE_CONTENT = N_("Please send the photo to restyle (as a photo or an image file).")
NEED_IMAGE_STYLE = N_(
    "Please send the style image now (as a photo or an image file), "
    "or pick a painting from the gallery (/styles)."
)
NEED_CHOICE = N_("Pick a network on the buttons above, or /cancel to start over.")
UNKNOWN_COMMAND = N_("I don't know that command. /help lists what I understand.")
ALBUM_TOO_LONG = N_(
    "An album for me holds two images: the photo, then the style. "
    "I used the first two and ignored the rest."
)

STICKER = N_("Stickers can't be restyled. Please send a photo or an image file.")
ANIMATED = N_("Animations and videos aren't supported. Please send a still image.")
NOT_MEDIA = N_("I only understand images and commands. /help explains how to start.")
CORRUPT = N_(
    "I couldn't read that image (damaged or an unsupported format). "
    "Please send a JPEG, PNG or WebP."
)
TOO_MANY_PIXELS = N_("That image has too many pixels to process safely. Please send a smaller one.")
DOWNLOAD_FAILED = N_("I couldn't fetch that file from Telegram just now. Please send it again.")
TELEGRAM_FAILED = N_("Telegram didn't accept the transfer just now; please try again.")


def not_an_image(_: Gettext, mime: str | None, name: str | None) -> str:
    what = mime or (name and name.rsplit(".", 1)[-1]) or "?"
    return _("That file ({what}) isn't an image. Please send a JPEG, PNG or WebP.").format(
        what=what
    )


def too_big(_: Gettext, size: int | None, limit: int, kind: str = "document") -> str:
    """A file over the download limit: its size when Telegram told it (None: Telegram
    or this bot stopped the download), and "send it as a photo" only for a document."""
    if size is None:
        said = _("That file is too big for this bot to download.")
    else:
        said = _("That file is {size:.1f} MB; this bot can only download files up to {limit} MB.")
        said = said.format(size=size / 1e6, limit=round(limit / MB))
    if kind in ("animation", "video", "video_note", "clip"):
        return said + " " + _("Please send a shorter or smaller clip.")
    if kind == "document":
        return said + " " + _("Please send a smaller image, or send it as a photo.")
    return said + " " + _("Please send a smaller image.")


# -- moving pictures (GIFs, videos, video messages) -------------------------------------
GOT_CLIP = N_("Got the clip. Now send the style image (a still picture).")
STYLE_NOT_CLIP = N_(
    "The style has to be a still image. Please send a picture whose style you like."
)
CLIP_UNREADABLE = N_(
    "I couldn't read that clip (damaged or an unsupported format). "
    "Please send an MP4 video or a GIF."
)
CLIP_NO_VIDEO = N_("That file has no picture track, only sound. Please send a video or a GIF.")
CLIP_NO_FRAMES = N_("That clip has no frames I could decode. Please send another one.")
CLIP_TOO_MANY_PIXELS = N_(
    "That clip's frames have too many pixels to process safely. Please send a smaller one."
)


def clip_too_long(_: Gettext, seconds: float, limit: float) -> str:
    """A clip over the length limit, refused from its metadata before it is decoded."""
    return _.ngettext(
        "That clip is {seconds:.1f} s long; I take clips of up to {limit} second. "
        "Please trim it and send it again.",
        "That clip is {seconds:.1f} s long; I take clips of up to {limit} seconds. "
        "Please trim it and send it again.",
        round(limit),
    ).format(seconds=seconds, limit=round(limit))


def clip_note(_: Gettext, frames: int, fps: float) -> str:
    """Said when a clip arrives: what will be stylised."""
    return _.ngettext(
        "Your clip gives {frames} frame at {fps:g} fps.",
        "Your clip gives {frames} frames at {fps:g} fps.",
        frames,
    ).format(frames=frames, fps=round(fps, 1))


def clip_running(_: Gettext, what: str, done: int, frames: int, eta: float | None) -> str:
    """A clip job's status: frames finished of all, and the time left."""
    text = _.ngettext(
        "🎞 {what}: frame {done} of {frames}",
        "🎞 {what}: frame {done} of {frames}",
        frames,
    ).format(what=what, done=done, frames=frames)
    if eta is None:
        return text
    return _("{progress} · about {eta} left").format(progress=text, eta=_duration(_, eta))


def clip_caption(_: Gettext, what: str, size: int, frames: int, fps: float) -> str:
    """The caption of a stylised clip."""
    return _.ngettext(
        "{what} · {size} px · {frames} frame at {fps:g} fps",
        "{what} · {size} px · {frames} frames at {fps:g} fps",
        frames,
    ).format(what=what, size=size, frames=frames, fps=round(fps, 1))


def clip_rate_limited(_: Gettext, weight: int, limit: int) -> str:
    """A clip that would take the user past the hourly limit (clips count by length)."""
    counts = _.ngettext(
        "This clip counts as {n} job", "This clip counts as {n} jobs", weight
    ).format(n=weight)
    rest = _.ngettext(
        "and you may start {n} job an hour here. Please try again later, or send a shorter clip.",
        "and you may start {n} jobs an hour here. Please try again later, or send a shorter clip.",
        limit,
    ).format(n=limit)
    return f"{counts} {rest}"


def result_too_big(_: Gettext, size: int, limit: int) -> str:
    """A result this server will not take from a bot even as a file (after "job failed:")."""
    said = _(
        "the result is {size:.1f} MB, more than this server lets a bot send ({limit} MB). "
        "Please pick a smaller size in /settings."
    )
    return said.format(size=size / MB, limit=round(limit / MB))


def downscaled(_: Gettext, width: int, height: int, size: int) -> str:
    return _(
        "Your image is {width}×{height}; I'll scale it down to {size} px on the longer side."
    ).format(width=width, height=height, size=size)


BUTTON_EXPIRED = N_("This button has expired. Send a new photo to start again.")
QUEUED_ANSWER = N_("Queued")
SETTINGS_SAVED = N_("Saved")


def queued(_: Gettext, position: int, what: str) -> str:
    return _("⏳ {what}: queued, position {position}.").format(what=what, position=position)


def running(_: Gettext, what: str, percent: int, eta_seconds: float | None) -> str:
    if eta_seconds is None:
        return _("🎨 {what}: {percent}%").format(what=what, percent=percent)
    return _("🎨 {what}: {percent}% · about {eta} left").format(
        what=what, percent=percent, eta=_duration(_, eta_seconds)
    )


def done(_: Gettext, what: str, seconds: float) -> str:
    return _("✅ {what}: done in {duration}.").format(what=what, duration=_duration(_, seconds))


def network_chosen(_: Gettext, label: str) -> str:
    return _("Network: {label}").format(label=label)


def result_caption(_: Gettext, what: str, size: int, steps: int) -> str:
    """The caption of one result picture."""
    return _.ngettext(
        "{what} · {size} px · {steps} step", "{what} · {size} px · {steps} steps", steps
    ).format(what=what, size=size, steps=steps)


def with_option(_: Gettext, caption: str, option: str) -> str:
    """A result's caption with the option (e.g. "+ ×4 upscale") it went through."""
    return f"{caption} {_(option)}"


CANCELLED_STATUS = N_("✖ Cancelled.")
FAILED_STATUS = N_("⚠️ Failed.")
RESUMING_STATUS = N_("⏸ Paused: the bot is restarting; your job will resume.")


def apology(_: Gettext, reason: str) -> str:
    return _("Sorry, your job failed: {reason}").format(reason=reason)


WEIGHTS_MISSING = N_(
    "this network's weights aren't installed on the server. "
    "The Lite network always works: send the images again and pick Lite."
)
INTERNAL_ERROR = N_("an internal error. It has been logged; please try again later.")

#: The engine's refusals by `NstError.code`, as reasons after "Sorry, your job failed:"
#: (the engine's own English text names options and paths a bot user never sees).
ENGINE_REASONS = {
    "weights": WEIGHTS_MISSING,
    "too_small": N_(
        "{what} is {width}×{height} px; its shorter side needs at least {minimum} px. "
        "Please send a bigger image."
    ),
    "too_thin": N_(
        "{what} is {width}×{height} px, too narrow: scaled down, its shorter side would be "
        "{side} px, under {minimum}. Please crop it to a less elongated shape."
    ),
    "too_many_pixels": N_("an image has too many pixels to process safely."),
    "unreadable": N_("I couldn't read one of the images (damaged or an unsupported format)."),
    "memory": N_(
        "the job doesn't fit in this server's memory. Please pick a smaller size in /settings."
    ),
    "upscale_too_large": N_(
        "the ×4 upscaled result would be too large. Please pick a smaller size in /settings."
    ),
    "diverged": N_("the optimisation became unstable. Please try again, or pick another network."),
    "not_offered": N_("this server no longer offers that network. Please send the images again."),
    "clip_too_long": N_(
        "the clip is {seconds:.1f} s long, over the limit of {limit:g} s. "
        "Please trim it and send it again."
    ),
    "clip_unreadable": CLIP_UNREADABLE,
    "clip_no_length": CLIP_UNREADABLE,
    "no_video": CLIP_NO_VIDEO,
    "no_frames": CLIP_NO_FRAMES,
}
#: An engine refusal without a code of its own.
ENGINE_FAILED = N_("the engine could not process these images.")
#: Which input an engine refusal is about (its `role` detail).
ROLES = {"content": N_("the photo"), "style": N_("the style image"), "image": N_("that image")}


def engine_reason(_: Gettext, code: str | None, details: dict[str, object]) -> str:
    """An engine refusal in the user's language, from its code and the values it names."""
    template = ENGINE_REASONS.get(code or "")
    if template is None:
        return _(ENGINE_FAILED)
    values = dict(details)
    values["what"] = _(ROLES.get(str(values.get("role", "content")), ROLES["content"]))
    return _(template).format(**values)


def refused_input(_: Gettext, code: str | None, details: dict[str, object]) -> str:
    """The same refusal as a reply of its own (at intake or at the button): a sentence."""
    reason = engine_reason(_, code, details)
    return reason[:1].upper() + reason[1:]


def queue_full(_: Gettext, n: int) -> str:
    return _.ngettext(
        "The queue is full right now ({n} job). Please try again in a few minutes.",
        "The queue is full right now ({n} jobs). Please try again in a few minutes.",
        n,
    ).format(n=n)


def rate_limited(_: Gettext, n: int, minutes: int) -> str:
    """The rate-limit refusal, with when the next job is possible (in `minutes`)."""
    limit = _.ngettext(
        "You've started {n} job in the last hour, the limit here.",
        "You've started {n} jobs in the last hour, the limit here.",
        n,
    ).format(n=n)
    wait = _.ngettext(
        "You can start the next one in {minutes} minute.",
        "You can start the next one in {minutes} minutes.",
        minutes,
    ).format(minutes=minutes)
    return f"{limit} {wait}"


BUSY_RUNNING = N_("You already have a job running. Wait for it, or /cancel it first.")
BUSY_QUEUED = N_("You already have a job in the queue. Wait for it, or /cancel it first.")

CANCELLED = N_("Cancelled your job.")
STOPPING = N_("Stopping your job…")
TOO_LATE_TO_CANCEL = N_("Too late to cancel: your job had just finished.")
CLEARED = N_("Forgot the images you sent. Send a new photo to start again.")
NOTHING_TO_CANCEL = N_("There's nothing to cancel.")

RESUMED_QUEUED = N_("The bot restarted. Your job is still in the queue (position {position}).")
RESUMED_RUNNING = N_("The bot restarted. Your job is still running.")
RESUMED_REQUEUED = N_("The bot restarted while your job ran; it starts again from the queue.")

STATUS_RUNNING = N_("Your job is running now.")
STATUS_QUEUED = N_("Your job is number {position} in the queue.")
STATUS_NONE = N_("You have no job. Send a photo to start.")
PENDING_STYLE = N_("I have your photo and am waiting for the style image.")
PENDING_CHOICE = N_("I have both images; pick a network on the buttons.")
PENDING_PHOTO = N_("I have your painting and am waiting for the photo.")


def status(_: Gettext, position: int | None, running_now: bool, pending: str | None) -> str:
    if running_now:
        return _(STATUS_RUNNING)
    if position is not None:
        return _(STATUS_QUEUED).format(position=position)
    return _(pending) if pending else _(STATUS_NONE)


def offered(_: Gettext, networks: list[str], options: list[str]) -> str:
    """The /help line naming what this bot offers."""
    line = _("Networks here: {networks}.").format(networks=", ".join(networks))
    if options:
        line += " " + _("Options: {options}.").format(options=", ".join(options))
    return line


# -- /settings ---------------------------------------------------------------------------
SETTINGS_TITLE = N_("Settings")
DEFAULT_NETWORK = N_("Default network: {name}")
SIZE_STEPS = N_("Size: {size} px · Steps: {steps}")
FULL_QUALITY_LINE = N_("Full quality (also send a PNG file): {value}")
PRESERVE_LINE = N_("Preserve colours: {value}")
PREVIEW_LINE = N_("Preview while it runs: {value}")
LANGUAGE_LINE = N_("Language: {value}")
#: An option's line ("×4 upscale: on"), its name taken from its toggle's label.
OPTION_LINE = N_("{name}: {value}")
ON = N_("on")
OFF = N_("off")
FULL_QUALITY = N_("Full quality")
PRESERVE = N_("Preserve colours")
PREVIEW = N_("Preview")
PX = N_("{n} px")


def steps_label(_: Gettext, n: int) -> str:
    """A steps button in /settings: "100 steps", "100 шагов"."""
    return _.ngettext("{n} step", "{n} steps", n).format(n=n)


UPSCALE_TITLE = N_("×4 upscale")
UPSCALE_OPTION = N_("+ ×4 upscale")

# -- after a result: follow-ups, kept inputs, "new photo or new style?" -----------------
ANOTHER_PAINTING = N_("🖼 Another painting")
LESS_STYLE = N_("➖ Less style")
MORE_STYLE = N_("➕ More style")
UPSCALE_THIS = N_("🔍 ×4 this result")
SAME_PHOTO = N_("The same photo again. Now send the style image, or pick a painting below.")
NO_LESS = N_("That is already the least style I offer.")
NO_MORE = N_("That is already the most style I offer.")
ASK_PHOTO_OR_STYLE = N_("Is this image a new photo, or a new style for your last photo?")
AS_NEW_PHOTO = N_("📷 A new photo")
AS_NEW_STYLE = N_("🎨 A new style for the last photo")
NEED_ANSWER = N_("Please answer with the buttons above: a new photo, or a new style.")


def rerun_label(_: Gettext, network: str) -> str:
    """A result's button for the same inputs through another network."""
    return _("↻ {network}").format(network=network)


def with_strength(_: Gettext, caption: str, strength: float) -> str:
    """A result's caption with the strength it ran at (when it is not the default)."""
    return _("{caption} · style {strength:g}").format(caption=caption, strength=strength)


def upscaled_caption(_: Gettext, width: int, height: int) -> str:
    """The caption of a ×4 follow-up: the enlarged result."""
    return _("×4 upscale · {width}×{height} px").format(width=width, height=height)


def keep_duration(_: Gettext, seconds: float) -> str:
    """How long inputs are kept, in hours (or minutes under one)."""
    if seconds >= 3600:
        return _("{n:g} h").format(n=round(seconds / 3600, 1))
    return _("{n} min").format(n=max(1, round(seconds / 60)))


def result_expired(_: Gettext, keep_seconds: float) -> str:
    """A result's button once its inputs are deleted (or a button we never made)."""
    return _(
        "This result has expired: I keep your images for {duration} after a result. "
        "Send a new photo to start again."
    ).format(duration=keep_duration(_, keep_seconds))


def keeping_note(_: Gettext, keep_seconds: float) -> str:
    """The /help line on what the bot keeps (people send their faces)."""
    if keep_seconds <= 0:
        return _("Privacy: I delete your images as soon as your result is sent.")
    return _(
        "Privacy: I keep your photo and style image for {duration} after a result, for the "
        "buttons under it (less or more style, ×4, another network), then delete them."
    ).format(duration=keep_duration(_, keep_seconds))


# -- the gallery: the numbered sheet with a button per painting ------------------------
#: The sheet's caption after a photo (the text before it asked for a style image).
GALLERY_FOR_PHOTO = N_("Or pick one of these paintings for it:")
#: The sheet's caption from /styles before any photo.
GALLERY_FIRST = N_("Pick a painting, then send me the photo to repaint in its style.")
GALLERY_STALE = N_(
    "This gallery was for an earlier photo. Pick from the newest one, or /styles to show it again."
)


def painting_chosen(_: Gettext, title: str) -> str:
    """The job keyboard's text when the style is a gallery painting."""
    return _("Painting: {title}. Pick a network:").format(title=title)


def painting_first(_: Gettext, title: str) -> str:
    """A painting picked before any photo."""
    return _("Painting: {title}. Now send me the photo to repaint.").format(title=title)


# -- the command menu (setMyCommands) ------------------------------------------------------
COMMANDS = (
    ("start", N_("Start: how to use this bot")),
    ("help", N_("What this bot offers")),
    ("styles", N_("The gallery: paintings to pick a style from")),
    ("settings", N_("Size, steps, options, language")),
    ("status", N_("Your job's place in the queue")),
    ("cancel", N_("Stop your job or forget the images")),
)


def _duration(_: Gettext, seconds: float | None) -> str:
    seconds = max(0, round(seconds or 0))
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return _("{n} s").format(n=seconds)
