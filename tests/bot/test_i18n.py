"""The message catalogues: every message the bot can say is translated, and shipped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from nstcli.bot import i18n, texts
from nstcli.bot.i18n import LANGUAGES, pick, translator

BOT = Path(__file__).resolve().parents[2] / "nstcli" / "bot"
LOCALES = BOT / "locales"


def source_messages() -> set[str]:
    """Every msgid marked in the bot's code (`_("...")`, `N_("...")`), as pybabel sees it."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(BOT)):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != i18n.DEFAULT])
def test_catalogue_translates_every_message(language):
    with (LOCALES / language / "LC_MESSAGES" / "nst.po").open("rb") as stream:
        catalogue = read_po(stream)
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    wanted = source_messages()
    assert len(wanted) > 60  # the extraction did find the bot's messages
    missing = sorted(wanted - set(translated))
    assert not missing, f"{language} lacks {len(missing)} message(s): {missing[:5]}"
    # the placeholders survive translation ({position}, {n}...)
    for msgid, msgstr in translated.items():
        names = lambda text: sorted(part.split("}")[0] for part in text.split("{")[1:])  # noqa: E731
        assert names(msgid) == names(msgstr), msgid


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != i18n.DEFAULT])
def test_shipped_mo_matches_its_po(language):
    folder = LOCALES / language / "LC_MESSAGES"
    with (folder / "nst.po").open("rb") as stream:
        source = read_po(stream)
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    fresh = {m.id: m.string for m in read_mo(compiled) if m.id}
    with (folder / "nst.mo").open("rb") as stream:
        shipped = {m.id: m.string for m in read_mo(stream) if m.id}
    assert shipped == fresh, "run `make i18n` to recompile the catalogues"


def test_language_follows_telegram_and_falls_back_to_english():
    assert [pick(code) for code in ("ru", "ru-RU", "en-GB", "uk", None, "")] == [
        "ru",
        "ru",
        "en",
        "en",
        "en",
        "en",
    ]
    ru = translator("ru")
    assert ru(texts.GOT_CONTENT) == "Фото получено. Теперь пришлите изображение стиля."
    assert texts.queued(ru, 3, "Lite") == "⏳ Lite: в очереди, место 3."
    assert texts.running(ru, "Lite", 40, 75) == "🎨 Lite: 40% · осталось около 1:15"
    assert translator("en")(texts.GOT_CONTENT) == texts.GOT_CONTENT


def test_pyproject_ships_the_catalogues():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((BOT.parents[1] / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["nstcli.bot"]
    for language in LANGUAGES:
        if language != i18n.DEFAULT:
            assert f"locales/{language}/LC_MESSAGES/nst.mo" in shipped
            assert f"locales/{language}/LC_MESSAGES/nst.po" in shipped
    assert all((BOT / name).is_file() for name in shipped)
