"""People a coordinator registers at the desk by name, without Telegram. They take seats with
the same conditional UPDATE as residents (storage.signups), so the capacity guard holds for
everyone; they never wait: a guest gets a seat now or is refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Role, SignupRules
from domain.roster import MAX_GUEST_PARTY, RosterRefusal, guest_refusal
from storage.activities import get_activity
from storage.schema import guest_signups
from storage.signups import (
    Promotion,
    _anyone_waiting,
    _fill,
    _release,
    _take,
    lock_activities,
)


@dataclass(frozen=True, slots=True)
class Guest:
    id: int
    activity_id: int
    name: str
    party_size: int
    attended: bool | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GuestOutcome:
    refusal: RosterRefusal | None = None
    guest: Guest | None = None
    promotions: tuple[Promotion, ...] = ()


_COLUMNS = [guest_signups.c[name] for name in Guest.__slots__]


async def get_guest(conn: AsyncConnection, guest_id: int) -> Guest | None:
    row = (await conn.execute(select(*_COLUMNS).where(guest_signups.c.id == guest_id))).first()
    return Guest(*row) if row else None


async def guests_of(conn: AsyncConnection, activity_id: int) -> list[Guest]:
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(guest_signups.c.activity_id == activity_id)
        .order_by(guest_signups.c.id)
    )
    return [Guest(*row) for row in rows]


async def guest_seats(conn: AsyncConnection, activity_ids: Sequence[int]) -> dict[int, int]:
    """Seats held by guests, by activity (absent: none)."""
    if not activity_ids:
        return {}
    rows = await conn.execute(
        select(guest_signups.c.activity_id, func.sum(guest_signups.c.party_size))
        .where(guest_signups.c.activity_id.in_(activity_ids))
        .group_by(guest_signups.c.activity_id)
    )
    return {activity_id: int(seats) for activity_id, seats in rows}


async def add_guest(
    conn: AsyncConnection,
    *,
    activity_id: int,
    name: str,
    party_size: int,
    by: int,
    now: datetime,
) -> GuestOutcome:
    if not 1 <= party_size <= MAX_GUEST_PARTY:
        raise ValueError(f"party size out of range: {party_size}")
    await lock_activities(conn, [activity_id])
    activity = await get_activity(conn, activity_id)
    if activity is None:
        return GuestOutcome(RosterRefusal.GONE)
    refusal = guest_refusal(
        status=activity.status,
        starts_at=activity.starts_at,
        accepts_participants=activity.accepts_participants,
        now=now,
    )
    if refusal is not None:
        return GuestOutcome(refusal)
    # Free seats that someone on the waitlist fits into are theirs (only for the moment until
    # the scheduler offers them, after a capacity raised by an import): the waitlist is fair.
    if await _anyone_waiting(conn, activity_id, Role.PARTICIPANT) or not await _take(
        conn, activity_id, Role.PARTICIPANT, party_size
    ):
        return GuestOutcome(RosterRefusal.FULL)
    inserted = await conn.execute(
        insert(guest_signups)
        .values(
            activity_id=activity_id,
            name=name,
            party_size=party_size,
            created_by=by,
            created_at=now,
        )
        .returning(guest_signups.c.id)
    )
    return GuestOutcome(guest=await get_guest(conn, inserted.scalar_one()))


async def remove_guest(
    conn: AsyncConnection,
    *,
    activity_id: int,
    guest_id: int,
    now: datetime,
    rules: SignupRules,
) -> GuestOutcome:
    """Take a guest off the list; their seats go to the waitlist at once, as a resident's
    would. Not once the activity has started (the list is its record then) or was cancelled
    (a cancelled activity holds no seats to give back)."""
    await lock_activities(conn, [activity_id])
    activity = await get_activity(conn, activity_id)
    guest = await get_guest(conn, guest_id)
    if activity is None or guest is None or guest.activity_id != activity_id:
        return GuestOutcome(RosterRefusal.GONE)
    refusal = guest_refusal(
        status=activity.status,
        starts_at=activity.starts_at,
        accepts_participants=True,  # whatever an edit did since, the guest's seats are real
        now=now,
    )
    if refusal is not None:
        return GuestOutcome(refusal, guest)
    deleted = await conn.execute(delete(guest_signups).where(guest_signups.c.id == guest_id))
    if deleted.rowcount == 0:
        return GuestOutcome(RosterRefusal.GONE)
    await _release(conn, activity_id, Role.PARTICIPANT, guest.party_size)
    promotions = await _fill(conn, activity, Role.PARTICIPANT, now, rules)
    return GuestOutcome(guest=guest, promotions=tuple(promotions))
