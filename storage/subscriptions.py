"""Who follows which center: the audience of its announcements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.centers import CENTER_COLUMNS, Center
from storage.database import dialect_insert
from storage.schema import centers, subscriptions


async def subscribe(conn: AsyncConnection, user_id: int, center_id: int, *, now: datetime) -> bool:
    """Subscribe once; a repeated tap is a no-op. Returns whether a row was added."""
    statement = dialect_insert(conn)(subscriptions).values(
        user_id=user_id, center_id=center_id, created_at=now
    )
    result = await conn.execute(statement.on_conflict_do_nothing())
    return result.rowcount > 0


async def unsubscribe(conn: AsyncConnection, user_id: int, center_id: int) -> bool:
    result = await conn.execute(
        delete(subscriptions).where(
            subscriptions.c.user_id == user_id, subscriptions.c.center_id == center_id
        )
    )
    return result.rowcount > 0


async def is_subscribed(conn: AsyncConnection, user_id: int, center_id: int) -> bool:
    query = select(
        exists().where(subscriptions.c.user_id == user_id, subscriptions.c.center_id == center_id)
    )
    return bool(await conn.scalar(query))


# Built once: most screens start from the reader's centers.
_SUBSCRIBED = (
    select(*CENTER_COLUMNS)
    .join(subscriptions, subscriptions.c.center_id == centers.c.id)
    .where(subscriptions.c.user_id == bindparam("user_id"))
    .order_by(subscriptions.c.created_at, centers.c.id)
)


async def subscribed_centers(conn: AsyncConnection, user_id: int) -> list[Center]:
    rows = await conn.execute(_SUBSCRIBED, {"user_id": user_id})
    return [Center(*row) for row in rows]
