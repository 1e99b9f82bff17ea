"""Volunteer hours: totals by month and by center, in each center's local calendar."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Shift:
    center: str
    city: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    # A coordinator's roll call marked the volunteer present. Not marked yet: the hours
    # count, as not yet confirmed. (Marked absent: not a shift served at all.)
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class HoursSummary:
    by_month: list[tuple[date, float]]  # first day of the month, hours
    by_center: list[tuple[str, str, float]]  # center, city, hours
    rows: list[tuple[str, str, date, float]]  # center, city, month, hours
    total: float
    first_day: date | None
    last_day: date | None
    confirmed_total: float = 0.0  # of ``total``, the hours a roll call confirmed

    @property
    def unconfirmed_total(self) -> float:
        return max(0.0, self.total - self.confirmed_total)


def summarise(shifts: Iterable[Shift]) -> HoursSummary:
    by_month: dict[date, float] = defaultdict(float)
    by_center: dict[tuple[str, str], float] = defaultdict(float)
    rows: dict[tuple[str, str, date], float] = defaultdict(float)
    days: list[date] = []
    confirmed = 0.0
    for shift in shifts:
        hours = (shift.ends_at - shift.starts_at).total_seconds() / 3600
        if shift.confirmed:
            confirmed += hours
        # A shift belongs to the month of the place where it happened, not to UTC's.
        day = shift.starts_at.astimezone(ZoneInfo(shift.timezone)).date()
        month = day.replace(day=1)
        by_month[month] += hours
        by_center[(shift.center, shift.city)] += hours
        rows[(shift.center, shift.city, month)] += hours
        days.append(day)
    return HoursSummary(
        by_month=sorted(by_month.items()),
        by_center=sorted(((c, city, h) for (c, city), h in by_center.items()), key=lambda x: -x[2]),
        rows=sorted(
            ((c, city, m, h) for (c, city, m), h in rows.items()), key=lambda x: (x[2], x[0])
        ),
        total=sum(by_month.values()),
        first_day=min(days, default=None),
        last_day=max(days, default=None),
        confirmed_total=confirmed,
    )
