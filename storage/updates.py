"""Update ids a webhook has taken in, so that each update is handled once across instances."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import dialect_insert
from storage.schema import processed_updates


async def claim_update(conn: AsyncConnection, update_id: int, *, now: datetime) -> bool:
    """Record the update as taken; False when some process (this one or another) has already
    taken it. The conflict is settled by the primary key, so two instances that receive the
    same update at once cannot both win."""
    inserted = await conn.execute(
        dialect_insert(conn)(processed_updates)
        .values(update_id=update_id, received_at=now)
        .on_conflict_do_nothing(index_elements=[processed_updates.c.update_id])
    )
    return bool(inserted.rowcount)


async def forget_updates(conn: AsyncConnection, *, before: datetime) -> int:
    """Drop the ids taken in before ``before``: Telegram gives up re-delivering long before."""
    result = await conn.execute(
        delete(processed_updates).where(processed_updates.c.received_at < before)
    )
    return result.rowcount
