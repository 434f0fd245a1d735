"""Inline-button callback data: one encoder and one decoder for every keyboard the bot draws.

A button's data is `<kind>:<key>:<ref>` — what pressing it does (`Kind`), which choice,
setting or follow-up, and what it belongs to (the keyboard's nonce, a setting's value, or
the job whose result carries it). Telegram allows 1–64 bytes, so `encode` refuses longer
data (a bug, not a user error), and `decode` answers None for anything it did not make:
forged, truncated, or from a keyboard older than this format. Old keyboards' `run:`,
`opt:` and `set:` data keep decoding, so an upgrade does not strand them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

#: Telegram's limit on callback_data, in bytes.
MAX_BYTES = 64

_PART = re.compile(r"^[A-Za-z0-9_.-]*$")


class Kind(enum.Enum):
    """What a button does; the value is its prefix in the data."""

    #: The job keyboard: run a choice (key) for the pair with this nonce (ref).
    RUN = "run"
    #: The job keyboard: toggle an option (key) on it (ref: the nonce).
    OPTION = "opt"
    #: /settings: set a field (key) to a value (ref; empty for on/off toggles).
    SETTING = "set"
    #: The gallery: use the painting (key: its slug) for the photo with this nonce (ref).
    PAINTING = "gal"
    #: An image after a result: use it as a new photo or a new style (key), nonce (ref).
    ASK = "ask"
    #: A result's follow-up (key: `FollowUp`) for the job (ref: its id).
    FOLLOW_UP = "res"
    #: A result's "same inputs, another network" (key: the choice) for the job (ref).
    RERUN = "net"


class FollowUp(enum.Enum):
    """The fixed follow-ups on a result (other networks are `Kind.RERUN`)."""

    GALLERY = "gallery"
    LESS = "less"
    MORE = "more"
    UPSCALE = "x4"


@dataclass(frozen=True)
class ButtonData:
    kind: Kind
    key: str
    ref: str = ""


def encode(kind: Kind, key: str, ref: str = "") -> str:
    """The callback data for one button; ValueError if it cannot round-trip."""
    for part in (key, ref):
        if not _PART.match(part):
            raise ValueError(f"button data part {part!r} has characters outside [A-Za-z0-9_.-]")
    data = f"{kind.value}:{key}:{ref}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"button data {data!r} is over Telegram's {MAX_BYTES} bytes")
    return data


_KINDS = {kind.value: kind for kind in Kind}


def decode(data: str | None) -> ButtonData | None:
    """The button's meaning, or None for data this bot did not make."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) == 2:  # a toggle in /settings before the ref was always written
        parts.append("")
    if len(parts) != 3 or parts[0] not in _KINDS:
        return None
    _prefix, key, ref = parts
    if not key or not _PART.match(key) or not _PART.match(ref):
        return None
    return ButtonData(_KINDS[parts[0]], key, ref)


def follow_up(data: ButtonData) -> FollowUp | None:
    """The follow-up a `Kind.FOLLOW_UP` button names (None: not one of ours)."""
    try:
        return FollowUp(data.key)
    except ValueError:
        return None
