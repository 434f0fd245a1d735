"""Every sentence the bot says, in one place (short, plain, and actionable)."""

from __future__ import annotations

START = (
    "Hi! I repaint a photo in the style of a picture (neural style transfer).\n"
    "Send me the photo first, then the picture whose style you like, "
    "and pick a network on the buttons."
)
HELP = (
    "Tip: send images as files to avoid Telegram's compression.\n"
    "/settings — size, steps and options · /status — your job · "
    "/cancel — stop a job or forget the images · /help — this text"
)
REFUSED = "Sorry, this bot is private and only answers its allowed users."

GOT_CONTENT = "Got the photo. Now send the style image."
GOT_STYLE = "Got the style. Pick a network:"
NEW_PAIR = "Starting over: this image is the new photo. Now send the style image."
NEED_IMAGE_CONTENT = "Please send the photo to restyle (as a photo or an image file)."
NEED_IMAGE_STYLE = "Please send the style image now (as a photo or an image file)."
NEED_CHOICE = "Pick a network on the buttons above, or /cancel to start over."
UNKNOWN_COMMAND = "I don't know that command. /help lists what I understand."

STICKER = "Stickers can't be restyled. Please send a photo or an image file."
ANIMATED = "Animations and videos aren't supported. Please send a still image."
NOT_MEDIA = "I only understand images and commands. /help explains how to start."
CORRUPT = (
    "I couldn't read that image (damaged or an unsupported format). "
    "Please send a JPEG, PNG or WebP."
)
TOO_MANY_PIXELS = "That image has too many pixels to process safely. Please send a smaller one."
DOWNLOAD_FAILED = "I couldn't fetch that file from Telegram just now. Please send it again."
TELEGRAM_FAILED = "Telegram didn't accept the transfer just now; please try again."


def not_an_image(mime: str | None, name: str | None) -> str:
    what = mime or (name and name.rsplit(".", 1)[-1]) or "unknown"
    return f"That file ({what}) isn't an image. Please send a JPEG, PNG or WebP."


def too_big(size: int) -> str:
    return (
        f"That file is {size / 1e6:.1f} MB; Telegram only lets bots download files up to "
        "20 MB. Please send a smaller image, or send it as a photo."
    )


def downscaled(width: int, height: int, size: int) -> str:
    return f"Your image is {width}×{height}; I'll scale it down to {size} px on the longer side."


BUTTON_EXPIRED = "This button has expired. Send a new photo to start again."
QUEUED_ANSWER = "Queued"
SETTINGS_SAVED = "Saved"


def queued(position: int, what: str) -> str:
    return f"⏳ {what}: queued, position {position}."


def running(what: str, percent: int, eta_seconds: float | None) -> str:
    eta = f" · about {_duration(eta_seconds)} left" if eta_seconds is not None else ""
    return f"🎨 {what}: {percent}%{eta}"


def done(what: str, seconds: float) -> str:
    return f"✅ {what}: done in {_duration(seconds)}."


CANCELLED_STATUS = "✖ Cancelled."
FAILED_STATUS = "⚠️ Failed."
RESUMING_STATUS = "⏸ Paused: the bot is restarting; your job will resume."


def apology(reason: str) -> str:
    return f"Sorry, your job failed: {reason}"


WEIGHTS_MISSING = (
    "this network's weights aren't installed on the server. "
    "The Lite network always works: send the images again and pick Lite."
)
INTERNAL_ERROR = "an internal error. It has been logged; please try again later."

QUEUE_FULL = "The queue is full right now ({n} jobs). Please try again in a few minutes."
RATE_LIMITED = "You've started {n} jobs in the last hour, the limit here. Please try again later."
BUSY = "You already have a job {state}. Wait for it, or /cancel it first."

CANCELLED = "Cancelled your job."
STOPPING = "Stopping your job…"
CLEARED = "Forgot the images you sent. Send a new photo to start again."
NOTHING_TO_CANCEL = "There's nothing to cancel."

RESUMED_QUEUED = "The bot restarted. Your job is still in the queue (position {position})."
RESUMED_RUNNING = "The bot restarted. Your job is still running."
RESUMED_REQUEUED = "The bot restarted while your job ran; it starts again from the queue."


def status(position: int | None, running_now: bool, pending: str | None) -> str:
    if running_now:
        return "Your job is running now."
    if position is not None:
        return f"Your job is number {position} in the queue."
    return pending or "You have no job. Send a photo to start."


def _duration(seconds: float | None) -> str:
    seconds = max(0, round(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
