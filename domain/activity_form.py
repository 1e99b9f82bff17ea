"""The coordinator's form for a new activity or shift: reading what was typed, checking it,
and the rows it becomes. The dialog (handlers.coord_new) asks; this decides.

Dates and times are the center's wall-clock time, as people say them there; they become UTC
only through :func:`domain.recurrence.local_to_utc`, the one conversion the weekly series use
as well, so a one-off at 18:30 and a series at 18:30 start at the same instant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from domain.activities import Category
from domain.recurrence import (
    WeeklyRule,
    format_weekdays,
    local_to_utc,
    occurrences,
    parse_local_time,
)

# The columns' lengths, and what a chat message holds comfortably.
MAX_TITLE: Final = 200
MAX_DESCRIPTION: Final = 2000
MAX_PLACE: Final = 200
MAX_ROLE: Final = 100
MAX_CAPACITY: Final = 10_000
MAX_VOLUNTEERS: Final = 100
MIN_DURATION: Final = 5
MAX_DURATION: Final = 24 * 60
MAX_WEEKS: Final = 52
# Nobody plans a neighbourhood activity further ahead; a date that far off is a typo.
HORIZON: Final = timedelta(days=365)
# A date without a year this long ago or less is taken as a past date, not next year's.
RECENT: Final = timedelta(days=31)


class Problem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_DATE = "bad_date"
    BAD_TIME = "bad_time"
    PAST = "past"
    TOO_FAR = "too_far"
    BAD_DURATION = "bad_duration"
    BAD_NUMBER = "bad_number"
    END_BEFORE_START = "end_before_start"
    NO_OCCURRENCE = "no_occurrence"  # none of the weekdays falls between the two dates
    INCOMPLETE = "incomplete"


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_MONTH = re.compile(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?")
_TIME = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")
_HOURS_MINUTES = re.compile(r"(\d{1,2}):(\d{2})")
_NUMBER = re.compile(r"\d{1,6}")


def clean_line(text: str, limit: int) -> str | Problem:
    """One line (a title, a place): runs of spaces and line breaks become one space."""
    line = " ".join(text.split())
    if not line:
        return Problem.EMPTY
    return line if len(line) <= limit else Problem.TOO_LONG


def clean_text(text: str, limit: int) -> str | Problem:
    """A text that may have paragraphs (a description): only the ends are trimmed."""
    stripped = text.strip()
    if not stripped:
        return Problem.EMPTY
    return stripped if len(stripped) <= limit else Problem.TOO_LONG


def parse_date(text: str, today: date) -> date | Problem:
    """``25.12``, ``25.12.2026``, ``25/12/26`` or ``2026-12-25``. Without a year, the next
    such day from ``today`` on (in December, ``10.01`` is January of the next year), unless
    it was only days ago: that is a slip to be told about, not a plan for next year."""
    text = text.strip()
    try:
        if match := _ISO_DATE.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _DAY_MONTH.fullmatch(text):
            day, month = int(match[1]), int(match[2])
            if match[3] is not None:
                year = int(match[3])
                return date(year + 2000 if year < 100 else year, month, day)
            found = date(today.year, month, day)
            if found >= today or today - found <= RECENT:
                return found
            return date(today.year + 1, month, day)
    except ValueError:  # 31.02, month 13
        return Problem.BAD_DATE
    return Problem.BAD_DATE


def date_problem(day: date, today: date) -> Problem | None:
    if day < today:
        return Problem.PAST
    if day > today + HORIZON:
        return Problem.TOO_FAR
    return None


def parse_time(text: str) -> time | Problem:
    """``18:30``, ``18.30``, ``9:05`` or a bare hour, ``18``."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        return Problem.BAD_TIME
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        return Problem.BAD_TIME
    return time(hour, minute)


def parse_when(text: str, current_day: date, today: date) -> tuple[date, time] | Problem:
    """A new start for an existing activity: ``25.12 18:30`` (either order), or only the
    time, ``18:30``, to keep the day."""
    parts = text.split()
    if len(parts) == 1:
        at = parse_time(parts[0])
        return at if isinstance(at, Problem) else (current_day, at)
    if len(parts) != 2:
        return Problem.BAD_DATE
    for day_text, time_text in (parts, parts[::-1]):
        at = parse_time(time_text)
        day = parse_date(day_text, today)
        if not isinstance(at, Problem) and not isinstance(day, Problem):
            return day, at
    return Problem.BAD_DATE


def start_problem(starts_at: datetime, now: datetime) -> Problem | None:
    if starts_at <= now:
        return Problem.PAST
    if starts_at > now + HORIZON:
        return Problem.TOO_FAR
    return None


def parse_duration(text: str) -> int | Problem:
    """Minutes, ``90``, or hours and minutes, ``1:30``."""
    text = text.strip()
    if match := _HOURS_MINUTES.fullmatch(text):
        hours, minutes = int(match[1]), int(match[2])
        total = hours * 60 + minutes if minutes < 60 else -1
    elif _NUMBER.fullmatch(text):
        total = int(text)
    else:
        return Problem.BAD_DURATION
    return total if MIN_DURATION <= total <= MAX_DURATION else Problem.BAD_DURATION


def parse_count(text: str, highest: int) -> int | Problem:
    """A whole number from 1 to ``highest``: seats, volunteers."""
    text = text.strip()
    if not _NUMBER.fullmatch(text) or not 1 <= int(text) <= highest:
        return Problem.BAD_NUMBER
    return int(text)


def weeks_end(first: date, weeks: int) -> date:
    """The last day of a series that runs ``weeks`` weeks from ``first``."""
    return first + timedelta(weeks=weeks, days=-1)


def parse_repeat_end(text: str, first: date, today: date) -> date | Problem:
    """The last date of a series, or a number of weeks from its first date."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        weeks = int(text)
        return weeks_end(first, weeks) if 1 <= weeks <= MAX_WEEKS else Problem.BAD_NUMBER
    last = parse_date(text, today)
    if isinstance(last, Problem):
        return last
    if last < first:
        return Problem.END_BEFORE_START
    return Problem.TOO_FAR if last > first + HORIZON else last


@dataclass(slots=True)
class Draft:
    """What the coordinator has told so far. ``weekdays`` empty: a one-off. ``capacity``
    None: no limit; ``participants`` False: a shift for volunteers only."""

    title: str = ""
    category: str = ""
    day: date | None = None
    at: time | None = None
    duration: int = 0
    capacity: int | None = None
    participants: bool = True
    volunteer_role: str | None = None
    volunteer_places: int = 0
    place_note: str | None = None
    description: str = ""
    weekdays: frozenset[int] = field(default_factory=frozenset)
    every_weeks: int = 1
    last_date: date | None = None

    def to_data(self) -> dict[str, Any]:
        """Plain JSON values, for the dialog's state."""
        return {
            "title": self.title,
            "category": self.category,
            "day": self.day.isoformat() if self.day else None,
            "at": self.at.strftime("%H:%M") if self.at else None,
            "duration": self.duration,
            "capacity": self.capacity,
            "participants": self.participants,
            "volunteer_role": self.volunteer_role,
            "volunteer_places": self.volunteer_places,
            "place_note": self.place_note,
            "description": self.description,
            "weekdays": sorted(self.weekdays),
            "every_weeks": self.every_weeks,
            "last_date": self.last_date.isoformat() if self.last_date else None,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Draft:
        values = dict(data)
        values["day"] = date.fromisoformat(values["day"]) if values.get("day") else None
        values["at"] = parse_local_time(values["at"]) if values.get("at") else None
        values["weekdays"] = frozenset(values.get("weekdays") or ())
        last = values.get("last_date")
        values["last_date"] = date.fromisoformat(last) if last else None
        return replace(cls(), **values)

    @property
    def repeats(self) -> bool:
        return bool(self.weekdays)

    @property
    def complete(self) -> bool:
        return bool(
            self.title
            and self.category in set(Category)
            and self.day
            and self.at
            and self.duration
            and (self.participants or self.volunteer_places)
        )

    def rule(self) -> WeeklyRule:
        assert self.day and self.at
        return WeeklyRule(
            weekdays=self.weekdays,
            local_time=self.at,
            duration_minutes=self.duration,
            first_date=self.day,
            last_date=self.last_date,
            every_weeks=self.every_weeks,
        )

    def first_start(self, zone: ZoneInfo, now: datetime) -> datetime | None:
        """When it (its first occurrence still to come, for a series) starts, in UTC."""
        if self.day is None or self.at is None:
            return None
        if not self.repeats:
            return local_to_utc(self.day, self.at, zone)
        until = self.last_date or self.day + HORIZON
        return next(
            (
                o.starts_at
                for o in occurrences(self.rule(), zone, self.day, until)
                if o.starts_at > now
            ),
            None,
        )

    def problem(self, zone: ZoneInfo, now: datetime) -> Problem | None:
        """Why it cannot be saved now, or None."""
        if not self.complete:
            return Problem.INCOMPLETE
        starts_at = self.first_start(zone, now)
        if starts_at is None:
            return Problem.NO_OCCURRENCE if self.repeats else Problem.PAST
        return start_problem(starts_at, now)

    def shared_row(self, center_id: int, now: datetime) -> dict[str, Any]:
        """What a one-off and a series row have in common."""
        return {
            "center_id": center_id,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "place_note": self.place_note,
            "accepts_participants": self.participants,
            "capacity": self.capacity if self.participants else None,
            "volunteer_role": self.volunteer_role if self.volunteer_places else None,
            "volunteer_places": self.volunteer_places if self.volunteer_role else 0,
            "created_at": now,
        }

    def activity_row(self, center_id: int, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
        """The ``activities`` row of a one-off."""
        starts_at = self.first_start(zone, now)
        assert starts_at is not None and not self.repeats
        ends_at = starts_at + timedelta(minutes=self.duration)
        return {**self.shared_row(center_id, now), "starts_at": starts_at, "ends_at": ends_at}

    def series_row(self, center_id: int, now: datetime) -> dict[str, Any]:
        """The ``activity_series`` row of a weekly activity."""
        assert self.repeats and self.day and self.at
        return {
            **self.shared_row(center_id, now),
            "weekdays": format_weekdays(self.weekdays),
            "every_weeks": self.every_weeks,
            "local_time": self.at.strftime("%H:%M"),
            "duration_minutes": self.duration,
            "first_date": self.day,
            "last_date": self.last_date,
        }


def idea_title(text: str, limit: int = 80) -> str:
    """A title suggested from a resident's idea: its first line, cut at a word."""
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if len(first) <= limit:
        return first
    cut = first[: limit - 1].rsplit(" ", 1)[0] or first[: limit - 1]
    return cut.rstrip(" ,.;:-") + "…"
