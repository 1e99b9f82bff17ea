"""Residents' ideas for their center: proposed, answered by a coordinator, or turned into an
activity (``done``, with the activity's id) or set aside (``done`` without one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.schema import centers, ideas, users

MAX_IDEA: Final = 2000  # the column's length, for the text and the reply alike


class IdeaStatus(StrEnum):
    NEW = "new"
    ANSWERED = "answered"
    DONE = "done"


OPEN: Final = (IdeaStatus.NEW, IdeaStatus.ANSWERED)


@dataclass(frozen=True, slots=True)
class Idea:
    id: int
    center_id: int
    user_id: int
    text: str
    can_help: bool
    status: str
    reply: str | None
    activity_id: int | None
    created_at: datetime
    updated_at: datetime
    author_name: str
    author_language: str
    author_blocked: bool


_COLUMNS = [
    *(ideas.c[name] for name in Idea.__slots__ if name in ideas.c),
    users.c.display_name,
    users.c.language,
    users.c.blocked,
]
_FROM = ideas.join(users, users.c.id == ideas.c.user_id)


async def add_idea(
    conn: AsyncConnection, *, center_id: int, user_id: int, text: str, can_help: bool, now: datetime
) -> int:
    result = await conn.execute(
        insert(ideas).values(
            center_id=center_id,
            user_id=user_id,
            text=text,
            can_help=can_help,
            status=IdeaStatus.NEW,
            created_at=now,
            updated_at=now,
        )
    )
    return result.inserted_primary_key[0]


async def ideas_since(
    conn: AsyncConnection, *, user_id: int, center_id: int, since: datetime
) -> int:
    """How many ideas the user gave the center since then: the daily limit's count."""
    return await conn.scalar(
        select(func.count()).where(
            ideas.c.user_id == user_id, ideas.c.center_id == center_id, ideas.c.created_at >= since
        )
    )


async def get_idea(conn: AsyncConnection, idea_id: int) -> Idea | None:
    row = (
        await conn.execute(select(*_COLUMNS).select_from(_FROM).where(ideas.c.id == idea_id))
    ).first()
    return Idea(*row) if row else None


async def open_ideas(
    conn: AsyncConnection, center_id: int, *, limit: int, offset: int = 0
) -> tuple[list[Idea], int]:
    """A page of the center's new and answered ideas, the newest first, and how many there
    are in all."""
    where = (ideas.c.center_id == center_id, ideas.c.status.in_(OPEN))
    total = await conn.scalar(select(func.count()).select_from(ideas).where(*where))
    rows = await conn.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(*where)
        .order_by(ideas.c.created_at.desc(), ideas.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [Idea(*row) for row in rows], total


async def save_reply(conn: AsyncConnection, idea_id: int, reply: str, *, now: datetime) -> bool:
    """Answer an idea that is still open; False when it is not (done, or gone)."""
    result = await conn.execute(
        update(ideas)
        .where(ideas.c.id == idea_id, ideas.c.status.in_(OPEN))
        .values(reply=reply, status=IdeaStatus.ANSWERED, updated_at=now)
    )
    return result.rowcount > 0


async def close_idea(
    conn: AsyncConnection, idea_id: int, *, now: datetime, activity_id: int | None = None
) -> bool:
    """Mark an open idea done, with the activity it became if any; False when it was not
    open (a second press, or the author erased it)."""
    result = await conn.execute(
        update(ideas)
        .where(ideas.c.id == idea_id, ideas.c.status.in_(OPEN))
        .values(status=IdeaStatus.DONE, activity_id=activity_id, updated_at=now)
    )
    return result.rowcount > 0


async def user_ideas(conn: AsyncConnection, user_id: int) -> list[dict[str, object]]:
    """One's own ideas, JSON-ready, for /mydata."""
    rows = await conn.execute(
        select(
            centers.c.name,
            ideas.c.text,
            ideas.c.can_help,
            ideas.c.status,
            ideas.c.reply,
            ideas.c.created_at,
        )
        .join(centers, centers.c.id == ideas.c.center_id)
        .where(ideas.c.user_id == user_id)
        .order_by(ideas.c.created_at)
    )
    return [
        {
            "center": row.name,
            "idea": row.text,
            "can_help": row.can_help,
            "status": row.status,
            "reply": row.reply,
            "proposed_at": row.created_at.isoformat(),
        }
        for row in rows
    ]
