"""When the weekly digest of a center is due, and which new activities a person wants to hear
about. Pure functions; the jobs in ``handlers.announcements`` ask them every few minutes.

The digest of a local week goes out from its moment (by default Monday 10:00 in the center's
zone) until ``DIGEST_LATE_LIMIT`` after it, and never after the week has ended. A job that
was down at the moment therefore still sends the digest when it comes back on the same day
or the next morning; a digest later than that would arrive in the middle of the week it
introduces, so it is skipped, and the next week's comes on time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.activities import Category
from domain.reminders import DIGEST_AT, DIGEST_WEEKDAY, next_weekly, week_bounds

__all__ = [
    "ALL_CATEGORIES",
    "DIGEST_LATE_LIMIT",
    "DigestWeek",
    "digest_week",
    "format_categories",
    "parse_categories",
]

DIGEST_LATE_LIMIT = timedelta(hours=24)
ALL_CATEGORIES = frozenset(Category)


@dataclass(frozen=True, slots=True)
class DigestWeek:
    monday: date  # the local date that names the week, in dedup keys
    digest_at: datetime  # UTC: the digest's moment this week
    ends_at: datetime  # UTC: next Monday 00:00 local, the end of what the digest covers


def digest_week(
    now: datetime,
    zone: ZoneInfo | str,
    weekday: int = DIGEST_WEEKDAY,
    at: time = DIGEST_AT,
) -> DigestWeek | None:
    """The local week whose digest should go out at ``now`` in ``zone``, or None."""
    starts_at, ends_at = week_bounds(now, zone)
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    # Strictly after a moment just before the week: a digest at Monday 00:00 belongs to it.
    digest_at = next_weekly(starts_at - timedelta(seconds=1), tz, weekday, at)
    if not digest_at <= now < min(digest_at + DIGEST_LATE_LIMIT, ends_at):
        return None
    return DigestWeek(starts_at.astimezone(tz).date(), digest_at, ends_at)


def parse_categories(text: str | None) -> frozenset[Category]:
    """A stored choice of categories: None (never chosen) is all of them, so a category added
    later reaches everyone who kept the default; ``""`` is none. Unknown tokens are skipped."""
    if text is None:
        return ALL_CATEGORIES
    known = {category.value: category for category in Category}
    return frozenset(known[t] for token in text.split(",") if (t := token.strip()) in known)


def format_categories(categories: Iterable[Category]) -> str | None:
    """The stored form: None for all categories (see ``parse_categories``), else the chosen
    ones in a fixed order, ``""`` for none."""
    chosen = frozenset(categories)
    if chosen >= ALL_CATEGORIES:
        return None
    return ",".join(category.value for category in Category if category in chosen)
