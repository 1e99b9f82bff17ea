"""Weekly recurrence: which dates and UTC instants a rule such as "Tuesdays and Thursdays at
18:00, every other week" stands for in a center's time zone.

The rule lives in local wall-clock time, so 18:00 stays 18:00 for the people who come,
whatever daylight saving does to the UTC offset (Kyiv: 16:00 UTC in winter, 15:00 UTC in
summer). Two local times need a convention, and both follow ``zoneinfo`` with ``fold=0``:

* a time that does not exist (the spring-forward gap, Kyiv 03:30 on the last Sunday of
  March) is read with the offset in force before the change, which moves it forward by the
  length of the gap: 03:30 becomes 04:30 local summer time;
* a time that happens twice (the autumn fall-back, Kyiv 03:30 on the last Sunday of
  October) is its first occurrence, still in summer time.

The duration is elapsed time: an occurrence that spans a change lasts its minutes exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "EVERY_WEEKS",
    "Occurrence",
    "WeeklyRule",
    "format_weekdays",
    "local_to_utc",
    "occurrences",
    "parse_local_time",
    "parse_weekdays",
]

EVERY_WEEKS = (1, 2)

_LOCAL_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::00)?")  # spreadsheets may add ":00"
_WEEKDAYS = re.compile(r"[1-7](?:\s*,\s*[1-7])*")


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """On ``weekdays`` (ISO: 1 = Monday … 7 = Sunday) at ``local_time`` for
    ``duration_minutes``, from ``first_date`` to ``last_date`` (inclusive, open-ended when
    None). With ``every_weeks=2`` only every other week counts, starting with the week
    (Monday to Sunday) that holds ``first_date``."""

    weekdays: frozenset[int]
    local_time: time
    duration_minutes: int
    first_date: date
    last_date: date | None = None
    every_weeks: int = 1

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(1, 8)):
            raise ValueError(f"weekdays must be ISO weekdays 1..7, not {sorted(self.weekdays)}")
        if self.every_weeks not in EVERY_WEEKS:
            raise ValueError(f"every_weeks must be 1 or 2, not {self.every_weeks}")
        if self.duration_minutes <= 0:
            raise ValueError("duration_minutes must be positive")


@dataclass(frozen=True, slots=True)
class Occurrence:
    starts_at: datetime  # aware, UTC
    ends_at: datetime  # aware, UTC


def local_to_utc(day: date, at: time, zone: ZoneInfo | str) -> datetime:
    """The UTC instant of a local date and wall-clock time (gaps and overlaps as above)."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz).astimezone(UTC)


def occurrences(
    rule: WeeklyRule, zone: ZoneInfo | str, from_date: date, until_date: date
) -> Iterator[Occurrence]:
    """Occurrences of ``rule`` whose local date lies in ``[from_date, until_date]``, in order."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    day = max(from_date, rule.first_date)
    last = until_date if rule.last_date is None else min(until_date, rule.last_date)
    first_monday = rule.first_date - timedelta(days=rule.first_date.weekday())
    duration = timedelta(minutes=rule.duration_minutes)
    while day <= last:
        week = (day - first_monday).days // 7
        if day.isoweekday() in rule.weekdays and week % rule.every_weeks == 0:
            starts_at = local_to_utc(day, rule.local_time, tz)
            yield Occurrence(starts_at, starts_at + duration)
        day += timedelta(days=1)


def parse_weekdays(text: str) -> frozenset[int]:
    """``"1,3"`` (spaces allowed) as ISO weekdays; raises ValueError on anything else."""
    text = text.strip()
    if not _WEEKDAYS.fullmatch(text):
        raise ValueError(f"not a list of ISO weekdays: {text!r}")
    return frozenset(int(part) for part in text.split(","))


def format_weekdays(weekdays: Iterable[int]) -> str:
    """The stored form, ``"1,3"``."""
    return ",".join(str(day) for day in sorted(set(weekdays)))


def parse_local_time(text: str) -> time:
    """``"18:30"`` (also ``"9:30"``, ``"18:30:00"``) as a wall-clock time; raises ValueError
    on anything else."""
    match = _LOCAL_TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time: {text!r}")
    return time(hour, minute)
