"""Residents, volunteers, coordinators: everyone who accepted the privacy terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import dialect_insert
from storage.ideas import user_ideas
from storage.ratings import user_ratings
from storage.reminders import replan_for_user
from storage.schema import (
    activities,
    audit_log,
    centers,
    coordinators,
    signups,
    subscriptions,
    users,
    volunteer_profiles,
)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    display_name: str
    language: str
    consent_at: datetime
    consent_version: str
    blocked: bool
    created_at: datetime
    reminders: str | None  # see domain.reminders.parse_reminders
    weekly_digest: bool
    announce_categories: str | None  # comma-separated Category values; NULL: all


# Built once: the bot reads the user on every update, and building a statement costs about
# as much as running it.
_USER = select(*(users.c[name] for name in User.__slots__)).where(
    users.c.id == bindparam("user_id")
)


async def get_user(conn: AsyncConnection, user_id: int) -> User | None:
    row = (await conn.execute(_USER, {"user_id": user_id})).first()
    return User(*row) if row else None


async def save_consent(
    conn: AsyncConnection,
    *,
    user_id: int,
    display_name: str,
    language: str,
    consent_version: str,
    now: datetime,
    renew: bool = True,
) -> bool:
    """Record (or renew) consent. Only here does a user's row come into existence.

    ``renew=False`` leaves a consent already given to this version as it is; the result
    says whether this call recorded one. Decided by the statement itself, so that of two
    transactions running at once (PostgreSQL) only one records it."""
    renewed = {"consent_at": now, "consent_version": consent_version, "display_name": display_name}
    statement = dialect_insert(conn)(users).values(
        id=user_id, language=language, created_at=now, **renewed
    )
    where = None if renew else users.c.consent_version != consent_version
    statement = statement.on_conflict_do_update(
        index_elements=[users.c.id], set_=renewed, where=where
    )
    return (await conn.execute(statement.returning(users.c.id))).first() is not None


async def set_language(conn: AsyncConnection, user_id: int, language: str) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(language=language))


async def set_reminders(conn: AsyncConnection, user_id: int, reminders: str | None) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(reminders=reminders))
    await replan_for_user(conn, user_id)


async def set_blocked(conn: AsyncConnection, user_id: int, blocked: bool) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(blocked=blocked))


async def delete_user(conn: AsyncConnection, user_id: int) -> bool:
    """Erase the user and, through ON DELETE CASCADE, every row that points at them."""
    result = await conn.execute(delete(users).where(users.c.id == user_id))
    return result.rowcount > 0


async def export_user(conn: AsyncConnection, user_id: int) -> dict[str, Any] | None:
    """Everything stored about one user, as JSON-ready data (the /mydata answer)."""
    user = await get_user(conn, user_id)
    if user is None:
        return None
    subscribed = await conn.execute(
        select(centers.c.external_id, centers.c.name, centers.c.address, subscriptions.c.created_at)
        .join(centers, centers.c.id == subscriptions.c.center_id)
        .where(subscriptions.c.user_id == user_id)
        .order_by(subscriptions.c.created_at)
    )
    signed_up = await conn.execute(
        select(
            activities.c.title,
            activities.c.starts_at,
            centers.c.name,
            signups.c.role,
            signups.c.party_size,
            signups.c.status,
            signups.c.created_at,
        )
        .join(activities, activities.c.id == signups.c.activity_id)
        .join(centers, centers.c.id == activities.c.center_id)
        .where(signups.c.user_id == user_id)
        .order_by(activities.c.starts_at)
    )
    profile = (
        await conn.execute(
            select(volunteer_profiles.c.display_name, volunteer_profiles.c.skills).where(
                volunteer_profiles.c.user_id == user_id
            )
        )
    ).first()
    rated = await user_ratings(conn, user_id)
    coordinated = await conn.execute(
        select(centers.c.external_id, centers.c.name, coordinators.c.appointed_at)
        .join(centers, centers.c.id == coordinators.c.center_id)
        .where(coordinators.c.user_id == user_id)
        .order_by(coordinators.c.appointed_at)
    )
    logged = await conn.execute(
        select(audit_log.c.action, audit_log.c.center_id, audit_log.c.created_at)
        .where(audit_log.c.actor_id == user_id)
        .order_by(audit_log.c.id)
    )
    return {
        "telegram_id": user.id,
        "display_name": user.display_name,
        "language": user.language,
        "consent": {"given_at": user.consent_at.isoformat(), "text_version": user.consent_version},
        "blocked_bot": user.blocked,
        "reminders": user.reminders,  # null: the defaults
        "weekly_digest": user.weekly_digest,
        "new_activity_categories": user.announce_categories,  # null: all
        "first_seen_at": user.created_at.isoformat(),
        "subscriptions": [
            {
                "center_id": row.external_id,
                "center": row.name,
                "address": row.address,
                "since": row.created_at.isoformat(),
            }
            for row in subscribed
        ],
        "sign_ups": [
            {
                "activity": row.title,
                "starts_at": row.starts_at.isoformat(),
                "center": row.name,
                "role": row.role,
                "people": row.party_size,
                "status": row.status,
                "signed_up_at": row.created_at.isoformat(),
            }
            for row in signed_up
        ],
        "volunteer_profile": (
            {"display_name": profile.display_name, "skills": profile.skills} if profile else None
        ),
        "ratings": rated,
        "coordinates": [
            {
                "center_id": row.external_id,
                "center": row.name,
                "since": row.appointed_at.isoformat(),
            }
            for row in coordinated
        ],
        # Kept after /forget too: what a coordinator did stays accountable (see /privacy).
        "actions_as_coordinator": [
            {"action": row.action, "center": row.center_id, "at": row.created_at.isoformat()}
            for row in logged
        ],
        "ideas": await user_ideas(conn, user_id),
    }
