"""Plain records shared by the store, the conversation and the workers.

All of them convert to and from JSON-ready dicts, which is how they are stored in SQLite
and how a job travels through the task queue (no pickled classes cross processes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Job states. "queued"/"running" are unfinished; the rest are final.
UNFINISHED = ("queued", "running")
FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class FileRef:
    """An image the user sent, as Telegram knows it (we keep ids, not bytes)."""

    file_id: str
    unique_id: str
    width: int | None = None
    height: int | None = None
    size: int | None = None
    #: How Telegram delivered it: "photo", "document", "animation", "video", "video_note";
    #: or "gallery" (a packaged painting; file_id is its slug).
    kind: str = "photo"
    #: What it is, decided once at intake: "image" (a still) or "clip" (a moving picture).
    media: str = "image"
    #: A clip's frames and their rate after the bot's subsampling (None for an image).
    frames: int | None = None
    fps: float | None = None

    @property
    def is_clip(self) -> bool:
        return self.media == "clip"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRef:
        return cls(**data)


@dataclass(frozen=True)
class UserSettings:
    """Per-user defaults, changed with /settings. None means "the bot's default"."""

    backbone: str = "lite"
    size: int | None = None
    steps: int | None = None
    preserve_color: bool = False
    full_quality: bool = False
    #: Extra options (e.g. "upscale") registered through `choices.register_choice`.
    options: tuple[str, ...] = ()
    #: "en"/"ru"; None follows the user's Telegram language.
    language: str | None = None
    #: Show the image as it forms in the status message.
    preview: bool = True
    #: 0 (the photo) to 1 (most style); None: the engine's default.
    strength: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["options"] = list(self.options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["options"] = tuple(values.get("options", ()))
        return cls(**values)


@dataclass(frozen=True)
class UserState:
    """Where one user is in the conversation; saved before every reply."""

    content: FileRef | None = None
    style: FileRef | None = None
    #: Identifies the current choice keyboard; buttons carrying another nonce are stale.
    nonce: str | None = None
    #: Options toggled on the current choice keyboard (start from the user's settings).
    options: tuple[str, ...] = ()
    settings: UserSettings = field(default_factory=UserSettings)
    #: The album (media_group_id) the current pair came from, and whether the user was
    #: told that its extra images are ignored.
    album: str | None = None
    album_told: bool = False
    #: Identifies the gallery shown for the current photo (its buttons carry it).
    photo_nonce: str | None = None
    #: The last job's photo and id, kept for "a new style for the last photo" (the service
    #: drops them once the job's inputs expire).
    last: FileRef | None = None
    last_job: str | None = None
    #: An image sent after a result, waiting for "new photo or new style?" (`nonce`).
    asking: FileRef | None = None

    def to_dict(self) -> dict[str, Any]:
        refs = ("content", "style", "last", "asking")
        data = dataclasses.asdict(self)
        data.update({key: _ref_dict(getattr(self, key)) for key in refs})
        data["options"] = list(self.options)
        data["settings"] = self.settings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserState:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("content", "style", "last", "asking"):
            values[key] = FileRef.from_dict(data[key]) if data.get(key) else None
        values["options"] = tuple(values.get("options", ()))
        values["settings"] = UserSettings.from_dict(data.get("settings", {}))
        values["album_told"] = bool(values.get("album_told", False))
        return cls(**values)


def _ref_dict(ref: FileRef | None) -> dict[str, Any] | None:
    return ref.to_dict() if ref else None


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker anywhere needs to run one job; travels as the task argument."""

    job_id: str
    attempt: int
    user_id: int
    chat_id: int
    choice: str
    content: FileRef
    style: FileRef
    size: int
    steps: int
    preserve_color: bool = False
    full_quality: bool = False
    options: tuple[str, ...] = ()
    status_message_id: int | None = None
    #: The user's language for the worker's messages ("en"/"ru").
    language: str = "en"
    #: Show intermediate images in the status message (it is then a photo).
    preview: bool = False
    #: 0 (the photo) to 1 (most style); None: the engine's default.
    strength: float | None = None
    #: The finished result a follow-up choice works on (×4 of that result).
    source: FileRef | None = None
    #: Follow-up buttons each result carries, as (label, callback data) rows.
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = ()
    #: Whether the worker leaves the inputs for follow-ups (the bot deletes them later).
    keep_inputs: bool = False
    #: Jobs this one counts as toward the rate limit (a clip: one per N frames).
    weight: int = 1

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["content"] = self.content.to_dict()
        data["style"] = self.style.to_dict()
        data["source"] = _ref_dict(self.source)
        data["options"] = list(self.options)
        data["keyboard"] = [[list(button) for button in row] for row in self.keyboard]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        values = dict(data)
        values["content"] = FileRef.from_dict(values["content"])
        values["style"] = FileRef.from_dict(values["style"])
        values["source"] = FileRef.from_dict(values["source"]) if values.get("source") else None
        values["options"] = tuple(values.get("options", ()))
        values["keyboard"] = tuple(
            tuple((label, data) for label, data in row) for row in values.get("keyboard", ())
        )
        return cls(**values)

    def inputs(self) -> tuple[FileRef, ...]:
        """Every file this job reads."""
        return (self.content, self.style) + ((self.source,) if self.source else ())


@dataclass(frozen=True)
class Delivered:
    """One result as sent: the message that carries its buttons, and the file it holds
    (the best copy: the PNG document when one was sent, else the photo)."""

    message_id: int
    ref: FileRef

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "ref": self.ref.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivered:
        return cls(int(data["message_id"]), FileRef.from_dict(data["ref"]))


@dataclass(frozen=True)
class JobRecord:
    """A job as the bot's store keeps it."""

    spec: JobSpec
    status: str
    created: float
    task_id: str | None = None
    started: float | None = None
    finished: float | None = None
    worker: str | None = None
    error: str | None = None
    #: The status text the bot itself last put in the job's status message.
    shown: str | None = None
    #: The results as delivered (for their follow-up buttons).
    results: tuple[Delivered, ...] = ()

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED
