"""A center's figures over the last weeks and the chain's by region: the periods, the rates
made of the counts, and the compact table a coordinator reads in the chat.

Everything is counted by when the activity took place, not by when people signed up: the
sign-ups of a week and the attendance of that week are then about the same activities, and
a bar chart can set them side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "WEEKS",
    "Figures",
    "Week",
    "last_weeks",
    "percent",
    "rate",
    "text_table",
    "total",
]

WEEKS = 4


@dataclass(frozen=True, slots=True)
class Week:
    first_day: date  # in the center's time zone
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts over one period (a week, or the chain's last four weeks in one region).

    ``signups``: confirmed participants, and guests registered at the desk. ``present`` and
    ``absent``: of those, marked at the roll call. ``waited``: sign-ups (participants and
    volunteers) that had to wait for a place, ``seated``: those of them that hold one now.
    ``volunteer_seconds``: ended shifts of confirmed volunteers not marked absent.
    """

    activities: int = 0
    signups: int = 0
    present: int = 0
    absent: int = 0
    waited: int = 0
    seated: int = 0
    volunteer_seconds: int = 0
    new_subscribers: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Figures)))

    @property
    def marked(self) -> int:
        return self.present + self.absent

    @property
    def attendance_rate(self) -> float | None:
        return rate(self.present, self.marked)

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.absent, self.marked)

    @property
    def waitlist_conversion(self) -> float | None:
        return rate(self.seated, self.waited)

    @property
    def volunteer_hours(self) -> float:
        return self.volunteer_seconds / 3600


def total(figures: Iterable[Figures]) -> Figures:
    return sum(figures, Figures())


def rate(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide (no roll call taken, nobody
    waited): "no data" is not 0 %."""
    return part / whole if whole else None


def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def last_weeks(now: datetime, timezone: str, count: int = WEEKS) -> list[Week]:
    """``count`` weeks of seven local days, the last one ending ``now`` (today so far).

    Boundaries are local midnights converted to UTC, so a week stays seven calendar days
    across a change to or from summer time."""
    zone = ZoneInfo(timezone)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    firsts = [tomorrow - timedelta(days=7 * (count - index)) for index in range(count)]
    starts = [datetime.combine(day, time(), zone).astimezone(UTC) for day in firsts]
    ends = [*starts[1:], now.astimezone(UTC)]
    return [Week(first, start, end) for first, start, end in zip(firsts, starts, ends, strict=True)]


def text_table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A monospaced table: labels on the left, values right-aligned in columns. Meant for a
    ``<pre>`` block, so it reads as a grid on a phone."""
    label_width = max((len(label) for label, _values in rows), default=0)
    widths = [len(cell) for cell in header]
    for _label, values in rows:
        widths = [max(width, len(value)) for width, value in zip(widths, values, strict=True)]
    lines = [
        " " * label_width
        + "".join(f" {cell:>{width}}" for cell, width in zip(header, widths, strict=True))
    ]
    for label, values in rows:
        cells = "".join(f" {value:>{width}}" for value, width in zip(values, widths, strict=True))
        lines.append(f"{label:<{label_width}}{cells}")
    return "\n".join(line.rstrip() for line in lines)
