"""The audit log: every coordinator and admin action, written in the transaction that acts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.schema import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor_id: int
    action: str
    center_id: int | None
    details: dict[str, Any]
    created_at: datetime


async def record(
    conn: AsyncConnection,
    actor_id: int,
    action: str,
    *,
    now: datetime,
    center_id: int | None = None,
    **details: Any,
) -> None:
    await conn.execute(
        insert(audit_log).values(
            actor_id=actor_id,
            action=action,
            center_id=center_id,
            details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
            created_at=now,
        )
    )


async def entries(
    conn: AsyncConnection, *, center_id: int | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The latest entries first, of one center or of the whole chain."""
    statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if center_id is not None:
        statement = statement.where(audit_log.c.center_id == center_id)
    return [
        AuditEntry(
            row.id,
            row.actor_id,
            row.action,
            row.center_id,
            json.loads(row.details) if row.details else {},
            row.created_at,
        )
        for row in await conn.execute(statement)
    ]
