"""What the digest and new-activity jobs read and write, and the settings behind them.

Neither job keeps anything of its own: the digest's "already sent this week" is its delivery
in the queue (found by dedup key), and an activity's "subscribers were told" is
``activities.announced_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import String, and_, cast, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.schema import activities, centers, deliveries, subscriptions, users

_BATCH: Final = 500  # ids per IN (...): well inside every backend's parameter limit


def digest_key(user_id: int, center_id: int, monday: date) -> str:
    return f"digest:{user_id}:{center_id}:{monday.isoformat()}"


def _digest_key_sql(monday: date) -> Any:
    """``digest_key`` as an SQL expression over a subscription, so that the database itself
    leaves out whoever has this week's digest queued (the key's unique index finds it)."""
    return (
        literal("digest:")
        + cast(subscriptions.c.user_id, String)
        + literal(":")
        + cast(subscriptions.c.center_id, String)
        + literal(":" + monday.isoformat())
    )


@dataclass(frozen=True, slots=True)
class DigestRecipient:
    user_id: int
    language: str
    center_id: int


async def center_zones(conn: AsyncConnection) -> list[str]:
    """The time zones of all centers: a handful, however many centers there are."""
    rows = await conn.execute(select(centers.c.timezone).distinct().order_by(centers.c.timezone))
    return list(rows.scalars())


def _on_for_participants(since: datetime, until: datetime) -> Any:
    # What the digest lists: what residents can join, as in the activities list.
    return and_(
        activities.c.center_id == centers.c.id,
        activities.c.status == "scheduled",
        activities.c.accepts_participants.is_(True),
        activities.c.starts_at > since,
        activities.c.starts_at < until,
    )


async def digest_recipients(
    conn: AsyncConnection,
    *,
    zone: str,
    monday: date,
    digest_at: datetime,
    now: datetime,
    week_ends_at: datetime,
) -> list[DigestRecipient]:
    """Who still has to get this week's digest of a center in ``zone``: subscribed before the
    digest's moment (a subscription an hour ago is not waiting for a weekly summary), wants
    digests, has not blocked the bot, and the center has something on before the week ends."""
    rows = await conn.execute(
        select(users.c.id, users.c.language, centers.c.id)
        .select_from(
            subscriptions.join(users, users.c.id == subscriptions.c.user_id).join(
                centers, centers.c.id == subscriptions.c.center_id
            )
        )
        .where(
            centers.c.timezone == zone,
            subscriptions.c.created_at <= digest_at,
            users.c.weekly_digest.is_(True),
            users.c.blocked.is_(False),
            exists().where(_on_for_participants(now, week_ends_at)),
            ~exists().where(deliveries.c.dedup_key == _digest_key_sql(monday)),
        )
        .order_by(centers.c.id, users.c.id)
    )
    return [DigestRecipient(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Unannounced:
    activity_id: int
    series_id: int | None
    series_known: bool  # another occurrence of its series was announced before


async def unannounced(conn: AsyncConnection, *, now: datetime, limit: int) -> list[Unannounced]:
    """Scheduled activities still to start that subscribers have not been told about, a
    center's together and soonest first. Only the future is read, through the start-time
    index: rows that started unannounced (an import of the past, downtime) are never news."""
    other = activities.alias("other")
    known = exists().where(
        other.c.series_id == activities.c.series_id, other.c.announced_at.is_not(None)
    )
    rows = await conn.execute(
        select(activities.c.id, activities.c.series_id, known)
        .where(
            activities.c.starts_at > now,
            activities.c.announced_at.is_(None),
            activities.c.status == "scheduled",
        )
        .order_by(activities.c.center_id, activities.c.starts_at, activities.c.id)
        .limit(limit)
    )
    return [Unannounced(id_, series_id, bool(seen)) for id_, series_id, seen in rows]


@dataclass(frozen=True, slots=True)
class Follower:
    user_id: int
    language: str
    center_id: int
    categories: str | None  # users.announce_categories; never "" (those are left out)


async def followers(conn: AsyncConnection, center_ids: Sequence[int]) -> list[Follower]:
    """Subscribers of these centers who have not blocked the bot and want some news."""
    found: list[Follower] = []
    for start in range(0, len(center_ids), _BATCH):
        rows = await conn.execute(
            select(
                users.c.id, users.c.language, subscriptions.c.center_id, users.c.announce_categories
            )
            .join(users, users.c.id == subscriptions.c.user_id)
            .where(
                subscriptions.c.center_id.in_(center_ids[start : start + _BATCH]),
                users.c.blocked.is_(False),
                users.c.announce_categories.is_distinct_from(""),
            )
            .order_by(users.c.id, subscriptions.c.center_id)
        )
        found += [Follower(*row) for row in rows]
    return found


async def mark_announced(
    conn: AsyncConnection, activity_ids: Sequence[int], *, now: datetime
) -> int:
    changed = 0
    for start in range(0, len(activity_ids), _BATCH):
        result = await conn.execute(
            update(activities)
            .where(
                activities.c.id.in_(activity_ids[start : start + _BATCH]),
                activities.c.announced_at.is_(None),
            )
            .values(announced_at=now)
        )
        changed += result.rowcount
    return changed


async def set_weekly_digest(conn: AsyncConnection, user_id: int, on: bool) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(weekly_digest=on))


async def set_announce_categories(conn: AsyncConnection, user_id: int, stored: str | None) -> None:
    await conn.execute(
        update(users).where(users.c.id == user_id).values(announce_categories=stored)
    )
