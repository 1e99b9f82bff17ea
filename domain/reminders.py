"""When the bot's own pushes go out: reminders before an activity, quiet hours, the weekly
digest, the rating request and the volunteer confirmation deadline.

The database is the source of truth and a job asks every minute what is due, so everything
here is a pure function of its arguments and returns aware UTC datetimes. Local rules (the
morning, quiet hours, the digest, "this week") use the center's zone, since that is where
people live; lead times ("24 h before") are elapsed time, since that is what they promise.

Local wall-clock times that a daylight-saving change breaks are read as follows:

* a time that does not exist (Kyiv 03:30 on the last Sunday of March) is the first moment
  that exists after it, the change itself (04:00 summer time): a push is never later than
  it needs to be. ``domain.recurrence`` instead moves such a time by the gap, which keeps
  an activity's length; a push has no length to keep;
* a time that happens twice (Kyiv 03:30 on the last Sunday of October) is its first
  occurrence; only the end of quiet hours also counts the second one (see ``quiet_ends``).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "CONFIRM_LEAD",
    "DEFAULT_QUIET",
    "DEFAULT_REMINDERS",
    "DIGEST_AT",
    "DIGEST_WEEKDAY",
    "MIN_REMINDER_GAP",
    "MORNING_AT",
    "MORNING_MIN_LEAD",
    "RATING_DELAY",
    "PlannedReminder",
    "QuietHours",
    "ReminderKind",
    "format_reminders",
    "is_quiet",
    "next_weekly",
    "parse_reminders",
    "plan_reminders",
    "quiet_ends",
    "rating_due",
    "release_at",
    "reminder_due",
    "reminder_to_send",
    "still_worth_sending",
    "unconfirmed_from",
    "week_bounds",
]


class ReminderKind(StrEnum):
    # The values go into stored settings and delivery dedup keys: never rename them.
    H24 = "24h"
    H2 = "2h"
    H1 = "1h"
    MORNING = "morning"


_LEADS = {
    ReminderKind.H24: timedelta(hours=24),
    ReminderKind.H2: timedelta(hours=2),
    ReminderKind.H1: timedelta(hours=1),
}

DEFAULT_REMINDERS = frozenset({ReminderKind.H24, ReminderKind.H2})
MORNING_AT = time(9, 0)
# A morning reminder less than this before the start tells nothing an "1 h" one would not.
MORNING_MIN_LEAD = timedelta(hours=1)
# Two reminders of one activity closer than this would read as a duplicate: the later goes.
MIN_REMINDER_GAP = timedelta(hours=1)
DIGEST_WEEKDAY = 1  # ISO, as in domain.recurrence: 1 = Monday … 7 = Sunday
DIGEST_AT = time(10, 0)
RATING_DELAY = timedelta(hours=1)
CONFIRM_LEAD = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local wall-clock window with no pushes, from ``start`` up to (not including) ``end``;
    it crosses midnight when ``end <= start``, and ``start == end`` means no quiet hours."""

    start: time = time(22, 0)
    end: time = time(8, 0)


DEFAULT_QUIET = QuietHours()


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    kind: ReminderKind
    due: datetime  # UTC: when the rule asks for it
    send_at: datetime  # UTC: ``due`` held back by quiet hours


def parse_reminders(text: str | None) -> frozenset[ReminderKind]:
    """A stored choice such as ``"24h,2h"``. None (never chosen) means the defaults, so a
    change of defaults reaches everyone who kept them; ``""`` means off. Unknown tokens (a
    kind from a newer or older version) are skipped rather than failing the whole job."""
    if text is None:
        return DEFAULT_REMINDERS
    known = {kind.value: kind for kind in ReminderKind}
    return frozenset(known[t] for token in text.split(",") if (t := token.strip().lower()) in known)


def format_reminders(kinds: AbstractSet[ReminderKind]) -> str:
    """The stored form, in a fixed order so equal choices compare equal; ``""`` is off."""
    return ",".join(kind.value for kind in ReminderKind if kind in kinds)


def _tz(zone: ZoneInfo | str) -> ZoneInfo:
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime: {moment!r}")
    return moment.astimezone(UTC)


def _local_instants(day: date, at: time, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the wall clock shows ``day`` ``at``, earliest first: two in
    a fall-back overlap, and for a time that does not exist, the change that skips it."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    if found:
        return sorted(found)
    # In a gap, fold=1 reads the time with the later offset and lands before the change,
    # fold=0 with the earlier one and lands after it: the change lies in between.
    low = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    high = int(naive.replace(tzinfo=tz, fold=0).timestamp())
    later_offset = datetime.fromtimestamp(high, tz).utcoffset()
    while high - low > 1:  # offsets change on whole seconds
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == later_offset:
            high = middle
        else:
            low = middle
    return [datetime.fromtimestamp(high, UTC)]


def _local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    return _local_instants(day, at, tz)[0]


def reminder_due(kind: ReminderKind, starts_at: datetime, zone: ZoneInfo | str) -> datetime | None:
    """When a reminder of ``kind`` is due (UTC), or None when it has no sensible time.

    Lead times are elapsed: "24h" before 18:00 on the Sunday clocks go forward in Kyiv is
    17:00 on Saturday, exactly 24 hours ahead, not "18:00 yesterday" 23 hours ahead.
    "morning" is 09:00 local on the activity's local date, and none at all for an activity
    that starts no more than ``MORNING_MIN_LEAD`` after that (such as one at 09:30 or 10:00).
    """
    starts_at = _utc(starts_at)
    if kind is not ReminderKind.MORNING:
        return starts_at - _LEADS[kind]
    tz = _tz(zone)
    due = _local_instant(starts_at.astimezone(tz).date(), MORNING_AT, tz)
    return due if starts_at - due > MORNING_MIN_LEAD else None


def plan_reminders(
    kinds: AbstractSet[ReminderKind],
    starts_at: datetime,
    zone: ZoneInfo | str,
    quiet: QuietHours = DEFAULT_QUIET,
    *,
    signed_up_at: datetime | None = None,
) -> list[PlannedReminder]:
    """The reminders one person gets for one activity, in sending order.

    A reminder due before ``signed_up_at`` is left out: the sign-up confirmation already
    told them. Of reminders whose sending times lie less than ``MIN_REMINDER_GAP`` apart
    (after quiet hours, since that is when they would arrive) only the earliest is kept:
    "morning" at 09:00 and "2h" for an 11:00 activity make one message, not two.
    """
    planned: list[PlannedReminder] = []
    for kind in ReminderKind:  # declaration order settles ties of equal times
        due = reminder_due(kind, starts_at, zone) if kind in kinds else None
        if due is None or (signed_up_at is not None and due < _utc(signed_up_at)):
            continue
        send_at = release_at(due, zone, quiet, starts_at=starts_at)
        planned.append(PlannedReminder(kind, due, send_at))
    planned.sort(key=lambda reminder: reminder.send_at)  # stable: ties keep the order above
    kept: list[PlannedReminder] = []
    for reminder in planned:
        if not kept or reminder.send_at - kept[-1].send_at >= MIN_REMINDER_GAP:
            kept.append(reminder)
    return kept


def reminder_to_send(
    kinds: AbstractSet[ReminderKind],
    starts_at: datetime,
    zone: ZoneInfo | str,
    now: datetime,
    quiet: QuietHours = DEFAULT_QUIET,
    *,
    signed_up_at: datetime | None = None,
) -> PlannedReminder | None:
    """What the every-minute job should send now for one sign-up, or None.

    The latest planned reminder whose time has come, while the activity has not started;
    the queue's dedup key (kind included) makes asking again every minute harmless. After
    downtime several may be overdue: only the latest goes, as the earlier ones say the same
    thing with staler words ("tomorrow" on the day itself).
    """
    if not still_worth_sending(starts_at, now):
        return None
    now = _utc(now)
    ready = [
        reminder
        for reminder in plan_reminders(kinds, starts_at, zone, quiet, signed_up_at=signed_up_at)
        if reminder.send_at <= now
    ]
    return ready[-1] if ready else None


def still_worth_sending(starts_at: datetime, now: datetime) -> bool:
    """Whether a reminder that is due (perhaps long ago, while the bot was down) still goes
    out: only until the activity starts; after that it would remind of nothing."""
    return _utc(now) < _utc(starts_at)


def is_quiet(moment: datetime, zone: ZoneInfo | str, quiet: QuietHours = DEFAULT_QUIET) -> bool:
    """Whether ``moment`` falls in quiet hours on the local wall clock of ``zone``."""
    if quiet.start == quiet.end:
        return False
    clock = _utc(moment).astimezone(_tz(zone)).time().replace(tzinfo=None, fold=0)
    start, end = quiet.start.replace(tzinfo=None), quiet.end.replace(tzinfo=None)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # the window crosses midnight


def quiet_ends(
    moment: datetime, zone: ZoneInfo | str, quiet: QuietHours = DEFAULT_QUIET
) -> datetime:
    """The next end of quiet hours strictly after ``moment`` (UTC): the end of the current
    window when ``moment`` is in one, else of the next. ``moment`` itself when there are no
    quiet hours.

    Unlike the other local times here, both occurrences of an ambiguous end count: in the
    repeated hour the wall clock reads "quiet" again until it passes the end once more.
    An end that would itself read as quiet (a spring change swallowing the short time
    between an end and a start) is skipped for the next one.
    """
    moment = _utc(moment)
    if quiet.start == quiet.end:
        return moment
    tz = _tz(zone)
    today = moment.astimezone(tz).date()
    end = quiet.end.replace(tzinfo=None)
    for offset in range(-1, 3):
        for instant in _local_instants(today + timedelta(days=offset), end, tz):
            if instant > moment and not is_quiet(instant, tz, quiet):
                return instant
    raise AssertionError("a wall-clock time recurs within two days")  # pragma: no cover


def release_at(
    due: datetime,
    zone: ZoneInfo | str,
    quiet: QuietHours = DEFAULT_QUIET,
    *,
    starts_at: datetime | None = None,
) -> datetime:
    """When a push that became due at ``due`` may be sent (UTC).

    Outside quiet hours, at ``due``. Inside them it waits for their end, except a reminder
    for an activity that starts no later than that end: waiting would make it useless, so
    it goes at once (an activity at 07:30 and its "2h" reminder at 05:30). Pushes that are
    not about an upcoming start (the digest, the rating request) pass no ``starts_at``.
    """
    due = _utc(due)
    if not is_quiet(due, zone, quiet):
        return due
    end = quiet_ends(due, zone, quiet)
    if starts_at is not None and _utc(starts_at) <= end:
        return due
    return end


def next_weekly(
    after: datetime,
    zone: ZoneInfo | str,
    weekday: int = DIGEST_WEEKDAY,
    at: time = DIGEST_AT,
) -> datetime:
    """The first moment strictly after ``after`` that is ISO ``weekday`` (1 = Monday) at
    local ``at`` in ``zone`` (UTC); gaps and overlaps as in the module docstring."""
    if not 1 <= weekday <= 7:
        raise ValueError(f"weekday must be ISO 1..7, not {weekday}")
    after = _utc(after)
    tz = _tz(zone)
    today = after.astimezone(tz).date()
    # From yesterday: a time pushed forward out of a gap may land after local midnight.
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        if day.isoweekday() == weekday:
            instant = _local_instant(day, at.replace(tzinfo=None), tz)
            if instant > after:
                return instant
    raise AssertionError("every weekday recurs within a week")  # pragma: no cover


def week_bounds(moment: datetime, zone: ZoneInfo | str) -> tuple[datetime, datetime]:
    """The local week around ``moment``, Monday 00:00 up to the next Monday 00:00, as UTC
    instants: what "this week" means at the center. A week with a daylight-saving change
    lasts 167 or 169 hours."""
    tz = _tz(zone)
    today = _utc(moment).astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    return (
        _local_instant(monday, time(0, 0), tz),
        _local_instant(monday + timedelta(days=7), time(0, 0), tz),
    )


def rating_due(ends_at: datetime) -> datetime:
    """When to ask for a rating: an hour after the end, once people are home. Pass the
    result through ``release_at`` (without ``starts_at``) so it respects quiet hours."""
    return _utc(ends_at) + RATING_DELAY


def unconfirmed_from(starts_at: datetime) -> datetime:
    """From when a volunteer who has not confirmed a shift counts as unconfirmed, leaving
    the coordinator three hours to find someone else."""
    return _utc(starts_at) - CONFIRM_LEAD
