"""The figures coordinators and admins read, aggregated in the database.

Every query groups in SQL, by week or by region, so a center with thousands of sign-ups
sends back a handful of rows. Weeks are CASE buckets over UTC boundaries computed in
``domain.stats.last_weeks`` (local midnights), grouped by the bucket's alias: portable Core,
no date function of one database. Durations come from ``EXTRACT(epoch ...)``, which
SQLAlchemy writes for SQLite and PostgreSQL alike.

Only scheduled activities count (a cancelled one was not held), by when they started.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from domain.activities import Role, Status
from domain.stats import Figures, Week
from storage.ratings import center_ratings
from storage.schema import (
    activities,
    centers,
    coordinators,
    guest_signups,
    ratings,
    signups,
    subscriptions,
    users,
)

_KEY = "grp"


@dataclass(frozen=True, slots=True)
class CenterStats:
    weeks: list[tuple[Week, Figures]]
    subscribers: int
    ratings: int
    rating_average: float | None


@dataclass(frozen=True, slots=True)
class RegionRow:
    region: str | None
    centers: int
    subscribers: int
    figures: Figures
    rating_average: float | None


@dataclass(frozen=True, slots=True)
class ChainCounts:
    centers: int
    centers_with_coordinator: int
    coordinators: int
    residents: int  # everyone who accepted the privacy terms
    subscriptions: int
    upcoming_activities: int


async def center_stats(conn: AsyncConnection, center_id: int, weeks: Sequence[Week]) -> CenterStats:
    start, end = weeks[0].start, weeks[-1].end
    bucket = _bucket(activities.c.starts_at, weeks)
    scope = [activities.c.center_id == center_id, *_held(start, end)]
    found: dict[Any, dict[str, int]] = {}
    await _activity_sums(conn, found, bucket, scope, now=end)
    joined = subscriptions.c.center_id == center_id
    new = await conn.execute(
        select(
            _bucket(subscriptions.c.created_at, weeks).label(_KEY),
            func.count().label("new_subscribers"),
        )
        .where(joined, subscriptions.c.created_at >= start, subscriptions.c.created_at < end)
        .group_by(_KEY)
    )
    _merge(found, new)
    subscribers = await conn.scalar(select(func.count()).select_from(subscriptions).where(joined))
    rated = await center_ratings(conn, center_id, start, comments=0)
    return CenterStats(
        weeks=[(week, Figures(**found.get(index, {}))) for index, week in enumerate(weeks)],
        subscribers=subscribers or 0,
        ratings=rated.count,
        rating_average=rated.average,
    )


async def region_rows(conn: AsyncConnection, start: datetime, end: datetime) -> list[RegionRow]:
    """One row per region (centers without one together, as ``None``) for activities held
    from ``start`` to ``end``; subscribers are everyone following a center there today."""
    region = centers.c.region
    found: dict[Any, dict[str, int]] = {}
    await _activity_sums(conn, found, region, _held(start, end), now=end)
    center_counts = await _by_key(conn, select(region, func.count()).group_by(region))
    subscriber_counts = await _by_key(
        conn,
        select(region, func.count(func.distinct(subscriptions.c.user_id)))
        .select_from(subscriptions.join(centers, centers.c.id == subscriptions.c.center_id))
        .group_by(region),
    )
    averages = await _by_key(
        conn,
        select(region, func.avg(ratings.c.score))
        .select_from(
            ratings.join(activities, activities.c.id == ratings.c.activity_id).join(
                centers, centers.c.id == activities.c.center_id
            )
        )
        .where(activities.c.ends_at >= start, activities.c.ends_at < end)
        .group_by(region),
    )
    names = sorted(center_counts.keys() | found.keys(), key=lambda name: (name is None, name or ""))
    return [
        RegionRow(
            region=name,
            centers=center_counts.get(name, 0),
            subscribers=subscriber_counts.get(name, 0),
            figures=Figures(**found.get(name, {})),
            rating_average=None if averages.get(name) is None else float(averages[name]),
        )
        for name in names
    ]


async def chain_counts(conn: AsyncConnection, now: datetime) -> ChainCounts:
    async def count(statement: Any) -> int:
        return await conn.scalar(statement) or 0

    return ChainCounts(
        centers=await count(select(func.count()).select_from(centers)),
        centers_with_coordinator=await count(
            select(func.count(func.distinct(coordinators.c.center_id)))
        ),
        coordinators=await count(select(func.count(func.distinct(coordinators.c.user_id)))),
        residents=await count(select(func.count()).select_from(users)),
        subscriptions=await count(select(func.count()).select_from(subscriptions)),
        upcoming_activities=await count(
            select(func.count())
            .select_from(activities)
            .where(activities.c.status == "scheduled", activities.c.starts_at > now)
        ),
    )


def _held(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [
        activities.c.status == "scheduled",
        activities.c.starts_at >= start,
        activities.c.starts_at < end,
    ]


def _bucket(column: Any, weeks: Sequence[Week]) -> ColumnElement[Any]:
    """The index of the week ``column`` falls in (rows are filtered to the whole period)."""
    return case(*((column < week.end, index) for index, week in enumerate(weeks)), else_=None)


async def _by_key(conn: AsyncConnection, statement: Any) -> dict[Any, Any]:
    """A grouped query's (key, value) rows as a dict."""
    return dict((await conn.execute(statement)).all())


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _merge(found: dict[Any, dict[str, int]], rows: Any) -> None:
    for row in rows.mappings():
        values = found.setdefault(row[_KEY], {})
        for name, value in row.items():
            if name != _KEY:
                values[name] = values.get(name, 0) + int(value or 0)


async def _activity_sums(
    conn: AsyncConnection,
    found: dict[Any, dict[str, int]],
    key: ColumnElement[Any],
    scope: Sequence[ColumnElement[bool]],
    *,
    now: datetime,
) -> None:
    """Activities held, sign-ups, roll call, waitlist and volunteer time, grouped by ``key``
    (a week bucket or the region), added into ``found``."""
    with_center = activities.join(centers, centers.c.id == activities.c.center_id)
    _merge(
        found,
        await conn.execute(
            select(key.label(_KEY), func.count().label("activities"))
            .select_from(with_center)
            .where(*scope)
            .group_by(_KEY)
        ),
    )
    participant = and_(
        signups.c.role == Role.PARTICIPANT.value, signups.c.status == Status.CONFIRMED.value
    )
    waited = signups.c.waitlisted_at.is_not(None)
    served = and_(
        signups.c.role == Role.VOLUNTEER.value,
        signups.c.status == Status.CONFIRMED.value,
        or_(signups.c.attended.is_(None), signups.c.attended.is_(True)),
        activities.c.ends_at <= now,
    )
    duration = extract("epoch", activities.c.ends_at) - extract("epoch", activities.c.starts_at)
    _merge(
        found,
        await conn.execute(
            select(
                key.label(_KEY),
                _count(participant).label("signups"),
                _count(and_(participant, signups.c.attended.is_(True))).label("present"),
                _count(and_(participant, signups.c.attended.is_(False))).label("absent"),
                _count(waited).label("waited"),
                _count(and_(waited, signups.c.status == Status.CONFIRMED.value)).label("seated"),
                func.coalesce(func.sum(case((served, duration), else_=0)), 0).label(
                    "volunteer_seconds"
                ),
            )
            .select_from(signups.join(with_center, activities.c.id == signups.c.activity_id))
            .where(*scope)
            .group_by(_KEY)
        ),
    )
    # People registered at the desk count as sign-ups, and at the roll call, like anyone.
    _merge(
        found,
        await conn.execute(
            select(
                key.label(_KEY),
                func.count().label("signups"),
                _count(guest_signups.c.attended.is_(True)).label("present"),
                _count(guest_signups.c.attended.is_(False)).label("absent"),
            )
            .select_from(
                guest_signups.join(with_center, activities.c.id == guest_signups.c.activity_id)
            )
            .where(*scope)
            .group_by(_KEY)
        ),
    )
