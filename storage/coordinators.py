"""Who may run which center, and the one-time invites that make someone a coordinator.

Rights are read from here on every coordinator action: a revoked coordinator loses them at
once, whatever buttons are still on their screen.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.centers import CENTER_COLUMNS, Center
from storage.database import dialect_insert
from storage.schema import centers, coordinators, invite_centers, invites, users

INVITE_LIFETIME: Final = timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class Coordinator:
    user_id: int
    display_name: str
    center_id: int
    appointed_at: datetime


_COORDINATES = select(
    exists().where(
        coordinators.c.user_id == bindparam("user_id"),
        coordinators.c.center_id == bindparam("center_id"),
    )
)


async def coordinates(conn: AsyncConnection, user_id: int, center_id: int) -> bool:
    return bool(
        (await conn.execute(_COORDINATES, {"user_id": user_id, "center_id": center_id})).scalar()
    )


async def coordinated_centers(conn: AsyncConnection, user_id: int) -> list[Center]:
    rows = await conn.execute(
        select(*CENTER_COLUMNS)
        .join(coordinators, coordinators.c.center_id == centers.c.id)
        .where(coordinators.c.user_id == user_id)
        .order_by(centers.c.name, centers.c.id)
    )
    return [Center(*row) for row in rows]


async def center_coordinators(conn: AsyncConnection, center_id: int) -> list[Coordinator]:
    rows = await conn.execute(
        select(
            coordinators.c.user_id,
            users.c.display_name,
            coordinators.c.center_id,
            coordinators.c.appointed_at,
        )
        .join(users, users.c.id == coordinators.c.user_id)
        .where(coordinators.c.center_id == center_id)
        .order_by(coordinators.c.appointed_at)
    )
    return [Coordinator(*row) for row in rows]


async def count_coordinators(conn: AsyncConnection) -> int:
    statement = select(func.count(func.distinct(coordinators.c.user_id)))
    return (await conn.execute(statement)).scalar_one()


async def appoint(
    conn: AsyncConnection, user_id: int, center_id: int, *, by: int, now: datetime
) -> bool:
    """Returns whether the user was not a coordinator of the center before."""
    statement = dialect_insert(conn)(coordinators).values(
        user_id=user_id, center_id=center_id, appointed_by=by, appointed_at=now
    )
    result = await conn.execute(statement.on_conflict_do_nothing())
    return result.rowcount > 0


async def revoke(conn: AsyncConnection, user_id: int, center_id: int) -> bool:
    result = await conn.execute(
        delete(coordinators).where(
            coordinators.c.user_id == user_id, coordinators.c.center_id == center_id
        )
    )
    return result.rowcount > 0


@dataclass(frozen=True, slots=True)
class Invite:
    token: str
    created_by: int
    replaces: int | None
    expires_at: datetime
    used_by: int | None
    center_ids: tuple[int, ...]


async def create_invite(
    conn: AsyncConnection,
    center_ids: list[int],
    *,
    by: int,
    now: datetime,
    replaces: int | None = None,
) -> str:
    token = secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]
    await conn.execute(
        insert(invites).values(
            token=token,
            created_by=by,
            replaces=replaces,
            created_at=now,
            expires_at=now + INVITE_LIFETIME,
        )
    )
    await conn.execute(
        insert(invite_centers), [{"token": token, "center_id": cid} for cid in center_ids]
    )
    return token


async def get_invite(conn: AsyncConnection, token: str) -> Invite | None:
    row = (
        await conn.execute(
            select(
                invites.c.token,
                invites.c.created_by,
                invites.c.replaces,
                invites.c.expires_at,
                invites.c.used_by,
            ).where(invites.c.token == token)
        )
    ).first()
    if row is None:
        return None
    center_ids = await conn.execute(
        select(invite_centers.c.center_id)
        .where(invite_centers.c.token == token)
        .order_by(invite_centers.c.center_id)
    )
    return Invite(*row, center_ids=tuple(center_ids.scalars()))


async def use_invite(conn: AsyncConnection, token: str, user_id: int, *, now: datetime) -> bool:
    """Claim the invite for ``user_id``: True once, for one user, before it expires. The
    conditional UPDATE is what makes it single-use when two people tap the link at once."""
    result = await conn.execute(
        update(invites)
        .where(
            and_(invites.c.token == token, invites.c.used_by.is_(None)),
            invites.c.expires_at > now,
        )
        .values(used_by=user_id, used_at=now)
    )
    return result.rowcount > 0


async def add_invite_center(conn: AsyncConnection, token: str, center_id: int, *, by: int) -> bool:
    """Add a center to an unused invite of ``by``'s; False when it is not theirs or is used."""
    owned = await conn.execute(
        select(invites.c.token).where(
            invites.c.token == token, invites.c.created_by == by, invites.c.used_by.is_(None)
        )
    )
    if owned.first() is None:
        return False
    statement = dialect_insert(conn)(invite_centers).values(token=token, center_id=center_id)
    await conn.execute(statement.on_conflict_do_nothing())
    return True
