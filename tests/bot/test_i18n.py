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
    # a plural entry (ngettext) is keyed by its singular and needs every form
    translated = {
        (m.id[0] if m.pluralizable else m.id): (m.id, m.string)
        for m in catalogue
        if m.id and not m.fuzzy and (all(m.string) if m.pluralizable else m.string)
    }
    wanted = source_messages()
    assert len(wanted) > 60  # the extraction did find the bot's messages
    missing = sorted(wanted - set(translated))
    assert not missing, f"{language} lacks {len(missing)} message(s): {missing[:5]}"
    assert any(isinstance(ids, tuple) for ids, _strings in translated.values())
    # the placeholders survive translation ({position}, {n}...), in every plural form
    names = lambda text: sorted(part.split("}")[0] for part in text.split("{")[1:])  # noqa: E731
    for ids, strings in translated.values():
        for msgstr in strings if isinstance(strings, tuple) else (strings,):
            assert names(ids if isinstance(ids, str) else ids[-1]) == names(msgstr), ids


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != i18n.DEFAULT])
def test_shipped_mo_matches_its_po(language):
    folder = LOCALES / language / "LC_MESSAGES"
    with (folder / "nst.po").open("rb") as stream:
        source = read_po(stream)
    compiled = io.BytesIO()
    write_mo(compiled, source)
    compiled.seek(0)
    fresh = {str(m.id): str(m.string) for m in read_mo(compiled) if m.id}
    with (folder / "nst.mo").open("rb") as stream:
        shipped = {str(m.id): str(m.string) for m in read_mo(stream) if m.id}
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
    # counts take the plural form their number asks for (ngettext), in both languages
    assert [texts.steps_label(ru, n) for n in (1, 3, 5, 11, 21, 22, 150)] == [
        "1 шаг", "3 шага", "5 шагов", "11 шагов", "21 шаг", "22 шага", "150 шагов",
    ]  # fmt: skip
    en = translator("en")
    assert [texts.steps_label(en, n) for n in (1, 3)] == ["1 step", "3 steps"]
    assert texts.result_caption(ru, "Lite", 512, 3) == "Lite · 512 пикс. · 3 шага"
    assert texts.result_caption(en, "Lite", 512, 1) == "Lite · 512 px · 1 step"
    assert "(2 задачи)" in texts.queue_full(ru, 2) and "(5 задач)" in texts.queue_full(ru, 5)
    assert "(1 job)" in texts.queue_full(en, 1)
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
