"""Weekly series, and the writes that put activities on the calendar: the daily job that
materialises series into occurrences, the activities import and the demo data.

Occurrences are ordinary rows of ``activities`` with ``series_id`` set; sign-ups always
belong to one occurrence. The unique ``(series_id, starts_at)`` constraint, not a check in
Python, is what keeps an occurrence from being created twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import ACTIVE
from domain.recurrence import WeeklyRule, occurrences, parse_local_time, parse_weekdays
from storage.database import dialect_insert
from storage.reminders import drop_pending_reminders_of_activity, replan_for_activity
from storage.schema import activities, activity_series, centers, signups

__all__ = [
    "COPIED_FROM_SERIES",
    "activities_by_external_id",
    "centers_by_external_id",
    "first_occurrence",
    "insert_activities",
    "insert_missing_series",
    "insert_series",
    "materialise",
    "series_by_external_id",
    "series_rule",
    "update_activity",
    "update_series",
]

logger = logging.getLogger(__name__)

# What an occurrence takes over from its series.
COPIED_FROM_SERIES = (
    "title",
    "description",
    "category",
    "place_note",
    "capacity",
    "max_companions",
    "accepts_participants",
    "volunteer_role",
    "volunteer_places",
)

_BATCH = 1_000
_LOOKUP_BATCH = 500  # ids per IN (...): well inside every backend's parameter limit


async def insert_series(conn: AsyncConnection, **values: Any) -> int:
    result = await conn.execute(activity_series.insert().values(**values))
    return result.inserted_primary_key[0]


def series_rule(values: Any) -> WeeklyRule:
    """The rule of a series row (or of a mapping with the same keys)."""
    get = values.get if isinstance(values, dict) else values._mapping.get
    return WeeklyRule(
        weekdays=parse_weekdays(get("weekdays")),
        local_time=parse_local_time(get("local_time")),
        duration_minutes=get("duration_minutes"),
        first_date=get("first_date"),
        last_date=get("last_date"),
        every_weeks=get("every_weeks") or 1,
    )


async def materialise(
    conn: AsyncConnection,
    *,
    today_utc: datetime,
    weeks_ahead: int = 4,
    series_ids: Iterable[int] | None = None,
) -> int:
    """Create the missing occurrences of every series (or of ``series_ids``) whose local date,
    in the center's own time zone, is at most ``weeks_ahead`` weeks after today; returns how
    many were created.

    Occurrences that have already started by ``today_utc`` are not created, so a new series
    with a first date in the past is not back-filled. Existing occurrences, cancelled ones
    included, are never touched: running this daily, or twice, or concurrently, is safe.
    """
    query = select(activity_series, centers.c.timezone).join(
        centers, centers.c.id == activity_series.c.center_id
    )
    if series_ids is not None:
        ids = list(series_ids)
        if not ids:
            return 0
        query = query.where(activity_series.c.id.in_(ids))
    insert = dialect_insert(conn)
    statement = (
        insert(activities)
        .on_conflict_do_nothing(index_elements=[activities.c.series_id, activities.c.starts_at])
        .returning(activities.c.id)
    )
    created = 0
    batch: list[dict[str, Any]] = []
    for series in await conn.execute(query.order_by(activity_series.c.id)):
        try:
            rule = series_rule(series)
            zone = ZoneInfo(series.timezone)
        except (ValueError, KeyError) as error:
            # One broken row must not stop every other series from being scheduled.
            logger.warning("series %s cannot be materialised: %s", series.id, error)
            continue
        today = today_utc.astimezone(zone).date()
        until = today + timedelta(weeks=weeks_ahead)
        copied = {name: series._mapping[name] for name in COPIED_FROM_SERIES}
        for occurrence in occurrences(rule, zone, today, until):
            if occurrence.starts_at <= today_utc:
                continue
            batch.append(
                {
                    **copied,
                    "center_id": series.center_id,
                    "series_id": series.id,
                    "starts_at": occurrence.starts_at,
                    "ends_at": occurrence.ends_at,
                    "created_at": today_utc,
                }
            )
            if len(batch) >= _BATCH:
                created += len((await conn.execute(statement, batch)).all())
                batch = []
    if batch:
        created += len((await conn.execute(statement, batch)).all())
    return created


async def insert_missing_series(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert the series whose ``external_id`` is not there yet and leave the others alone;
    returns the id of every given external id."""
    if rows:
        insert = dialect_insert(conn)
        statement = insert(activity_series).on_conflict_do_nothing(
            index_elements=[activity_series.c.external_id]
        )
        await conn.execute(statement, list(rows))
    found = await series_by_external_id(conn, [row["external_id"] for row in rows])
    return {external_id: series_id for external_id, (series_id, _center) in found.items()}


async def insert_activities(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert one-off activities; a row whose ``external_id`` exists already is left alone.
    Every row must have the same keys. Returns how many were inserted."""
    insert = dialect_insert(conn)
    statement = (
        insert(activities)
        .on_conflict_do_nothing(index_elements=[activities.c.external_id])
        .returning(activities.c.id)
    )
    inserted = 0
    for start in range(0, len(rows), _BATCH):
        result = await conn.execute(statement, list(rows[start : start + _BATCH]))
        inserted += len(result.all())
    return inserted


async def update_activity(
    conn: AsyncConnection, activity_id: int, values: dict[str, Any], *, now: datetime
) -> str | None:
    """Change an activity that has not started yet; returns why not when it has, or when the
    new ``capacity`` or ``volunteer_places`` would be below what people have already taken
    (nobody loses a confirmed place). Status and counters are never changed here."""
    condition = and_(
        activities.c.id == activity_id,
        activities.c.starts_at > now,
        activities.c.volunteers_taken <= values["volunteer_places"],
    )
    if values["capacity"] is not None:
        condition = and_(condition, activities.c.seats_taken <= values["capacity"])
    before = await conn.scalar(select(activities.c.starts_at).where(activities.c.id == activity_id))
    if (await conn.execute(update(activities).where(condition).values(**values))).rowcount:
        if values.get("starts_at", before) != before:
            # Reminders follow the new time; any still queued would give the old one.
            await drop_pending_reminders_of_activity(conn, activity_id)
            await replan_for_activity(conn, activity_id)
        return None
    current = (
        await conn.execute(
            select(
                activities.c.starts_at, activities.c.seats_taken, activities.c.volunteers_taken
            ).where(activities.c.id == activity_id)
        )
    ).one()
    if current.starts_at <= now:
        # Its sign-ups are history now (a volunteer's hours): moving it would rewrite them.
        return "the activity has already started; give a new one an external_id of its own"
    return _shrink_refusal(values, current.seats_taken, current.volunteers_taken, "")


async def update_series(
    conn: AsyncConnection, series_id: int, values: dict[str, Any], *, now: datetime
) -> str | None:
    """Change a series and its upcoming occurrences; returns why not when that would take
    places away from people (see :func:`update_activity`), changing nothing.

    Upcoming occurrences take over the new title, capacity and the rest. When the days or
    the time change, upcoming occurrences that no longer fit the rule are deleted unless
    someone is signed up for them: those stay as they are, and the new occurrences are
    added next to them by :func:`materialise`.
    """
    upcoming = (
        await conn.execute(
            select(
                activities.c.id,
                activities.c.starts_at,
                activities.c.seats_taken,
                activities.c.volunteers_taken,
            ).where(
                activities.c.series_id == series_id,
                activities.c.starts_at > now,
                activities.c.status == "scheduled",
            )
        )
    ).all()
    if upcoming:
        seats = max(row.seats_taken for row in upcoming)
        volunteers = max(row.volunteers_taken for row in upcoming)
        refusal = _shrink_refusal(values, seats, volunteers, " at an upcoming occurrence")
        if refusal:
            return refusal
    await conn.execute(
        update(activity_series).where(activity_series.c.id == series_id).values(**values)
    )
    if not upcoming:
        return None
    zone = ZoneInfo(
        await conn.scalar(
            select(centers.c.timezone)
            .join(activity_series, activity_series.c.center_id == centers.c.id)
            .where(activity_series.c.id == series_id)
        )
    )
    rule = series_rule(values)
    last = max(row.starts_at for row in upcoming).astimezone(zone).date()
    wanted = {o.starts_at for o in occurrences(rule, zone, now.astimezone(zone).date(), last)}
    stale = [row.id for row in upcoming if row.starts_at not in wanted]
    if stale:
        signed_up = exists().where(
            signups.c.activity_id == activities.c.id, signups.c.status.in_(ACTIVE)
        )
        await conn.execute(delete(activities).where(activities.c.id.in_(stale), ~signed_up))
    duration = timedelta(minutes=rule.duration_minutes)
    copied = {name: values[name] for name in COPIED_FROM_SERIES}
    # A deleted id matches no row; ends_at follows a changed duration.
    await conn.execute(
        update(activities)
        .where(activities.c.id == bindparam("occurrence_id"))
        .values(**copied, ends_at=bindparam("new_ends_at")),
        [{"occurrence_id": row.id, "new_ends_at": row.starts_at + duration} for row in upcoming],
    )
    return None


def _shrink_refusal(values: dict[str, Any], seats: int, volunteers: int, where: str) -> str:
    capacity = values["capacity"]
    if capacity is not None and seats > capacity:
        return f"capacity {capacity} is less than the {seats} seats already taken{where}"
    places = values["volunteer_places"]
    if volunteers > places:
        return (
            f"volunteer_places {places} is less than the {volunteers} volunteers "
            f"already signed up{where}"
        )
    return ""


async def centers_by_external_id(conn: AsyncConnection) -> dict[str, tuple[int, str]]:
    """Every center's ``external_id`` → (id, time zone)."""
    rows = await conn.execute(select(centers.c.external_id, centers.c.id, centers.c.timezone))
    return {row.external_id: (row.id, row.timezone) for row in rows}


async def activities_by_external_id(
    conn: AsyncConnection, external_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """``external_id`` → (id, center id) of the activities that exist among these."""
    return await _by_external_id(conn, activities, external_ids)


async def series_by_external_id(
    conn: AsyncConnection, external_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """``external_id`` → (id, center id) of the series that exist among these."""
    return await _by_external_id(conn, activity_series, external_ids)


async def _by_external_id(
    conn: AsyncConnection, table: Table, external_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    ids = list(dict.fromkeys(external_ids))
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(ids), _LOOKUP_BATCH):
        rows = await conn.execute(
            select(table.c.external_id, table.c.id, table.c.center_id).where(
                table.c.external_id.in_(ids[start : start + _LOOKUP_BATCH])
            )
        )
        found.update((row.external_id, (row.id, row.center_id)) for row in rows)
    return found


async def first_occurrence(conn: AsyncConnection, series_id: int) -> int | None:
    """The id of a series' earliest occurrence, if one is on the calendar yet."""
    return await conn.scalar(
        select(activities.c.id)
        .where(activities.c.series_id == series_id)
        .order_by(activities.c.starts_at)
        .limit(1)
    )
