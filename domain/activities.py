"""Rules of activities and sign-ups that need no database: categories, statuses, who may
sign up, and when a waitlist offer runs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Category(StrEnum):
    CHILDREN = "children"
    SENIORS = "seniors"
    CRAFTS = "crafts"
    SPORT = "sport"
    LECTURES = "lectures"
    ECOLOGY = "ecology"
    CHARITY = "charity"
    OTHER = "other"


class Role(StrEnum):
    PARTICIPANT = "participant"
    VOLUNTEER = "volunteer"


class Status(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"  # a freed seat is held for this person until they answer
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"


# Tuples, not sets: SQL ``IN (...)`` takes them as they are, in a stable order.
ACTIVE = (Status.CONFIRMED, Status.WAITLISTED, Status.OFFERED)
HOLDS_SEATS = (Status.CONFIRMED, Status.OFFERED)


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    STARTED = "started"
    CLOSED = "closed"  # the activity takes no one in this role
    PARTY_TOO_BIG = "party_too_big"
    ALREADY = "already"
    TOO_MANY = "too_many"
    EXPIRED = "expired"  # the offer of a seat ran out


@dataclass(frozen=True, slots=True)
class SignupRules:
    offer_window: timedelta = timedelta(hours=12)
    offer_cutoff: timedelta = timedelta(hours=2)  # no offer may run later than this before start
    max_active_signups: int = 10


def offer_deadline(now: datetime, starts_at: datetime, rules: SignupRules) -> datetime | None:
    """When an offer made now runs out; None when there is no time left for an offer, and the
    seat goes straight to the next in line instead."""
    deadline = min(now + rules.offer_window, starts_at - rules.offer_cutoff)
    return deadline if deadline > now else None


def signup_refusal(
    *,
    status: str,
    starts_at: datetime,
    takes_role: bool,
    max_companions: int,
    role: Role,
    party_size: int,
    active_signups: int,
    now: datetime,
    rules: SignupRules,
) -> Refusal | None:
    """Why this sign-up may not happen, or None. The capacity itself is the database's job."""
    if status != "scheduled":
        return Refusal.CANCELLED
    if starts_at <= now:
        return Refusal.STARTED
    if not takes_role:
        return Refusal.CLOSED
    companions_allowed = max_companions if role is Role.PARTICIPANT else 0
    if not 1 <= party_size <= 1 + companions_allowed:
        return Refusal.PARTY_TOO_BIG
    if active_signups >= rules.max_active_signups:
        return Refusal.TOO_MANY
    return None
