"""Activities: what happens at a center, when, and how many seats are left."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import ACTIVE, Role, Status
from storage.reminders import drop_pending_reminders
from storage.schema import activities, centers, signups


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    center_id: int
    series_id: int | None
    title: str
    description: str
    category: str
    starts_at: datetime
    ends_at: datetime
    place_note: str | None
    accepts_participants: bool
    capacity: int | None
    max_companions: int
    seats_taken: int
    volunteer_role: str | None
    volunteer_places: int
    volunteers_taken: int
    status: str
    center_name: str
    timezone: str
    city: str

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else self.capacity - self.seats_taken

    @property
    def volunteer_places_left(self) -> int:
        return self.volunteer_places - self.volunteers_taken

    def takes(self, role: Role) -> bool:
        if role is Role.VOLUNTEER:
            return self.volunteer_places > 0
        return self.accepts_participants


_COLUMNS = [
    *(activities.c[name] for name in Activity.__slots__ if name in activities.c),
    centers.c.name.label("center_name"),
    centers.c.timezone,
    centers.c.city,
]
_FROM = activities.join(centers, centers.c.id == activities.c.center_id)


def _select() -> Any:
    return select(*_COLUMNS).select_from(_FROM)


# Built once: every card reads its activity (building a statement costs about as much as
# running it).
_BY_ID = _select().where(activities.c.id == bindparam("activity_id"))
_WAITLISTS = (
    select(signups.c.activity_id, func.count())
    .where(
        signups.c.activity_id.in_(bindparam("ids", expanding=True)),
        signups.c.role == bindparam("role"),
        signups.c.status == Status.WAITLISTED.value,
    )
    .group_by(signups.c.activity_id)
)


async def get_activity(conn: AsyncConnection, activity_id: int) -> Activity | None:
    row = (await conn.execute(_BY_ID, {"activity_id": activity_id})).first()
    return Activity(*row) if row else None


async def get_activities(conn: AsyncConnection, activity_ids: Sequence[int]) -> list[Activity]:
    if not activity_ids:
        return []
    rows = await conn.execute(_select().where(activities.c.id.in_(activity_ids)))
    found = {row.id: Activity(*row) for row in rows}
    return [found[i] for i in activity_ids if i in found]


async def upcoming(
    conn: AsyncConnection,
    center_ids: Sequence[int],
    *,
    since: datetime,
    until: datetime | None = None,
    category: str | None = None,
    role: Role = Role.PARTICIPANT,
    limit: int,
    offset: int = 0,
) -> list[Activity]:
    """Scheduled activities of these centers that start after ``since``, soonest first."""
    if not center_ids:
        return []
    query = _select().where(
        activities.c.center_id.in_(center_ids),
        activities.c.status == "scheduled",
        activities.c.starts_at > since,
    )
    if until is not None:
        query = query.where(activities.c.starts_at < until)
    if category is not None:
        query = query.where(activities.c.category == category)
    if role is Role.VOLUNTEER:
        query = query.where(activities.c.volunteer_places > 0)
    else:
        query = query.where(activities.c.accepts_participants.is_(True))
    query = query.order_by(activities.c.starts_at, activities.c.id).limit(limit).offset(offset)
    return [Activity(*row) for row in await conn.execute(query)]


async def waitlist_lengths(
    conn: AsyncConnection, activity_ids: Iterable[int], role: Role
) -> dict[int, int]:
    ids = list(activity_ids)
    if not ids:
        return {}
    rows = await conn.execute(_WAITLISTS, {"ids": ids, "role": role})
    return {activity_id: count for activity_id, count in rows}


async def insert_activity(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(activities.insert().values(**values))
    return result.inserted_primary_key[0]


async def cancel_activity(conn: AsyncConnection, activity_id: int, *, now: datetime) -> list[int]:
    """Cancel a scheduled activity; returns the users who were signed up, to be told."""
    changed = await conn.execute(
        update(activities)
        .where(activities.c.id == activity_id, activities.c.status == "scheduled")
        .values(status="cancelled", seats_taken=0, volunteers_taken=0)
    )
    if changed.rowcount == 0:
        return []
    affected = (
        await conn.execute(
            select(signups.c.id, signups.c.user_id)
            .where(and_(signups.c.activity_id == activity_id, signups.c.status.in_(ACTIVE)))
            .order_by(signups.c.id)
        )
    ).all()
    users = [user_id for _signup_id, user_id in affected]
    await drop_pending_reminders(conn, [signup_id for signup_id, _user_id in affected])
    await conn.execute(
        update(signups)
        .where(signups.c.activity_id == activity_id, signups.c.status.in_(ACTIVE))
        .values(status=Status.CANCELLED, offer_expires_at=None, updated_at=now)
    )
    return users


async def count_upcoming(
    conn: AsyncConnection, center_id: int, *, since: datetime, until: datetime
) -> int:
    """How many activities ``upcoming`` would list for one center in this period, unpaged:
    the "and N more" of a poster."""
    query = (
        select(func.count())
        .select_from(activities)
        .where(
            activities.c.center_id == center_id,
            activities.c.status == "scheduled",
            activities.c.starts_at > since,
            activities.c.starts_at < until,
            activities.c.accepts_participants.is_(True),
        )
    )
    return await conn.scalar(query) or 0
