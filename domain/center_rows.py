"""Validation of a centers CSV, one row at a time, and the spreadsheet-friendly CSV reader
that every import shares.

Operators export these files from spreadsheets, so the reader is lenient about what
spreadsheets do (a byte-order mark, semicolons and decimal commas in Russian and Ukrainian
locales, stray columns, header case) and strict about what would put a store in the wrong
place or a broken row in front of residents. Every problem is reported against the
physical line the operator sees in a text editor.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from domain.timezones import is_valid_timezone, timezone_at

__all__ = [
    "MAX_LENGTHS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CenterFileError",
    "CenterRow",
    "CsvFileError",
    "RejectedRow",
    "SpreadsheetCsv",
    "check_duplicate",
    "read_center_rows",
    "text_problems",
]

REQUIRED_COLUMNS = ("external_id", "name", "address", "city", "latitude", "longitude")
OPTIONAL_COLUMNS = ("region", "timezone", "opening_hours", "phone")

# Must match the column sizes in storage.schema: PostgreSQL would refuse a longer value
# halfway through an import, SQLite would silently store it.
MAX_LENGTHS = {
    "external_id": 64,
    "name": 200,
    "address": 300,
    "city": 100,
    "region": 100,
    "timezone": 64,
    "opening_hours": 200,
    "phone": 50,
}

# Plain decimal notation only: float() would also take "1_0", "nan" and "infinity".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# A spreadsheet's "sep=;" hint line, written before the header for Excel's sake.
_SEP_HINT = re.compile(r"sep=(.)\s*", re.IGNORECASE)

_NON_FINITE = frozenset({"nan", "inf", "infinity"})

_RANGES = (("latitude", 90.0), ("longitude", 180.0))
_LIMITS = tuple(MAX_LENGTHS.items())


class CsvFileError(ValueError):
    """The file as a whole cannot be imported (no usable header, broken quoting)."""


CenterFileError = CsvFileError


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class CenterRow:
    """A valid row, with the time zone always filled in."""

    line: int
    external_id: str
    name: str
    address: str
    city: str
    region: str | None
    latitude: float
    longitude: float
    timezone: str
    opening_hours: str | None
    phone: str | None

    def values(self) -> dict[str, Any]:
        """The row in the shape ``storage.centers.upsert_centers`` takes."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "line"}


def read_center_rows(lines: Iterable[str]) -> Iterator[CenterRow | RejectedRow]:
    """Validate CSV text line by line, yielding each data row as valid or rejected.

    ``lines`` is any iterable of text lines, typically a file opened with ``newline=""``
    so that quoted line breaks survive. Rows whose fields are all empty are skipped: they
    are the trailing separators spreadsheets leave behind. Raises :class:`CsvFileError`
    when the header is unusable or the quoting breaks down.
    """
    table = SpreadsheetCsv(lines, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    first_seen: dict[str, int] = {}
    for line, record in table.records():
        if isinstance(record, RejectedRow):
            yield record
        else:
            yield _validate(record, line, table.decimal_comma, first_seen)


class SpreadsheetCsv:
    """The data records of a CSV file as spreadsheets write it, by column name.

    Shared by every import: the header is matched case-insensitively, unknown columns are
    ignored, optional columns may be absent (their fields read as empty), every field is
    trimmed, and each record carries the physical line it starts on. Raises
    :class:`CsvFileError` at construction when the header is unusable.
    """

    def __init__(
        self, lines: Iterable[str], required: tuple[str, ...], optional: tuple[str, ...]
    ) -> None:
        remaining = iter(lines)
        first_line, delimiter, self._skipped = _sniff(remaining)
        # Russian and Ukrainian spreadsheets pair the semicolon with a decimal comma.
        self.decimal_comma = delimiter == ";"
        self._reader = csv.reader(itertools.chain([first_line], remaining), delimiter=delimiter)
        self._header = _Header.parse(
            _next_record(self._reader, self._skipped), self._skipped, required, optional
        )

    def records(self) -> Iterator[tuple[int, dict[str, str] | RejectedRow]]:
        """``(line, fields)`` per data row; a row with the wrong number of fields comes as a
        :class:`RejectedRow` instead. Rows whose fields are all empty are skipped."""
        reader, header, skipped = self._reader, self._header, self._skipped
        while True:
            # A quoted field may span lines: the row is reported where it starts.
            line = skipped + reader.line_num + 1
            record = _next_record(reader, skipped)
            if record is None:
                return
            if not any(field.strip() for field in record):
                continue
            if len(record) != header.width:
                found = len(record)
                yield line, RejectedRow(line, f"expected {header.width} fields, found {found}")
            else:
                yield line, header.fields(record)


@dataclass(frozen=True, slots=True)
class _Header:
    # Optional columns absent from the file point at index -1, where each record gets an
    # extra empty field, so every row has every column without a per-field lookup.
    positions: tuple[tuple[str, int], ...]
    width: int

    @classmethod
    def parse(
        cls,
        names: list[str] | None,
        skipped: int,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> _Header:
        expected = ", ".join(required)
        if not names or not any(name.strip() for name in names):
            raise CsvFileError(f"line {skipped + 1}: expected a header with columns {expected}")
        known = frozenset(required + optional)
        positions: dict[str, int] = {}
        for index, raw in enumerate(names):
            name = raw.strip().lower()
            if name not in known:
                continue
            if name in positions:
                raise CsvFileError(f"column {name} appears more than once in the header")
            positions[name] = index
        missing = [name for name in required if name not in positions]
        if missing:
            raise CsvFileError(
                f"missing required column(s) {', '.join(missing)}; the header must have {expected}"
            )
        absent = {name: -1 for name in optional if name not in positions}
        return cls(tuple((positions | absent).items()), len(names))

    def fields(self, record: list[str]) -> dict[str, str]:
        record.append("")
        return {name: record[index].strip() for name, index in self.positions}


def _sniff(lines: Iterator[str]) -> tuple[str, str, int]:
    """First header line, delimiter, and how many hint lines came before the header."""
    first = next(lines, "").removeprefix("\ufeff")
    hint = _SEP_HINT.fullmatch(first)
    if hint:
        return next(lines, ""), hint.group(1), 1
    # Column names never contain either character, so the commoner one is the delimiter.
    return first, ";" if first.count(";") > first.count(",") else ",", 0


def _next_record(reader: Any, skipped: int) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as error:
        # Usually an unbalanced quote that swallowed the rest of the file into one field.
        line = skipped + reader.line_num
        raise CsvFileError(f"line {line}: unreadable CSV ({error})") from error


def _validate(
    fields: dict[str, str], line: int, decimal_comma: bool, first_seen: dict[str, int]
) -> CenterRow | RejectedRow:
    problems = text_problems(fields, REQUIRED_COLUMNS, _LIMITS)
    coordinates = _coordinates(fields, decimal_comma, problems)
    _check_timezone(fields["timezone"], problems)
    check_duplicate(fields["external_id"], line, first_seen, problems)
    if problems:
        return RejectedRow(line, "; ".join(problems))
    return _center_row(fields, coordinates, line)


def text_problems(
    fields: dict[str, str], required: Iterable[str], limits: Iterable[tuple[str, int]]
) -> list[str]:
    """Problems of presence and length: each empty required field, then each field longer
    than its limit."""
    problems = [f"missing {name}" for name in required if not fields[name]]
    problems += [
        f"{name} is longer than {limit} characters ({len(fields[name])})"
        for name, limit in limits
        if len(fields[name]) > limit
    ]
    return problems


def _coordinates(
    fields: dict[str, str], decimal_comma: bool, problems: list[str]
) -> tuple[float, float]:
    values = []
    for name, limit in _RANGES:
        text = fields[name]
        if not text:
            continue  # reported as missing
        value, problem = _parse_coordinate(name, text, limit, decimal_comma)
        if problem is None:
            values.append(value)
        else:
            problems.append(problem)
    if values == [0.0, 0.0]:
        # What a failed geocoder writes; no store stands in the Gulf of Guinea.
        problems.append("latitude and longitude are both 0")
    return (values[0], values[1]) if len(values) == 2 else (math.nan, math.nan)


def _parse_coordinate(
    name: str, text: str, limit: float, decimal_comma: bool
) -> tuple[float, str | None]:
    number = text.replace(",", ".", 1) if decimal_comma and "." not in text else text
    if not _NUMBER.fullmatch(number):
        if number.lstrip("+-").lower() in _NON_FINITE:
            return 0.0, f"{name} {text!r} is not a finite number"
        return 0.0, f"{name} {text!r} is not a number"
    value = float(number)
    if not math.isfinite(value):  # "1e999"
        return 0.0, f"{name} {text!r} is not a finite number"
    if not -limit <= value <= limit:
        return 0.0, f"{name} {text} is outside -{limit:g}..{limit:g}"
    return value, None


def _check_timezone(name: str, problems: list[str]) -> None:
    if name and len(name) <= MAX_LENGTHS["timezone"] and not is_valid_timezone(name):
        problems.append(f"unknown time zone {name!r}")


def check_duplicate(
    external_id: str, line: int, first_seen: dict[str, int], problems: list[str]
) -> None:
    """Report an ``external_id`` already seen earlier in the same file."""
    if not external_id or len(external_id) > MAX_LENGTHS["external_id"]:
        return
    # Rejected rows count too: otherwise fixing the first row would only then reveal the clash.
    first = first_seen.setdefault(external_id, line)
    if first != line:
        problems.append(f"duplicate external_id {external_id!r} (first on line {first})")


def _center_row(fields: dict[str, str], coordinates: tuple[float, float], line: int) -> CenterRow:
    latitude, longitude = coordinates
    return CenterRow(
        line=line,
        external_id=fields["external_id"],
        name=fields["name"],
        address=fields["address"],
        city=fields["city"],
        region=fields["region"] or None,
        latitude=latitude,
        longitude=longitude,
        timezone=fields["timezone"] or timezone_at(latitude, longitude),
        opening_hours=fields["opening_hours"] or None,
        phone=fields["phone"] or None,
    )
