"""An activity's participants as a CSV file for coordinators, made to open in Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# Excel takes a file as UTF-8 only with a byte order mark; without one Cyrillic turns into
# mojibake. It also splits columns on the system's list separator: a semicolon where the
# decimal separator is a comma (Russian, Ukrainian), a comma in English.
_BOM = "\ufeff"
_SEMICOLON_LOCALES = frozenset({"ru", "uk"})
# A cell starting with one of these is a formula to a spreadsheet: a name like "=HYPERLINK(…)"
# would run when the file is opened. A leading apostrophe makes it plain text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def delimiter_for(locale: str) -> str:
    return ";" if locale.split("_", 1)[0] in _SEMICOLON_LOCALES else ","


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def roster_csv(header: Sequence[str], rows: Iterable[Sequence[object]], *, locale: str) -> bytes:
    """The header and rows as UTF-8 CSV with a byte order mark, CRLF line ends (what Excel
    writes itself) and the delimiter of ``locale``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter_for(locale), lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return (_BOM + buffer.getvalue()).encode("utf-8")
