"""Named leases: a row says which process holds a role, until when."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import dialect_insert
from storage.schema import leases


async def acquire(
    conn: AsyncConnection, name: str, owner: str, *, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease; False while someone else holds it. The write is conditional,
    so two processes that both read an expired lease cannot both take it (under PostgreSQL's
    READ COMMITTED the second UPDATE re-checks the row the first one committed)."""
    taken = await conn.execute(
        update(leases)
        .where(leases.c.name == name, or_(leases.c.owner == owner, leases.c.expires_at <= now))
        .values(owner=owner, expires_at=now + ttl)
    )
    if taken.rowcount:
        return True
    inserted = await conn.execute(
        dialect_insert(conn)(leases)
        .values(name=name, owner=owner, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=[leases.c.name])
    )
    return bool(inserted.rowcount)


async def release(conn: AsyncConnection, name: str, owner: str) -> None:
    await conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))


async def holder(conn: AsyncConnection, name: str) -> tuple[str, datetime] | None:
    row = (
        await conn.execute(select(leases.c.owner, leases.c.expires_at).where(leases.c.name == name))
    ).first()
    return (row.owner, row.expires_at) if row else None
