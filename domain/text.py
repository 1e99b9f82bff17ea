"""Search keys: one spelling for what residents type in Russian, Ukrainian or Latin letters."""

from __future__ import annotations

import re
import unicodedata

# Letters fold to a rough Latin skeleton: "Екатеринбург", "екатеринбург" and "Ekaterinburg"
# (or "Yekaterinburg") meet in the same key. Lossy on purpose: it only has to make matches.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "e",
    "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h",
    "ц": "c", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
}  # fmt: skip
_LATIN_VARIANTS = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("kh", "h"),
    ("ts", "c"),
    ("tz", "c"),
    ("yu", "iu"),
    ("ju", "iu"),
    ("ya", "ia"),
    ("ja", "ia"),
    ("yo", "e"),
    ("jo", "e"),
    ("ye", "e"),
    ("je", "e"),
    ("y", "i"),
    ("j", "i"),
    ("w", "v"),
    ("x", "ks"),
    # Ukrainian writes г as h (Myrhorod), Russian as g (Mirgorod): one letter for both.
    ("h", "g"),
)
_TRANSLATE = str.maketrans(_CYRILLIC)
_NON_WORD = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1+")  # letters only: house 100 is not house 10


def fold(text: str) -> str:
    """The search skeleton of any text: lower case, Latin, single spaces between words."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_TRANSLATE)
    # Diacritics (é, ü) dropped after the Cyrillic pass so that й and ё are not decomposed.
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    for variant, skeleton in _LATIN_VARIANTS:
        text = text.replace(variant, skeleton)
    # "Ekaterinburg" vs "Jekatierinburg" aside, doubled letters are the commonest slip.
    text = _REPEATS.sub(r"\1", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def search_terms(query: str, *, max_terms: int = 5) -> list[str]:
    """Words of a query worth matching: folded, at least two characters, at most a few."""
    words = [word for word in fold(query).split() if len(word) >= 2]
    return words[:max_terms]


# English names that transliteration cannot reach ("Moscow" is not "Moskva").
_EXONYMS = {
    "moskva": "moscow",
    "sankt peterburg": "saint petersburg st petersburg",
    "kiv": "kiev",
    "kiev": "kyiv",
    "arhangelsk": "archangel",
}


def exonym(city: str) -> str:
    """The English name of a city where its transliteration is not what people type."""
    return _EXONYMS.get(fold(city), "")
