"""The built-in gallery: nine public-domain paintings shipped as package data.

One module for every front end: the CLI lists them (`nst styles`) and takes a slug
wherever a style image is asked for; the bot offers them as buttons. The images and
`data/manifest.json` (titles, artists, years, rights, provenance; English and Russian)
are read with `importlib.resources`, so they work from a wheel, `--target` or an
editable install alike. Torch-free: `nst styles` and the bot's menus stay quick.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from nstcli.engine.errors import InputError

if TYPE_CHECKING:
    from PIL import Image

#: Extensions that mark a style argument as a file name even when no such file exists,
#: so `nst stylize photo.jpg typo.jpg` says "not found" instead of "unknown painting".
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


@dataclass(frozen=True)
class Painting:
    """One gallery entry: what the manifest says about it, and its file's name."""

    slug: str
    file: str
    title: str
    artist: str
    artist_died: int
    #: As the catalogue gives it: "1889", "c. 1805".
    year: str
    title_ru: str
    artist_ru: str
    provenance: str
    rights: str

    def title_in(self, language: str) -> str:
        """The title in the bot's `language` ("ru" or anything else for English)."""
        return self.title_ru if language == "ru" else self.title

    def artist_in(self, language: str) -> str:
        return self.artist_ru if language == "ru" else self.artist

    def year_in(self, language: str) -> str:
        """The year, "c. 1805" as "ок. 1805" in Russian."""
        return self.year.replace("c. ", "ок. ") if language == "ru" else self.year

    def open(self) -> Image.Image:
        """The painting as an RGB image, read through the project's one image loader."""
        from nstcli.engine.images import load_image

        with resources.as_file(_data().joinpath(self.file)) as path:
            return load_image(path)


def _data():  # -> importlib.resources.abc.Traversable
    return resources.files(__name__).joinpath("data")


@functools.cache
def paintings() -> tuple[Painting, ...]:
    """Every painting, in the manifest's (and the contact sheet's) order."""
    manifest = json.loads(_data().joinpath("manifest.json").read_text(encoding="utf-8"))
    return tuple(Painting(**entry) for entry in manifest["paintings"])


def slugs() -> tuple[str, ...]:
    return tuple(painting.slug for painting in paintings())


def find(name: str, unknown: str = "no painting called {name!r} in the gallery") -> Painting:
    """The painting whose slug is `name`, or the only one it is a prefix of.

    Case and `_`/`-` are not told apart (`Starry_Night` finds `starry-night`). Unknown or
    ambiguous names are an `InputError` on one line that lists the names (`unknown` is
    the start of that line, formatted with `name`).
    """
    key = name.strip().lower().replace("_", "-")
    by_slug = {painting.slug: painting for painting in paintings()}
    if key in by_slug:
        return by_slug[key]
    matches = [slug for slug in by_slug if key and slug.startswith(key)]
    if len(matches) == 1:
        return by_slug[matches[0]]
    if matches:
        raise InputError(f"{name!r} could be any of: {', '.join(matches)}; give more letters")
    raise InputError(f"{unknown.format(name=name)}; paintings: {', '.join(by_slug)}")


@dataclass(frozen=True)
class StyleSource:
    """Where a style argument points: a file, or a gallery painting."""

    argument: str
    path: Path | None = None
    painting: Painting | None = None

    @property
    def name(self) -> str:
        """A short name for output files and captions: the file's stem or the slug."""
        return self.painting.slug if self.painting else Path(self.argument).stem

    @property
    def label(self) -> str:
        """For captions: the painting's title, or the file's name."""
        return self.painting.title if self.painting else Path(self.argument).name

    def open(self) -> Image.Image:
        from nstcli.engine.images import load_image

        return self.painting.open() if self.painting else load_image(self.argument)


def style_source(argument: str | Path) -> StyleSource:
    """Resolve a style argument: an existing file always wins; then a gallery slug.

    Something that looks like a file name (a folder part or an image extension) stays a
    file, so a missing one is reported as a missing file. Raises `InputError` for a name
    that is neither a file nor a painting.
    """
    text = str(argument)
    path = Path(text)
    if path.exists() or len(path.parts) > 1 or path.suffix.lower() in _IMAGE_SUFFIXES:
        return StyleSource(text, path=path)
    return StyleSource(text, painting=find(text, "no file or gallery painting called {name!r}"))
