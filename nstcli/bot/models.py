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
    kind: str = "photo"  # "photo" or "document"

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content.to_dict() if self.content else None,
            "style": self.style.to_dict() if self.style else None,
            "nonce": self.nonce,
            "options": list(self.options),
            "settings": self.settings.to_dict(),
            "album": self.album,
            "album_told": self.album_told,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserState:
        return cls(
            content=FileRef.from_dict(data["content"]) if data.get("content") else None,
            style=FileRef.from_dict(data["style"]) if data.get("style") else None,
            nonce=data.get("nonce"),
            options=tuple(data.get("options", ())),
            settings=UserSettings.from_dict(data.get("settings", {})),
            album=data.get("album"),
            album_told=bool(data.get("album_told", False)),
        )


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

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["content"] = self.content.to_dict()
        data["style"] = self.style.to_dict()
        data["options"] = list(self.options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        values = dict(data)
        values["content"] = FileRef.from_dict(values["content"])
        values["style"] = FileRef.from_dict(values["style"])
        values["options"] = tuple(values.get("options", ()))
        return cls(**values)


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

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED
