"""The gallery in the bot: a painting as a style input, its buttons, and the numbered sheet.

A painting picked on the gallery's buttons becomes the pair's style like an uploaded
image would, as a `FileRef` of kind "gallery" whose file id is the painting's slug; the
worker opens the packaged painting instead of downloading anything. The sheet is drawn
once per language (`sheet_jpeg`, kept in memory and in the bot's data folder, so neither
a restart nor another user redraws it); the bot sends it by Telegram's file id once
it has uploaded it (`actions.GallerySender`), so showing the gallery costs neither a
redraw nor an upload per user. No Telegram here: the conversation uses this module.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from importlib import resources
from pathlib import Path

from PIL import Image

from nstcli import gallery
from nstcli.bot.buttons import Kind, encode
from nstcli.bot.imaging import encode as encode_image
from nstcli.bot.models import FileRef
from nstcli.engine.atomic import atomic_write
from nstcli.engine.errors import NstError

log = logging.getLogger("nstcli.bot.paintings")

#: Bump when the sheet is drawn differently, so the copies stored by `sheet_jpeg` are redrawn.
SHEET_VERSION = 1

#: `FileRef.kind` of a packaged painting.
GALLERY = "gallery"

#: Keyboard rows of (label, callback data), as `TelegramIO` takes them.
Keyboard = list[list[tuple[str, str]]]


def by_slug(slug: str) -> gallery.Painting | None:
    """The painting with exactly this slug (a button names it whole), or None."""
    return next((p for p in gallery.paintings() if p.slug == slug), None)


def ref_of(painting: gallery.Painting) -> FileRef:
    """The painting as a pair's style input."""
    return FileRef(painting.slug, f"{GALLERY}-{painting.slug}", kind=GALLERY)


def painting_of(ref: FileRef) -> gallery.Painting | None:
    """The painting `ref` stands for (None: an image the user sent)."""
    return by_slug(ref.file_id) if ref.kind == GALLERY else None


def open_painting(ref: FileRef) -> Image.Image:
    """A gallery ref's packaged painting; an `NstError` if this version lacks it."""
    painting = painting_of(ref)
    if painting is None:
        raise NstError(f"the gallery has no painting {ref.file_id!r}")
    return painting.open()


def keyboard(nonce: str, language: str) -> Keyboard:
    """One button per painting, numbered as on the sheet and titled in `language`."""
    return [
        [(f"{number}. {painting.title_in(language)}", encode(Kind.PAINTING, painting.slug, nonce))]
        for number, painting in enumerate(gallery.paintings(), start=1)
    ]


_sheets: dict[str, bytes] = {}
_sheets_lock = threading.Lock()


def sheet_jpeg(language: str, folder: Path | None = None) -> bytes:
    """The numbered contact sheet with titles in `language`: drawn once, then kept in
    memory and, given a `folder`, on disk for the next start (drawing it takes a second
    or two of CPU and imports matplotlib's fonts; reading it back takes milliseconds)."""
    with _sheets_lock:
        if language not in _sheets:
            path = folder / _sheet_name(language) if folder is not None else None
            stored = _read(path) if path is not None else None
            _sheets[language] = stored if stored is not None else _draw(language, path)
        return _sheets[language]


def _sheet_name(language: str) -> str:
    """The stored sheet's name: its language, the drawing's version and the manifest's
    digest, so a new gallery or drawing never shows an old sheet."""
    manifest = resources.files(gallery.__name__).joinpath("data", "manifest.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()[:12]
    return f"sheet-{language}-v{SHEET_VERSION}-{digest}.jpg"


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(b"\xff\xd8") else None  # a JPEG, not something else


def _draw(language: str, path: Path | None) -> bytes:
    from nstcli.render.gallery import gallery_sheet

    data = encode_image(gallery_sheet(gallery.paintings(), language, heading=""), "JPEG", 85)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as stream:
                stream.write(data)
        except OSError as error:  # only the next start's shortcut is lost
            log.warning("could not keep the gallery sheet in %s: %s", path.parent, error)
    return data
