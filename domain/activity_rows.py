"""Validation of an activities CSV, one row at a time.

The file is read like a centers file (see :mod:`domain.center_rows`: the same spreadsheet
leniency, the same line numbers, all of a row's problems in one reason). A row is a one-off
activity, or, when ``repeat_weekdays`` is filled in, a weekly series whose first date is
``date``. Dates and times are local to the center; whether a one-off activity lies in the
past is therefore judged in the center's own time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.activities import Category
from domain.center_rows import (
    RejectedRow,
    SpreadsheetCsv,
    check_duplicate,
    text_problems,
)
from domain.recurrence import (
    EVERY_WEEKS,
    WeeklyRule,
    format_weekdays,
    local_to_utc,
    occurrences,
    parse_local_time,
    parse_weekdays,
)

__all__ = [
    "CAPACITY",
    "DURATION_MINUTES",
    "MAX_COMPANIONS",
    "MAX_LENGTHS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "VOLUNTEER_PLACES",
    "ActivityRow",
    "read_activity_rows",
]

REQUIRED_COLUMNS = (
    "external_id",
    "center_external_id",
    "title",
    "category",
    "date",
    "start",
    "duration_minutes",
)
OPTIONAL_COLUMNS = (
    "description",
    "place_note",
    "capacity",
    "max_companions",
    "volunteer_role",
    "volunteer_places",
    "repeat_weekdays",
    "every_weeks",
    "until",
)

# The column sizes in storage.schema; a description must also fit on an activity's card.
MAX_LENGTHS = {
    "external_id": 64,
    "center_external_id": 64,
    "title": 200,
    "description": 2000,
    "place_note": 200,
    "volunteer_role": 100,
}

# Inclusive ranges of the numeric columns.
DURATION_MINUTES = (15, 720)
CAPACITY = (0, 10_000)
MAX_COMPANIONS = (0, 10)
VOLUNTEER_PLACES = (0, 100)

_LIMITS = tuple(MAX_LENGTHS.items())
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"[+-]?\d+")
_CATEGORIES = ", ".join(Category)


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """A valid row, with the center's time zone filled in."""

    line: int
    external_id: str
    center_external_id: str
    timezone: str
    title: str
    category: Category
    date: date  # the date of a one-off activity, the first date of a series
    start: time
    duration_minutes: int
    description: str
    place_note: str | None
    capacity: int | None  # None: unlimited; 0: volunteers only
    max_companions: int
    volunteer_role: str | None
    volunteer_places: int
    repeat_weekdays: frozenset[int] | None  # None: a one-off activity
    every_weeks: int
    until: date | None

    @property
    def is_series(self) -> bool:
        return self.repeat_weekdays is not None

    @property
    def accepts_participants(self) -> bool:
        return self.capacity != 0

    def starts_at(self) -> datetime:
        """When a one-off activity starts, in UTC."""
        return local_to_utc(self.date, self.start, self.timezone)

    def rule(self) -> WeeklyRule:
        if self.repeat_weekdays is None:
            raise ValueError(f"line {self.line} is a one-off activity, not a series")
        return WeeklyRule(
            weekdays=self.repeat_weekdays,
            local_time=self.start,
            duration_minutes=self.duration_minutes,
            first_date=self.date,
            last_date=self.until,
            every_weeks=self.every_weeks,
        )

    def activity_values(self) -> dict[str, Any]:
        """A one-off row in the shape of ``storage.schema.activities`` (``center_id`` and
        ``created_at`` are the caller's)."""
        starts_at = self.starts_at()
        return {
            "external_id": self.external_id,
            **self._shared_values(),
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=self.duration_minutes),
        }

    def series_values(self) -> dict[str, Any]:
        """A series row in the shape of ``storage.schema.activity_series`` (``center_id`` and
        ``created_at`` are the caller's)."""
        rule = self.rule()
        return {
            "external_id": self.external_id,
            **self._shared_values(),
            "weekdays": format_weekdays(rule.weekdays),
            "every_weeks": rule.every_weeks,
            "local_time": rule.local_time.strftime("%H:%M"),
            "duration_minutes": rule.duration_minutes,
            "first_date": rule.first_date,
            "last_date": rule.last_date,
        }

    def _shared_values(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "category": self.category.value,
            "place_note": self.place_note,
            "capacity": self.capacity,
            "max_companions": self.max_companions,
            "accepts_participants": self.accepts_participants,
            "volunteer_role": self.volunteer_role,
            "volunteer_places": self.volunteer_places,
        }


def read_activity_rows(
    lines: Iterable[str], *, centers: Mapping[str, str], now: datetime
) -> Iterator[ActivityRow | RejectedRow]:
    """Validate CSV text line by line, yielding each data row as valid or rejected.

    ``centers`` maps the ``external_id`` of every known center to its time zone; ``now``
    (aware) decides what is in the past. Raises :class:`domain.center_rows.CsvFileError`
    when the header is unusable or the quoting breaks down.
    """
    table = SpreadsheetCsv(lines, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    first_seen: dict[str, int] = {}
    for line, record in table.records():
        if isinstance(record, RejectedRow):
            yield record
        else:
            yield _validate(record, line, centers, now, first_seen)


class _Fields:
    """Parses the fields of one row, collecting every problem instead of stopping at one."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.problems = text_problems(fields, REQUIRED_COLUMNS, _LIMITS)

    def text(self, name: str) -> str | None:
        return self.fields[name] or None

    def category(self) -> Category | None:
        text = self.fields["category"]
        if not text:
            return None
        try:
            return Category(text.lower())
        except ValueError:
            self.problems.append(f"unknown category {text!r} (one of {_CATEGORIES})")
            return None

    def date(self, name: str) -> date | None:
        text = self.fields[name]
        if not text:
            return None
        try:
            if _DATE.fullmatch(text):
                return date.fromisoformat(text)
        except ValueError:
            pass
        self.problems.append(f"{name} {text!r} is not a date (YYYY-MM-DD)")
        return None

    def time(self, name: str) -> time | None:
        text = self.fields[name]
        if not text:
            return None
        try:
            return parse_local_time(text)
        except ValueError:
            self.problems.append(f"{name} {text!r} is not a time (HH:MM)")
            return None

    def integer(self, name: str, limits: tuple[int, int], default: int | None) -> int | None:
        text = self.fields[name]
        if not text:
            return default
        if not _INTEGER.fullmatch(text):
            self.problems.append(f"{name} {text!r} is not a whole number")
            return None
        value = int(text)
        low, high = limits
        if not low <= value <= high:
            self.problems.append(f"{name} {value} is outside {low}..{high}")
            return None
        return value

    def weekdays(self) -> frozenset[int] | None:
        text = self.fields["repeat_weekdays"]
        if not text:
            return None
        try:
            return parse_weekdays(text)
        except ValueError:
            self.problems.append(
                f"repeat_weekdays {text!r} is not a list of ISO weekdays 1..7 (such as 1,3)"
            )
            return None

    def every_weeks(self) -> int | None:
        text = self.fields["every_weeks"]
        if not text:
            return 1
        if not (_INTEGER.fullmatch(text) and int(text) in EVERY_WEEKS):
            self.problems.append(f"every_weeks {text!r} must be 1 or 2")
            return None
        return int(text)


def _validate(
    fields: dict[str, str],
    line: int,
    centers: Mapping[str, str],
    now: datetime,
    first_seen: dict[str, int],
) -> ActivityRow | RejectedRow:
    parsed = _Fields(fields)
    problems = parsed.problems
    category = parsed.category()
    day = parsed.date("date")
    start = parsed.time("start")
    duration = parsed.integer("duration_minutes", DURATION_MINUTES, None)
    capacity = parsed.integer("capacity", CAPACITY, None)
    companions = parsed.integer("max_companions", MAX_COMPANIONS, 0)
    places = parsed.integer("volunteer_places", VOLUNTEER_PLACES, 0)
    weekdays = parsed.weekdays()
    every_weeks = parsed.every_weeks()
    until = parsed.date("until")
    role = parsed.text("volunteer_role")

    if places and not role:
        problems.append(f"volunteer_places {places} needs a volunteer_role")
    if role and places == 0:
        problems.append("volunteer_role needs volunteer_places of 1 or more")
    if capacity == 0 and places == 0:
        problems.append("capacity 0 and no volunteer_places: nobody could sign up")
    if not fields["repeat_weekdays"]:
        problems += [
            f"{name} is only for a series (fill in repeat_weekdays)"
            for name in ("every_weeks", "until")
            if fields[name]
        ]
    if day and until and until < day:
        problems.append(f"until {until} is before date {day}")

    center = fields["center_external_id"]
    zone_name = centers.get(center)
    if center and zone_name is None and len(center) <= MAX_LENGTHS["center_external_id"]:
        problems.append(f"unknown center {center!r}")
    # Past dates are judged only on a readable schedule, so that no reason is a consequence
    # of another one.
    readable = (
        (weekdays or not fields["repeat_weekdays"])
        and (until or not fields["until"])
        and not (day and until and until < day)
    )
    if zone_name and day and start and duration and every_weeks and readable:
        _check_timing(weekdays, every_weeks, day, start, duration, until, zone_name, now, problems)
    check_duplicate(fields["external_id"], line, first_seen, problems)
    if problems or not (category and day and start and duration and zone_name):
        return RejectedRow(line, "; ".join(problems))
    return ActivityRow(
        line=line,
        external_id=fields["external_id"],
        center_external_id=fields["center_external_id"],
        timezone=zone_name,
        title=fields["title"],
        category=category,
        date=day,
        start=start,
        duration_minutes=duration,
        description=fields["description"],
        place_note=parsed.text("place_note"),
        capacity=capacity,
        max_companions=companions or 0,
        volunteer_role=role,
        volunteer_places=places or 0,
        repeat_weekdays=weekdays,
        every_weeks=every_weeks or 1,
        until=until,
    )


def _check_timing(
    weekdays: frozenset[int] | None,
    every_weeks: int,
    day: date,
    start: time,
    duration: int,
    until: date | None,
    zone_name: str,
    now: datetime,
    problems: list[str],
) -> None:
    zone = ZoneInfo(zone_name)
    if weekdays is None:
        if local_to_utc(day, start, zone) <= now:
            problems.append(f"{day} {start:%H:%M} is in the past ({zone_name})")
        return
    if until is None:
        return
    if until < now.astimezone(zone).date():
        problems.append(f"until {until} is in the past ({zone_name})")
        return
    rule = WeeklyRule(weekdays, start, duration, day, until, every_weeks)
    if next(occurrences(rule, zone, day, until), None) is None:
        problems.append(f"no date from {day} to {until} falls on repeat_weekdays")
