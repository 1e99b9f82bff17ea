"""Coordinators' announcements: who gets them, and their messages in the ``deliveries`` queue.

An announcement's life: ``scheduled`` (its time has not come) -> ``sending`` (its messages
are queued, one delivery per recipient, tagged with its id) -> ``done`` once none is left;
or ``cancelled`` by a coordinator, before or while it goes out. ``finished_at`` is set when
its final report is written. The row is the truth: a restart finds due announcements and
ones still going out in the table, not in any scheduler's memory.

Recipients are chosen and queued by one ``INSERT ... SELECT`` inside the database, so that
100,000 of them cost no more memory than ten; a dedup key per announcement and person
(``broadcast:<id>:<user>``) makes queueing them twice impossible. People who blocked the bot
are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import String, Text, and_, case, cast, false, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from domain.activities import ACTIVE, Role, Status
from domain.broadcasts import VOLUNTEER_WINDOW, Audience, BroadcastState, Progress
from storage.database import dialect_insert
from storage.deliveries import CANCELLED, FAILED, PENDING, SENDING, SENT, UNKNOWN
from storage.schema import (
    UTCDateTime,
    activities,
    broadcasts,
    deliveries,
    signups,
    subscriptions,
    users,
)

KIND: Final = "broadcast"


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    center_id: int
    author_id: int
    text: str  # HTML
    photo: str | None
    audience: str
    activity_id: int | None
    state: str
    send_at: datetime
    recipients: int | None  # how many were queued; None until then
    created_at: datetime
    finished_at: datetime | None
    report_chat_id: int | None
    report_message_id: int | None


_COLUMNS = [broadcasts.c[name] for name in Broadcast.__slots__]


def dedup_key(broadcast_id: int, user_id: int) -> str:
    return f"broadcast:{broadcast_id}:{user_id}"


def _audience(
    audience: Audience, center_id: int, activity_id: int | None, now: datetime
) -> Select[Any]:
    """The recipients' user ids, each once, none who blocked the bot."""
    reachable = users.c.blocked.is_(false())
    if audience is Audience.SUBSCRIBERS:
        return (
            select(users.c.id)
            .select_from(subscriptions.join(users, users.c.id == subscriptions.c.user_id))
            .where(subscriptions.c.center_id == center_id, reachable)
        )
    joined = signups.join(activities, activities.c.id == signups.c.activity_id).join(
        users, users.c.id == signups.c.user_id
    )
    if audience is Audience.ACTIVITY:
        # One row per person and activity (a unique constraint): no DISTINCT needed. The
        # center is checked here too, whatever the caller checked.
        return (
            select(users.c.id)
            .select_from(joined)
            .where(
                signups.c.activity_id == activity_id,
                activities.c.center_id == center_id,
                signups.c.status.in_(ACTIVE),
                reachable,
            )
        )
    return (
        select(users.c.id)
        .distinct()
        .select_from(joined)
        .where(
            activities.c.center_id == center_id,
            activities.c.starts_at >= now - VOLUNTEER_WINDOW,
            signups.c.role == Role.VOLUNTEER.value,
            signups.c.status == Status.CONFIRMED.value,
            reachable,
        )
    )


async def count_recipients(
    conn: AsyncConnection,
    audience: Audience,
    center_id: int,
    activity_id: int | None = None,
    *,
    now: datetime,
) -> int:
    query = _audience(audience, center_id, activity_id, now).subquery()
    return (await conn.execute(select(func.count()).select_from(query))).scalar_one()


async def create_broadcast(
    conn: AsyncConnection,
    *,
    center_id: int,
    author_id: int,
    text: str,
    photo: str | None,
    audience: Audience,
    activity_id: int | None,
    send_at: datetime,
    now: datetime,
    report_chat_id: int | None = None,
    report_message_id: int | None = None,
) -> int:
    """A ``scheduled`` announcement; ``start_broadcast`` queues it when its time comes."""
    result = await conn.execute(
        broadcasts.insert().values(
            center_id=center_id,
            author_id=author_id,
            text=text,
            photo=photo,
            audience=audience.value,
            activity_id=activity_id,
            state=BroadcastState.SCHEDULED.value,
            send_at=send_at,
            created_at=now,
            report_chat_id=report_chat_id,
            report_message_id=report_message_id,
        )
    )
    return result.inserted_primary_key[0]


async def start_broadcast(
    conn: AsyncConnection, broadcast: Broadcast, *, reply_markup: str | None, now: datetime
) -> int | None:
    """Queue a scheduled announcement for every recipient and mark it ``sending``; how many
    were queued, or None if it is no longer scheduled (started or cancelled meanwhile).

    One ``INSERT ... SELECT``: the recipients never pass through Python. ``reply_markup`` is
    the Bot API JSON every message carries. Tell the sender after the commit.
    """
    started = await conn.execute(
        update(broadcasts)
        .where(
            broadcasts.c.id == broadcast.id,
            broadcasts.c.state == BroadcastState.SCHEDULED.value,
        )
        .values(state=BroadcastState.SENDING.value)
    )
    if started.rowcount == 0:
        return None
    source = _audience(
        Audience(broadcast.audience), broadcast.center_id, broadcast.activity_id, now
    )
    user_id = source.selected_columns[0]
    stamp = literal(now, UTCDateTime())
    rows = source.with_only_columns(
        user_id,
        literal(KIND, String()),
        literal(f"broadcast:{broadcast.id}:", String()) + cast(user_id, String()),
        literal(broadcast.text, Text()),
        literal(reply_markup, Text()),
        literal(broadcast.photo, String()),
        literal(broadcast.id),
        literal(PENDING, String()),
        literal(0),
        stamp,
        stamp,
        maintain_column_froms=True,
    )
    columns = [
        "user_id",
        "kind",
        "dedup_key",
        "text",
        "reply_markup",
        "photo",
        "broadcast_id",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    insert = dialect_insert(conn)(deliveries).from_select(columns, rows)
    # Belt and braces: the state change above already makes a second start impossible.
    insert = insert.on_conflict_do_nothing(index_elements=[deliveries.c.dedup_key])
    queued = (await conn.execute(insert)).rowcount
    await conn.execute(
        update(broadcasts).where(broadcasts.c.id == broadcast.id).values(recipients=queued)
    )
    return queued


async def get_broadcast(conn: AsyncConnection, broadcast_id: int) -> Broadcast | None:
    row = (await conn.execute(select(*_COLUMNS).where(broadcasts.c.id == broadcast_id))).first()
    return Broadcast(*row) if row else None


async def broadcast_reported_in(conn: AsyncConnection, chat_id: int, message_id: int) -> int | None:
    """The announcement whose report is this message, if any: a second press of "Send" on
    the same preview finds the first one's."""
    return await conn.scalar(
        select(broadcasts.c.id).where(
            broadcasts.c.report_chat_id == chat_id,
            broadcasts.c.report_message_id == message_id,
        )
    )


async def set_report_message(
    conn: AsyncConnection, broadcast_id: int, chat_id: int, message_id: int
) -> None:
    await conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == broadcast_id)
        .values(report_chat_id=chat_id, report_message_id=message_id)
    )


async def due_broadcasts(conn: AsyncConnection, *, now: datetime) -> list[Broadcast]:
    """Scheduled announcements whose time has come, the earliest first."""
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(
            broadcasts.c.state == BroadcastState.SCHEDULED.value,
            broadcasts.c.send_at <= now,
        )
        .order_by(broadcasts.c.send_at, broadcasts.c.id)
    )
    return [Broadcast(*row) for row in rows]


async def unfinished_broadcasts(conn: AsyncConnection) -> list[Broadcast]:
    """Announcements going out, or stopped and waiting for their last messages in flight:
    those whose report is still to be written."""
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(
            or_(
                broadcasts.c.state == BroadcastState.SENDING.value,
                and_(
                    broadcasts.c.state == BroadcastState.CANCELLED.value,
                    broadcasts.c.finished_at.is_(None),
                ),
            )
        )
        .order_by(broadcasts.c.id)
    )
    return [Broadcast(*row) for row in rows]


async def scheduled_broadcasts(conn: AsyncConnection, center_id: int) -> list[Broadcast]:
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(
            broadcasts.c.center_id == center_id,
            broadcasts.c.state == BroadcastState.SCHEDULED.value,
        )
        .order_by(broadcasts.c.send_at, broadcasts.c.id)
    )
    return [Broadcast(*row) for row in rows]


async def broadcast_progress(conn: AsyncConnection, broadcast: Broadcast) -> Progress:
    """Its deliveries by state (an index range of ``broadcast_id, state``); failed ones of
    people who have blocked the bot count as ``blocked``."""
    counts = dict.fromkeys((PENDING, SENDING, SENT, FAILED, UNKNOWN, CANCELLED), 0)
    rows = await conn.execute(
        select(deliveries.c.state, func.count())
        .where(deliveries.c.broadcast_id == broadcast.id)
        .group_by(deliveries.c.state)
    )
    for state, count in rows:
        counts[state] = count
    blocked = 0
    if counts[FAILED]:
        blocked = await conn.scalar(
            select(func.count())
            .select_from(deliveries.join(users, users.c.id == deliveries.c.user_id))
            .where(
                deliveries.c.broadcast_id == broadcast.id,
                deliveries.c.state == FAILED,
                users.c.blocked.is_(True),
            )
        )
    return Progress(
        recipients=broadcast.recipients or 0,
        sent=counts[SENT],
        failed=counts[FAILED] - blocked,
        blocked=blocked,
        unknown=counts[UNKNOWN],
        cancelled=counts[CANCELLED],
        left=counts[PENDING] + counts[SENDING],
    )


async def cancel_broadcast(conn: AsyncConnection, broadcast_id: int, *, now: datetime) -> bool:
    """Stop an announcement: a scheduled one never goes out (and is finished at once); one
    going out has its queued messages ``cancelled`` in one statement, while those already on
    the wire finish. False when it was neither (done, or cancelled already)."""
    changed = await conn.execute(
        update(broadcasts)
        .where(
            broadcasts.c.id == broadcast_id,
            broadcasts.c.state.in_((BroadcastState.SCHEDULED.value, BroadcastState.SENDING.value)),
        )
        .values(
            state=BroadcastState.CANCELLED.value,
            # Nothing of a scheduled one was queued: its report is written now.
            finished_at=case(
                (broadcasts.c.state == BroadcastState.SCHEDULED.value, now), else_=None
            ),
        )
    )
    if changed.rowcount == 0:
        return False
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.broadcast_id == broadcast_id, deliveries.c.state == PENDING)
        .values(state=CANCELLED)
    )
    return True


async def finish_broadcast(conn: AsyncConnection, broadcast_id: int, *, now: datetime) -> bool:
    """Its final report is written: ``done`` (or still ``cancelled``), once."""
    result = await conn.execute(
        update(broadcasts)
        .where(broadcasts.c.id == broadcast_id, broadcasts.c.finished_at.is_(None))
        .values(
            finished_at=now,
            state=case(
                (
                    broadcasts.c.state == BroadcastState.SENDING.value,
                    BroadcastState.DONE.value,
                ),
                else_=broadcasts.c.state,
            ),
        )
    )
    return result.rowcount > 0


async def upcoming_activity_ids(
    conn: AsyncConnection, center_id: int, *, now: datetime, limit: int
) -> list[int]:
    """The center's next activities (not cancelled, not started), soonest first."""
    rows = await conn.execute(
        select(activities.c.id)
        .where(
            activities.c.center_id == center_id,
            activities.c.status == "scheduled",
            activities.c.starts_at > now,
        )
        .order_by(activities.c.starts_at, activities.c.id)
        .limit(limit)
    )
    return list(rows.scalars())
