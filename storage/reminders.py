"""What the reminder job reads: confirmed sign-ups whose activity starts soon."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Status
from storage.schema import activities, centers, deliveries, signups, users


@dataclass(frozen=True, slots=True)
class Upcoming:
    signup_id: int
    user_id: int
    language: str
    reminders: str | None  # the user's choice, see domain.reminders.parse_reminders
    signed_up_at: datetime
    activity_id: int
    starts_at: datetime
    timezone: str


async def confirmed_starting(
    conn: AsyncConnection, *, now: datetime, within: timedelta
) -> list[Upcoming]:
    """Confirmed sign-ups of people who have not blocked the bot, for scheduled activities
    starting after ``now`` and no later than ``now + within``."""
    rows = await conn.execute(
        select(
            signups.c.id,
            signups.c.user_id,
            users.c.language,
            users.c.reminders,
            signups.c.created_at,
            activities.c.id,
            activities.c.starts_at,
            centers.c.timezone,
        )
        .select_from(
            signups.join(activities, activities.c.id == signups.c.activity_id)
            .join(centers, centers.c.id == activities.c.center_id)
            .join(users, users.c.id == signups.c.user_id)
        )
        .where(
            signups.c.status == Status.CONFIRMED,
            activities.c.status == "scheduled",
            activities.c.starts_at > now,
            activities.c.starts_at <= now + within,
            users.c.blocked.is_(False),
        )
        .order_by(activities.c.starts_at, signups.c.id)
    )
    return [Upcoming(*row) for row in rows]


async def queued_keys(conn: AsyncConnection, keys: Collection[str]) -> set[str]:
    """Which of these delivery dedup keys are already queued (in whatever state)."""
    found: set[str] = set()
    batch = list(keys)
    for start in range(0, len(batch), 500):
        rows = await conn.execute(
            select(deliveries.c.dedup_key).where(
                deliveries.c.dedup_key.in_(batch[start : start + 500])
            )
        )
        found.update(rows.scalars())
    return found


async def confirm_coming(
    conn: AsyncConnection, *, signup_id: int, user_id: int, now: datetime
) -> bool:
    """Record "I'm coming" on one's own confirmed sign-up; False when there is none."""
    result = await conn.execute(
        update(signups)
        .where(
            signups.c.id == signup_id,
            signups.c.user_id == user_id,
            signups.c.status == Status.CONFIRMED,
        )
        .values(coming_confirmed_at=now, updated_at=now)
    )
    return result.rowcount > 0
