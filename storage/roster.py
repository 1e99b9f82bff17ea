"""A center's activities and who is in them, as its coordinators see them: the list, the
sign-ups with waitlist positions, the guests, and the roll call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import ACTIVE, Role, Status
from domain.roster import ROLL_CALL_WINDOW
from storage.activities import Activity, get_activities
from storage.guests import guests_of
from storage.schema import activities, guest_signups, signups, users, volunteer_profiles

GUEST = "guest"  # RosterEntry.status of someone registered at the desk


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One line of an activity's list: a resident's active sign-up, or a guest."""

    id: int  # the sign-up's or the guest's
    guest: bool
    name: str
    role: Role
    party_size: int
    status: str  # a sign-up Status, or GUEST
    position: int | None  # on the waitlist of its role, from 1
    attended: bool | None
    created_at: datetime


async def center_activities(
    conn: AsyncConnection,
    center_id: int,
    *,
    now: datetime,
    past: bool,
    limit: int,
    offset: int = 0,
) -> list[Activity]:
    """Every activity of the center, cancelled ones too: those not over yet, soonest first,
    or (``past``) those that ended and started within the roll call's window (a week),
    latest first."""
    query = select(activities.c.id).where(activities.c.center_id == center_id)
    if past:
        query = query.where(
            activities.c.ends_at <= now,
            activities.c.starts_at > now - ROLL_CALL_WINDOW,
        ).order_by(activities.c.starts_at.desc(), activities.c.id.desc())
    else:
        query = query.where(activities.c.ends_at > now).order_by(
            activities.c.starts_at, activities.c.id
        )
    ids = (await conn.execute(query.limit(limit).offset(offset))).scalars().all()
    return await get_activities(conn, list(ids))


async def roster(conn: AsyncConnection, activity_id: int) -> list[RosterEntry]:
    """Active sign-ups in sign-up order, then the guests. A volunteer's name is the one they
    gave the coordinators in their profile, when they gave one."""
    name = func.coalesce(volunteer_profiles.c.display_name, users.c.display_name)
    rows = await conn.execute(
        select(
            signups.c.id,
            name,
            signups.c.role,
            signups.c.party_size,
            signups.c.status,
            signups.c.attended,
            signups.c.created_at,
        )
        .join(users, users.c.id == signups.c.user_id)
        .outerjoin(volunteer_profiles, volunteer_profiles.c.user_id == signups.c.user_id)
        .where(signups.c.activity_id == activity_id, signups.c.status.in_(ACTIVE))
        .order_by(signups.c.id)
    )
    entries: list[RosterEntry] = []
    waiting = {Role.PARTICIPANT: 0, Role.VOLUNTEER: 0}
    for signup_id, display_name, role, party, status, attended, created_at in rows:
        position = None
        if status == Status.WAITLISTED:
            waiting[Role(role)] += 1
            position = waiting[Role(role)]
        entries.append(
            RosterEntry(
                signup_id,
                False,
                display_name,
                Role(role),
                party,
                status,
                position,
                attended,
                created_at,
            )
        )
    for guest in await guests_of(conn, activity_id):
        entries.append(
            RosterEntry(
                guest.id,
                True,
                guest.name,
                Role.PARTICIPANT,
                guest.party_size,
                GUEST,
                None,
                guest.attended,
                guest.created_at,
            )
        )
    return entries


def on_roll_call(entries: list[RosterEntry]) -> list[RosterEntry]:
    """Who is expected at the door: confirmed participants, then volunteers, then guests."""
    confirmed = [e for e in entries if e.status == Status.CONFIRMED]
    return (
        [e for e in confirmed if e.role is Role.PARTICIPANT]
        + [e for e in confirmed if e.role is Role.VOLUNTEER]
        + [e for e in entries if e.guest]
    )


async def mark_signup(
    conn: AsyncConnection, activity_id: int, signup_id: int, attended: bool | None
) -> bool:
    """Set a confirmed sign-up's attendance; False when it is not on this roll call or
    already says so (nothing to record)."""
    changed = await conn.execute(
        update(signups)
        .where(
            signups.c.id == signup_id,
            signups.c.activity_id == activity_id,
            signups.c.status == Status.CONFIRMED,
            signups.c.attended.is_distinct_from(attended),
        )
        .values(attended=attended)
    )
    return changed.rowcount > 0


async def mark_guest(
    conn: AsyncConnection, activity_id: int, guest_id: int, attended: bool | None
) -> bool:
    changed = await conn.execute(
        update(guest_signups)
        .where(
            guest_signups.c.id == guest_id,
            guest_signups.c.activity_id == activity_id,
            guest_signups.c.attended.is_distinct_from(attended),
        )
        .values(attended=attended)
    )
    return changed.rowcount > 0


async def mark_rest_present(conn: AsyncConnection, activity_id: int) -> int:
    """Everyone on the roll call not marked yet: present (those marked absent stay absent).
    Returns how many rows changed."""
    residents = await conn.execute(
        update(signups)
        .where(
            signups.c.activity_id == activity_id,
            signups.c.status == Status.CONFIRMED,
            signups.c.attended.is_(None),
        )
        .values(attended=True)
    )
    guests = await conn.execute(
        update(guest_signups)
        .where(guest_signups.c.activity_id == activity_id, guest_signups.c.attended.is_(None))
        .values(attended=True)
    )
    return residents.rowcount + guests.rowcount
