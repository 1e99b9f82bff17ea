"""Every message the code can show exists, non-empty and well-formed, in ru, uk and en."""

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("ru", "uk", "en")
KEYWORDS = {"_": None, "__": None, "N_": None, "gettext": None, "lazy_gettext": None}


def code_messages() -> set[str]:
    found = set()
    for package in ("bot", "handlers", "domain"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str):
    with open(ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=locale)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def tags(text: str) -> list[str]:
    return re.findall(r"</?[a-z]+", text)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale):
    translations = {m.id: m.string for m in catalog(locale) if m.id}
    missing = sorted(m for m in code_messages() if not translations.get(m))
    assert not missing, f"{locale}: no translation for {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_placeholders_and_markup(locale):
    for message in catalog(locale):
        if not message.id or not message.string:
            continue
        assert placeholders(message.string) == placeholders(message.id), message.id
        assert tags(message.string) == tags(message.id), message.id


def test_translations_differ_from_english_where_they_should():
    # A msgid copied untranslated into ru/uk is a common slip the emptiness check misses.
    ru = {m.id: m.string for m in catalog("ru") if m.id}
    copied = [msgid for msgid, text in ru.items() if text == msgid and re.search("[a-z]{3}", msgid)]
    assert not copied


def test_catalogs_have_no_stale_messages():
    in_code = code_messages()
    for locale in LOCALES:
        stale = sorted(m.id for m in catalog(locale) if m.id and m.id not in in_code)
        assert not stale, f"{locale}: messages no longer in the code: {stale}"
