"""Rules of a coordinator's roster that need no database: when guests may be registered and
roll call taken, what a typed name or party size means, marks, and splitting long lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

# Roll call stays open this long after the start: coordinators often fill it in the next day.
ROLL_CALL_WINDOW: Final = timedelta(days=7)
MAX_GUEST_NAME: Final = 128
# A party registered at the desk when the activity has no limit: a school class, say.
MAX_GUEST_PARTY: Final = 100


class RosterRefusal(StrEnum):
    CANCELLED = "cancelled"
    STARTED = "started"
    NOT_STARTED = "not_started"  # roll call before the start
    ROLL_CALL_CLOSED = "roll_call_closed"  # more than ROLL_CALL_WINDOW after the start
    NO_PARTICIPANTS = "no_participants"  # a shift for volunteers only
    FULL = "full"
    GONE = "gone"  # the guest or sign-up is no longer on the list


class Mark(StrEnum):
    """A row of the roll call: present, absent or not marked yet (NULL in the database)."""

    PRESENT = "p"
    ABSENT = "a"
    UNMARKED = "u"


def mark_of(attended: bool | None) -> Mark:
    if attended is None:
        return Mark.UNMARKED
    return Mark.PRESENT if attended else Mark.ABSENT


def attended_of(mark: Mark) -> bool | None:
    return {Mark.PRESENT: True, Mark.ABSENT: False, Mark.UNMARKED: None}[mark]


def next_mark(mark: Mark) -> Mark:
    """What a tap on a row sets: not marked → present → absent → not marked. Present comes
    first because most people come."""
    return {Mark.UNMARKED: Mark.PRESENT, Mark.PRESENT: Mark.ABSENT, Mark.ABSENT: Mark.UNMARKED}[
        mark
    ]


def guest_refusal(
    *, status: str, starts_at: datetime, accepts_participants: bool, now: datetime
) -> RosterRefusal | None:
    """Why no guest may be registered (or removed) now; seats are the database's job."""
    if status != "scheduled":
        return RosterRefusal.CANCELLED
    if starts_at <= now:
        return RosterRefusal.STARTED
    if not accepts_participants:
        return RosterRefusal.NO_PARTICIPANTS
    return None


def roll_call_refusal(*, status: str, starts_at: datetime, now: datetime) -> RosterRefusal | None:
    if status != "scheduled":
        return RosterRefusal.CANCELLED
    if now < starts_at:
        return RosterRefusal.NOT_STARTED
    if now >= starts_at + ROLL_CALL_WINDOW:
        return RosterRefusal.ROLL_CALL_CLOSED
    return None


def roll_call_open(*, status: str, starts_at: datetime, now: datetime) -> bool:
    return roll_call_refusal(status=status, starts_at=starts_at, now=now) is None


def clean_name(text: str) -> str | None:
    """A guest's name as typed, whitespace collapsed; None when empty or too long."""
    name = " ".join(text.split())
    return name if 1 <= len(name) <= MAX_GUEST_NAME else None


def party_limit(seats_left: int | None) -> int:
    """The biggest party that may be registered now: the seats left, if there is a limit."""
    return MAX_GUEST_PARTY if seats_left is None else min(seats_left, MAX_GUEST_PARTY)


def parse_party(text: str, limit: int) -> int | None:
    """A typed party size: a whole number from 1 to ``limit``, else None."""
    value = text.strip()
    # ASCII digits only: no sign, no decimals, and none of the other characters isdigit()
    # accepts that int() refuses ("²").
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        return None
    number = int(value)
    return number if 1 <= number <= limit else None


def split_pages(lines: Iterable[str], budget: int) -> list[list[str]]:
    """Lines grouped into pages of at most ``budget`` characters (joined with newlines), in
    order: a long list becomes several messages' worth instead of one Telegram refuses. A
    single line longer than the budget gets a page of its own (the caller keeps lines short)."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        cost = len(line) + 1
        if pages[-1] and size + cost > budget:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += cost
    return pages
