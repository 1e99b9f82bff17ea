"""Named leases: a row says which process holds a role, until when."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.schema import leases


async def acquire(
    conn: AsyncConnection, name: str, owner: str, *, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease; False while someone else holds it. Call inside a write
    transaction: the read and the write must not be split by another process's."""
    row = (
        await conn.execute(select(leases.c.owner, leases.c.expires_at).where(leases.c.name == name))
    ).first()
    if row is None:
        await conn.execute(leases.insert().values(name=name, owner=owner, expires_at=now + ttl))
        return True
    if row.owner != owner and row.expires_at > now:
        return False
    await conn.execute(
        update(leases).where(leases.c.name == name).values(owner=owner, expires_at=now + ttl)
    )
    return True


async def release(conn: AsyncConnection, name: str, owner: str) -> None:
    await conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))


async def holder(conn: AsyncConnection, name: str) -> tuple[str, datetime] | None:
    row = (
        await conn.execute(select(leases.c.owner, leases.c.expires_at).where(leases.c.name == name))
    ).first()
    return (row.owner, row.expires_at) if row else None
