"""Every message the code can show exists, non-empty and well-formed, in ru, uk and en."""

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("ru", "uk", "en")
KEYWORDS = {
    "_": None,
    "__": None,
    "N_": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
}


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


def entries(locale: str) -> dict[str, list[str]]:
    """Message id (the singular one for plurals) -> its translations (one per plural form)."""
    found = {}
    for message in catalog(locale):
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found[key] = list(strings)
    return found


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def tags(text: str) -> list[str]:
    return re.findall(r"</?[a-z]+", text)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale):
    translations = entries(locale)
    missing = sorted(m for m in code_messages() if not all(translations.get(m, [""])))
    assert not missing, f"{locale}: no translation for {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_placeholders_and_markup(locale):
    for msgid, strings in entries(locale).items():
        for text in strings:
            assert placeholders(text) == placeholders(msgid), msgid
            assert tags(text) == tags(msgid), msgid


@pytest.mark.parametrize("locale", ["ru", "uk"])
def test_translations_differ_from_english_where_they_should(locale):
    # A msgid copied untranslated into ru/uk is a common slip the emptiness check misses.
    copied = [
        msgid
        for msgid, strings in entries(locale).items()
        if msgid in strings and re.search("[a-z]{3}", msgid)
    ]
    assert not copied


def test_catalogs_have_no_stale_messages():
    in_code = code_messages()
    for locale in LOCALES:
        stale = sorted(m for m in entries(locale) if m not in in_code)
        assert not stale, f"{locale}: messages no longer in the code: {stale}"
