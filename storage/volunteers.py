"""The optional volunteer profile: how a volunteer wants to be named, and what they can do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import dialect_insert
from storage.schema import volunteer_profiles


@dataclass(frozen=True, slots=True)
class VolunteerProfile:
    display_name: str | None
    skills: str | None


async def get_profile(conn: AsyncConnection, user_id: int) -> VolunteerProfile | None:
    row = (
        await conn.execute(
            select(volunteer_profiles.c.display_name, volunteer_profiles.c.skills).where(
                volunteer_profiles.c.user_id == user_id
            )
        )
    ).first()
    return VolunteerProfile(*row) if row else None


async def save_profile(
    conn: AsyncConnection,
    user_id: int,
    *,
    display_name: str | None,
    skills: str | None,
    now: datetime,
) -> None:
    values = {"display_name": display_name, "skills": skills, "updated_at": now}
    statement = dialect_insert(conn)(volunteer_profiles).values(user_id=user_id, **values)
    await conn.execute(
        statement.on_conflict_do_update(index_elements=[volunteer_profiles.c.user_id], set_=values)
    )
