"""What the reminder job reads and writes: confirmed sign-ups it has work for.

``signups.reminder_due_at`` says when the job next has something to do for a sign-up: NULL
until it has planned that sign-up's reminders, ``NEVER`` once the last has gone. Whatever
changes the plan (new sign-ups need nothing; changed preferences or start times) sets it back
to NULL, and the job plans again on its next run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Role, Status
from storage.schema import (
    activities,
    centers,
    deliveries,
    signups,
    signups_in_context,
    users,
    volunteer_profiles,
)


@dataclass(frozen=True, slots=True)
class Upcoming:
    signup_id: int
    user_id: int
    role: str
    language: str
    reminders: str | None  # the user's choice, see domain.reminders.parse_reminders
    signed_up_at: datetime
    activity_id: int
    starts_at: datetime
    timezone: str


NEVER = datetime(9999, 1, 1, tzinfo=UTC)


async def due_for_reminders(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Upcoming]:
    """Confirmed sign-ups of people who have not blocked the bot, for scheduled activities
    that have not started, whose reminders are due or not yet planned."""
    # Two range reads of ix_signups_status_reminder_due_at, one per case: written as one
    # "IS NULL OR <= now", SQLite can use only the index's status column and walks every
    # confirmed sign-up each minute (0.2 s at a million, on the event loop).
    due = union_all(
        select(signups.c.id).where(
            signups.c.status == Status.CONFIRMED, signups.c.reminder_due_at.is_(None)
        ),
        select(signups.c.id).where(
            signups.c.status == Status.CONFIRMED, signups.c.reminder_due_at <= now
        ),
    )
    rows = await conn.execute(
        select(
            signups.c.id,
            signups.c.user_id,
            signups.c.role,
            users.c.language,
            users.c.reminders,
            signups.c.created_at,
            activities.c.id,
            activities.c.starts_at,
            centers.c.timezone,
        )
        .select_from(signups_in_context)
        .where(
            signups.c.id.in_(due),
            activities.c.status == "scheduled",
            activities.c.starts_at > now,
            users.c.blocked.is_(False),
        )
        .order_by(signups.c.id)
        .limit(limit)
    )
    return [Upcoming(*row) for row in rows]


async def retire_past_reminders(conn: AsyncConnection, *, now: datetime) -> int:
    """Sign-ups that are due or unplanned but whose activity has started or was cancelled
    (the bot was down, the user had blocked it, or the sign-up is older than planning) will
    never be reminded: mark them ``NEVER``, so that the job stops reading them every minute.
    One statement per index range, as in :func:`due_for_reminders`."""
    # Correlated, so that each candidate looks up its own activity. As "activity_id IN
    # (SELECT ... started or cancelled)" SQLite listed every past activity first: a scan of
    # the whole table each minute, growing with the chain's history (60 ms at 200,000).
    over = (
        select(activities.c.id)
        .where(
            activities.c.id == signups.c.activity_id,
            or_(activities.c.starts_at <= now, activities.c.status != "scheduled"),
        )
        .exists()
    )
    retired = 0
    for waiting in (signups.c.reminder_due_at.is_(None), signups.c.reminder_due_at <= now):
        result = await conn.execute(
            update(signups)
            .where(signups.c.status == Status.CONFIRMED, waiting, over)
            .values(reminder_due_at=NEVER)
        )
        retired += result.rowcount
    return retired


async def set_reminder_due(conn: AsyncConnection, due: Mapping[int, datetime]) -> None:
    """Record, per sign-up id, when the job next has work for it."""
    if due:
        await conn.execute(
            update(signups)
            .where(signups.c.id == bindparam("signup_id"))
            .values(reminder_due_at=bindparam("due_at")),
            [{"signup_id": signup_id, "due_at": at} for signup_id, at in due.items()],
        )


async def replan_for_user(conn: AsyncConnection, user_id: int) -> None:
    """The user changed which reminders they want: plan their sign-ups again."""
    await conn.execute(
        update(signups)
        .where(signups.c.user_id == user_id, signups.c.status == Status.CONFIRMED)
        .values(reminder_due_at=None)
    )


async def replan_for_activity(conn: AsyncConnection, activity_id: int) -> None:
    """The activity moved: its reminders move with it (their keys name the start time)."""
    await conn.execute(
        update(signups).where(signups.c.activity_id == activity_id).values(reminder_due_at=None)
    )


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


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    signup_id: int
    user_id: int
    display_name: str
    activity_id: int
    title: str
    starts_at: datetime


async def unconfirmed_volunteers(
    conn: AsyncConnection, center_id: int, *, now: datetime, lead: timedelta
) -> list[Unconfirmed]:
    """Volunteers of the center's shifts starting within ``lead`` who have not said "I'm
    coming": the coordinators' list of whom to call."""
    rows = await conn.execute(
        select(
            signups.c.id,
            signups.c.user_id,
            func.coalesce(volunteer_profiles.c.display_name, users.c.display_name),
            activities.c.id,
            activities.c.title,
            activities.c.starts_at,
        )
        .select_from(
            signups.join(activities, activities.c.id == signups.c.activity_id)
            .join(users, users.c.id == signups.c.user_id)
            .outerjoin(volunteer_profiles, volunteer_profiles.c.user_id == signups.c.user_id)
        )
        .where(
            activities.c.center_id == center_id,
            activities.c.status == "scheduled",
            activities.c.starts_at > now,
            activities.c.starts_at <= now + lead,
            signups.c.role == Role.VOLUNTEER,
            signups.c.status == Status.CONFIRMED,
            signups.c.coming_confirmed_at.is_(None),
        )
        .order_by(activities.c.starts_at, signups.c.id)
    )
    return [Unconfirmed(*row) for row in rows]


async def drop_pending_reminders(conn: AsyncConnection, signup_ids: Collection[int]) -> None:
    """Reminders of these sign-ups still waiting in the queue are not sent: the sign-up was
    cancelled, or its activity cancelled or moved. Pending rows are few, and the state index
    finds them; the key's prefix (digits and colons only) picks this sign-up's."""
    for signup_id in signup_ids:
        await conn.execute(
            delete(deliveries).where(
                deliveries.c.state == "pending",
                deliveries.c.kind == "reminder",
                deliveries.c.dedup_key.startswith(f"reminder:{signup_id}:"),
            )
        )


async def drop_pending_reminders_of_activity(conn: AsyncConnection, activity_id: int) -> None:
    found = await conn.execute(select(signups.c.id).where(signups.c.activity_id == activity_id))
    await drop_pending_reminders(conn, list(found.scalars()))
