"""Ratings after an activity: who is due a thank-you, the scores and comments people give,
and the summary coordinators read.

Everyone confirmed when the activity ended is asked, volunteers as well as participants: a
coordinator learns as much from how a shift went for the helpers as from how the visitors
liked it, and the thank-you matters to both. Those who cancelled, stayed on the waitlist or
let an offer run out were not there, so they are not asked and may not rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import String, and_, cast, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Status
from domain.reminders import RATING_DELAY
from storage.database import dialect_insert
from storage.schema import (
    activities,
    centers,
    deliveries,
    ratings,
    signups,
    signups_in_context,
    users,
)

MAX_COMMENT: Final = 1000  # the column's length
RATING_KEY_PREFIX: Final = "rating:"


def rating_key(signup_id: int) -> str:
    """The delivery dedup key of a sign-up's thank-you: it is queued once, whatever happens."""
    return f"{RATING_KEY_PREFIX}{signup_id}"


@dataclass(frozen=True, slots=True)
class RatingDue:
    signup_id: int
    user_id: int
    language: str
    role: str
    activity_id: int
    ends_at: datetime
    timezone: str


@dataclass(frozen=True, slots=True)
class Rating:
    activity_id: int
    user_id: int
    score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RatingComment:
    activity_title: str
    activity_starts_at: datetime
    role: str | None  # of the sign-up; None once that row is gone
    score: int
    comment: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CenterRatings:
    count: int
    average: float | None  # None when nobody rated
    comments: list[RatingComment]  # newest first


async def due_for_rating(
    conn: AsyncConnection, *, now: datetime, window: timedelta
) -> list[RatingDue]:
    """Confirmed sign-ups of people who have not blocked the bot, for scheduled activities
    that ended at least ``RATING_DELAY`` ago and less than ``window`` ago, whose thank-you
    is not queued yet and who have not rated.

    The window lets a bot that was down catch up, yet never asks about something long past.
    The check against the queue keeps the job's work list empty once everyone was asked.
    """
    queued = exists().where(
        deliveries.c.dedup_key == literal(RATING_KEY_PREFIX, String) + cast(signups.c.id, String)
    )
    rated = exists().where(
        ratings.c.activity_id == signups.c.activity_id, ratings.c.user_id == signups.c.user_id
    )
    rows = await conn.execute(
        select(
            signups.c.id,
            signups.c.user_id,
            users.c.language,
            signups.c.role,
            activities.c.id,
            activities.c.ends_at,
            centers.c.timezone,
        )
        .select_from(signups_in_context)
        .where(
            signups.c.status == Status.CONFIRMED,
            activities.c.status == "scheduled",
            activities.c.ends_at <= now - RATING_DELAY,
            activities.c.ends_at > now - window,
            users.c.blocked.is_(False),
            ~queued,
            ~rated,
        )
        .order_by(activities.c.ends_at, signups.c.id)
    )
    return [RatingDue(*row) for row in rows]


async def get_rating(conn: AsyncConnection, activity_id: int, user_id: int) -> Rating | None:
    row = (
        await conn.execute(
            select(*(ratings.c[name] for name in Rating.__slots__)).where(
                ratings.c.activity_id == activity_id, ratings.c.user_id == user_id
            )
        )
    ).first()
    return Rating(*row) if row else None


async def save_rating(
    conn: AsyncConnection, activity_id: int, user_id: int, score: int, now: datetime
) -> None:
    """Record or change one's score: a second press updates the row, never adds one (the
    unique constraint decides, so two presses at once cannot make two rows either)."""
    if not 1 <= score <= 5:
        raise ValueError(f"a score is 1 to 5, not {score}")
    statement = dialect_insert(conn)(ratings).values(
        activity_id=activity_id, user_id=user_id, score=score, created_at=now, updated_at=now
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[ratings.c.activity_id, ratings.c.user_id],
            set_={"score": score, "updated_at": now},
        )
    )


async def save_comment(
    conn: AsyncConnection, activity_id: int, user_id: int, comment: str, now: datetime
) -> bool:
    """Attach a comment to one's rating (replacing an earlier one); False when there is no
    rating to attach it to. A comment without a score is not taken: the score comes first."""
    if not comment or len(comment) > MAX_COMMENT:
        raise ValueError("a comment is 1 to 1000 characters")
    result = await conn.execute(
        update(ratings)
        .where(ratings.c.activity_id == activity_id, ratings.c.user_id == user_id)
        .values(comment=comment, updated_at=now)
    )
    return result.rowcount > 0


async def center_ratings(
    conn: AsyncConnection, center_id: int, since: datetime, *, comments: int = 10
) -> CenterRatings:
    """Ratings of the center's activities that ended since ``since``: how many, the average
    score and the newest ``comments`` comments. Names are left out: the coordinators learn
    what people thought, not who thought it."""
    of_center = and_(activities.c.center_id == center_id, activities.c.ends_at >= since)
    joined = ratings.join(activities, activities.c.id == ratings.c.activity_id)
    count, average = (
        await conn.execute(
            select(func.count(ratings.c.id), func.avg(ratings.c.score))
            .select_from(joined)
            .where(of_center)
        )
    ).one()
    rows = await conn.execute(
        select(
            activities.c.title,
            activities.c.starts_at,
            signups.c.role,
            ratings.c.score,
            ratings.c.comment,
            ratings.c.updated_at,
        )
        .select_from(
            joined.outerjoin(
                signups,
                and_(
                    signups.c.activity_id == ratings.c.activity_id,
                    signups.c.user_id == ratings.c.user_id,
                ),
            )
        )
        .where(of_center, ratings.c.comment.is_not(None))
        .order_by(ratings.c.updated_at.desc(), ratings.c.id.desc())
        .limit(comments)
    )
    return CenterRatings(
        count=count,
        average=None if average is None else float(average),
        comments=[RatingComment(*row) for row in rows],
    )


async def user_ratings(conn: AsyncConnection, user_id: int) -> list[dict[str, object]]:
    """One's own ratings, JSON-ready, for /mydata."""
    rows = await conn.execute(
        select(
            activities.c.title,
            activities.c.starts_at,
            centers.c.name,
            ratings.c.score,
            ratings.c.comment,
            ratings.c.updated_at,
        )
        .select_from(
            ratings.join(activities, activities.c.id == ratings.c.activity_id).join(
                centers, centers.c.id == activities.c.center_id
            )
        )
        .where(ratings.c.user_id == user_id)
        .order_by(activities.c.starts_at)
    )
    return [
        {
            "activity": row.title,
            "starts_at": row.starts_at.isoformat(),
            "center": row.name,
            "score": row.score,
            "comment": row.comment,
            "rated_at": row.updated_at.isoformat(),
        }
        for row in rows
    ]
