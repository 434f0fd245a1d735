"""The user's language: gettext catalogues shipped in the package (Babel builds them).

Sources: `nstcli/bot/locales/<lang>/LC_MESSAGES/nst.po`; `make i18n` (pybabel extract /
update / compile) refreshes them and the compiled `.mo` files that ship in the wheel.
English is the msgid language, so it needs no catalogue.
"""

from __future__ import annotations

import functools
import gettext
from importlib import resources
from typing import Protocol

DOMAIN = "nst"
DEFAULT = "en"
#: Languages a user can pick in /settings, with their names in that language.
LANGUAGES = {"en": "English", "ru": "Русский"}


class Gettext(Protocol):
    """`_`: msgid → the sentence in one language; `_.ngettext` for a count's form;
    `_.language` its code, for text that is not in the catalogue (painting titles)."""

    language: str

    def __call__(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


class Translator:
    """One language's `_`, with `ngettext` for counts (Russian has three forms:
    1 шаг, 3 шага, 5 шагов)."""

    def __init__(self, translation: gettext.NullTranslations, language: str = DEFAULT) -> None:
        self._translation = translation
        self.language = language

    def __call__(self, message: str, /) -> str:
        return self._translation.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int, /) -> str:
        return self._translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a module-level message for extraction; it is translated where it is used."""
    return message


def pick(language_code: str | None) -> str:
    """Telegram's `from_user.language_code` ("ru", "ru-RU", "en-GB"...) → a language we speak."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    if language == DEFAULT or language not in LANGUAGES:
        return gettext.NullTranslations()
    catalogue = resources.files("nstcli.bot").joinpath(
        "locales", language, "LC_MESSAGES", f"{DOMAIN}.mo"
    )
    with catalogue.open("rb") as stream:
        return gettext.GNUTranslations(stream)


@functools.cache
def translator(language: str) -> Translator:
    """`_` for one language: msgid (English) → that language's sentence."""
    return Translator(translation(language), language if language in LANGUAGES else DEFAULT)
