"""Sign-ups with capacity and a waitlist. A seat is taken only by a conditional UPDATE of the
activity's counter (``... WHERE taken + n <= capacity``), which is safe under concurrency on
SQLite and PostgreSQL alike; counting rows and then inserting would not be.

The waitlist's order and positions need more than that: on PostgreSQL two transactions do not
see each other's new rows, so a later sign-up could take the seat of an earlier one still
being recorded, and two waiting people could be told the same place in the queue. Every
change to an activity's sign-ups therefore first locks the activity's row
(``lock_activities``): they take turns per activity, as all writers do on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import (
    ACTIVE,
    HOLDS_SEATS,
    Refusal,
    Role,
    SignupRules,
    Status,
    offer_deadline,
    signup_refusal,
)
from storage.activities import Activity, get_activities, get_activity
from storage.database import dialect_insert
from storage.reminders import drop_pending_reminders
from storage.schema import activities, signups, users


@dataclass(frozen=True, slots=True)
class Signup:
    id: int
    activity_id: int
    user_id: int
    role: str
    party_size: int
    status: str
    offer_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Promotion:
    """A waitlisted person moved up: offered a seat until ``expires_at``, or confirmed at once
    when there is no time left for an offer."""

    signup_id: int
    user_id: int
    activity_id: int
    status: Status
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    refusal: Refusal | None = None
    signup: Signup | None = None
    position: int | None = None  # place on the waitlist, from 1
    promotions: tuple[Promotion, ...] = ()


_SIGNUP_COLUMNS = [signups.c[name] for name in Signup.__slots__]


# The statements of every card and every sign-up, built once (building one costs about as
# much as running it). A constant set of statuses is written out as ORs: an IN list would
# be expanded anew on each execution.
_BY_ID = select(*_SIGNUP_COLUMNS).where(signups.c.id == bindparam("signup_id"))
_OF_USER = select(*_SIGNUP_COLUMNS).where(
    signups.c.activity_id == bindparam("activity_id"), signups.c.user_id == bindparam("user_id")
)
_IS_ACTIVE = or_(*(signups.c.status == status.value for status in ACTIVE))
_ACTIVE_COUNT = (
    select(func.count())
    .select_from(signups.join(activities, activities.c.id == signups.c.activity_id))
    .where(
        signups.c.user_id == bindparam("user_id"),
        _IS_ACTIVE,
        activities.c.ends_at > bindparam("now", type_=activities.c.ends_at.type),
    )
)
_POSITION = select(func.count()).where(
    signups.c.activity_id == bindparam("activity_id"),
    signups.c.role == bindparam("role"),
    signups.c.status == Status.WAITLISTED.value,
    signups.c.id <= bindparam("signup_id"),
)


_LOCK = select(activities.c.id).where(activities.c.id == bindparam("activity_id")).with_for_update()


async def lock_activities(conn: AsyncConnection, activity_ids: Iterable[int]) -> None:
    """Make this transaction the only one changing these activities' sign-ups until it ends.
    In id order, so that two transactions locking several never wait for each other. A no-op
    on SQLite, where one transaction writes at a time anyway."""
    if conn.dialect.name == "sqlite":
        return
    for activity_id in sorted(set(activity_ids)):
        await conn.execute(_LOCK, {"activity_id": activity_id})


async def _locked_signup(conn: AsyncConnection, signup_id: int) -> Signup | None:
    """The sign-up, read again once its activity is locked (it may have changed meanwhile)."""
    signup = await get_signup(conn, signup_id)
    if signup is None or conn.dialect.name == "sqlite":
        return signup
    await lock_activities(conn, [signup.activity_id])
    return await get_signup(conn, signup_id)


async def get_signup(conn: AsyncConnection, signup_id: int) -> Signup | None:
    row = (await conn.execute(_BY_ID, {"signup_id": signup_id})).first()
    return Signup(*row) if row else None


async def signup_of(conn: AsyncConnection, activity_id: int, user_id: int) -> Signup | None:
    row = (await conn.execute(_OF_USER, {"activity_id": activity_id, "user_id": user_id})).first()
    return Signup(*row) if row else None


async def count_active(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    return await conn.scalar(_ACTIVE_COUNT, {"user_id": user_id, "now": now}) or 0


async def waitlist_position(conn: AsyncConnection, signup: Signup) -> int | None:
    if signup.status != Status.WAITLISTED:
        return None
    return await conn.scalar(
        _POSITION,
        {"activity_id": signup.activity_id, "role": signup.role, "signup_id": signup.id},
    )


async def sign_up(
    conn: AsyncConnection,
    *,
    activity_id: int,
    user_id: int,
    role: Role,
    party_size: int,
    now: datetime,
    rules: SignupRules,
) -> Outcome:
    await lock_activities(conn, [activity_id])
    activity = await get_activity(conn, activity_id)
    if activity is None:
        return Outcome(Refusal.NOT_FOUND)
    existing = await signup_of(conn, activity_id, user_id)
    if existing is not None and existing.status in ACTIVE:
        return Outcome(Refusal.ALREADY, existing, await waitlist_position(conn, existing))
    refusal = signup_refusal(
        status=activity.status,
        starts_at=activity.starts_at,
        takes_role=activity.takes(role),
        max_companions=activity.max_companions,
        role=role,
        party_size=party_size,
        active_signups=await count_active(conn, user_id, now),
        now=now,
        rules=rules,
    )
    if refusal is not None:
        return Outcome(refusal)
    if existing is not None:
        # Signing up again after cancelling queues from the end, like anyone new.
        await conn.execute(signups.delete().where(signups.c.id == existing.id))
    # The row first, as waiting: the unique constraint, not a check in Python, settles a
    # concurrent tap of the same person before any seat moves, and no savepoint is needed.
    inserted = await conn.execute(
        dialect_insert(conn)(signups)
        .values(
            activity_id=activity_id,
            user_id=user_id,
            role=role,
            party_size=party_size,
            status=Status.WAITLISTED,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[signups.c.activity_id, signups.c.user_id])
        .returning(signups.c.id)
    )
    signup_id = inserted.scalar_one_or_none()
    if signup_id is None:
        return Outcome(Refusal.ALREADY, await signup_of(conn, activity_id, user_id))
    if not await _anyone_waiting(conn, activity_id, role, before=signup_id) and await _take(
        conn, activity_id, role, party_size
    ):
        await conn.execute(
            update(signups).where(signups.c.id == signup_id).values(status=Status.CONFIRMED)
        )
    else:  # waits for a place: the base of the waitlist conversion figure
        await conn.execute(
            update(signups).where(signups.c.id == signup_id).values(waitlisted_at=now)
        )
    signup = await get_signup(conn, signup_id)
    return Outcome(signup=signup, position=await waitlist_position(conn, signup))


async def cancel(
    conn: AsyncConnection, *, signup_id: int, user_id: int, now: datetime, rules: SignupRules
) -> Outcome:
    """Cancel one's own sign-up; a freed seat goes to the waitlist at once."""
    signup = await _locked_signup(conn, signup_id)
    if signup is None or signup.user_id != user_id:
        return Outcome(Refusal.NOT_FOUND)
    if signup.status not in ACTIVE:
        return Outcome(Refusal.ALREADY, signup)
    activity = await get_activity(conn, signup.activity_id)
    if activity.starts_at <= now:
        return Outcome(Refusal.STARTED, signup)
    promotions = await _leave(conn, signup, Status.CANCELLED, activity, now, rules)
    return Outcome(signup=await get_signup(conn, signup_id), promotions=promotions)


async def _own_offer(conn: AsyncConnection, signup_id: int, user_id: int) -> Signup | Outcome:
    """The caller's own standing offer, or the refusal to answer with."""
    signup = await _locked_signup(conn, signup_id)
    if signup is None or signup.user_id != user_id:
        return Outcome(Refusal.NOT_FOUND)
    if signup.status != Status.OFFERED:
        return Outcome(Refusal.ALREADY, signup)
    return signup


async def accept_offer(
    conn: AsyncConnection, *, signup_id: int, user_id: int, now: datetime, rules: SignupRules
) -> Outcome:
    signup = await _own_offer(conn, signup_id, user_id)
    if isinstance(signup, Outcome):
        return signup
    if signup.offer_expires_at is not None and signup.offer_expires_at <= now:
        activity = await get_activity(conn, signup.activity_id)
        promotions = await _leave(conn, signup, Status.EXPIRED, activity, now, rules)
        return Outcome(Refusal.EXPIRED, await get_signup(conn, signup_id), promotions=promotions)
    await conn.execute(
        update(signups)
        .where(signups.c.id == signup_id, signups.c.status == Status.OFFERED)
        .values(status=Status.CONFIRMED, offer_expires_at=None, updated_at=now)
    )
    return Outcome(signup=await get_signup(conn, signup_id))


async def decline_offer(
    conn: AsyncConnection, *, signup_id: int, user_id: int, now: datetime, rules: SignupRules
) -> Outcome:
    signup = await _own_offer(conn, signup_id, user_id)
    if isinstance(signup, Outcome):
        return signup
    activity = await get_activity(conn, signup.activity_id)
    promotions = await _leave(conn, signup, Status.DECLINED, activity, now, rules)
    return Outcome(signup=await get_signup(conn, signup_id), promotions=promotions)


async def expire_offers(
    conn: AsyncConnection, *, now: datetime, rules: SignupRules
) -> tuple[list[Signup], list[Promotion]]:
    """Offers whose time ran out pass to the next in line. Returns the expired sign-ups and
    the promotions they caused."""
    rows = await conn.execute(
        select(*_SIGNUP_COLUMNS)
        .where(signups.c.status == Status.OFFERED, signups.c.offer_expires_at <= now)
        .order_by(signups.c.id)
    )
    expired = [Signup(*row) for row in rows]
    await lock_activities(conn, [signup.activity_id for signup in expired])
    promotions: list[Promotion] = []
    for signup in expired:
        activity = await get_activity(conn, signup.activity_id)
        promotions += await _leave(conn, signup, Status.EXPIRED, activity, now, rules)
    return expired, promotions


async def pass_on_unheard_offers(
    conn: AsyncConnection, *, now: datetime, rules: SignupRules
) -> list[Promotion]:
    """Offers held by people found to have blocked the bot (Telegram refused the offer) go to
    the next in line: they would hold the seat until the offer ran out."""
    rows = await conn.execute(
        select(*_SIGNUP_COLUMNS)
        .select_from(signups.join(users, users.c.id == signups.c.user_id))
        .where(signups.c.status == Status.OFFERED, users.c.blocked.is_(True))
        .order_by(signups.c.id)
    )
    promotions: list[Promotion] = []
    for signup in [Signup(*row) for row in rows]:
        outcome = await decline_offer(
            conn, signup_id=signup.id, user_id=signup.user_id, now=now, rules=rules
        )
        promotions += outcome.promotions
    return promotions


async def set_capacity(
    conn: AsyncConnection,
    *,
    activity_id: int,
    capacity: int | None,
    now: datetime,
    rules: SignupRules,
) -> tuple[bool, list[Promotion]]:
    """Change the number of participant seats. Never below the seats already taken: nobody
    loses a confirmed seat. More seats go to the waitlist at once."""
    await lock_activities(conn, [activity_id])
    condition = activities.c.id == activity_id
    if capacity is not None:
        condition = and_(condition, activities.c.seats_taken <= capacity)
    changed = await conn.execute(update(activities).where(condition).values(capacity=capacity))
    if changed.rowcount == 0:
        return False, []
    activity = await get_activity(conn, activity_id)
    return True, await _fill(conn, activity, Role.PARTICIPANT, now, rules)


async def schedule(
    conn: AsyncConnection, user_id: int, *, now: datetime
) -> list[tuple[Signup, Activity, int | None]]:
    """The user's active sign-ups for activities not yet over, soonest first, with each
    waitlist position."""
    rows = await conn.execute(
        select(*_SIGNUP_COLUMNS)
        .join(activities, activities.c.id == signups.c.activity_id)
        .where(
            signups.c.user_id == user_id,
            signups.c.status.in_(ACTIVE),
            activities.c.ends_at > now,
        )
        .order_by(activities.c.starts_at, signups.c.id)
    )
    mine = [Signup(*row) for row in rows]
    found = {a.id: a for a in await get_activities(conn, [s.activity_id for s in mine])}
    return [(s, found[s.activity_id], await waitlist_position(conn, s)) for s in mine]


async def served_shifts(conn: AsyncConnection, user_id: int, *, now: datetime) -> list[Activity]:
    """Shifts the user was confirmed for that have ended: the volunteer's hours."""
    return [shift for shift, _present in await served_shifts_marked(conn, user_id, now=now)]


async def served_shifts_marked(
    conn: AsyncConnection, user_id: int, *, now: datetime
) -> list[tuple[Activity, bool]]:
    """Each ended shift the user was confirmed for, and whether the roll call confirmed it
    (marked present). One marked absent gives no hours and is left out."""
    rows = await conn.execute(
        select(signups.c.activity_id, signups.c.attended)
        .join(activities, activities.c.id == signups.c.activity_id)
        .where(
            signups.c.user_id == user_id,
            signups.c.role == Role.VOLUNTEER,
            signups.c.status == Status.CONFIRMED,
            signups.c.attended.is_distinct_from(False),
            activities.c.status == "scheduled",
            activities.c.ends_at <= now,
        )
        .order_by(activities.c.starts_at)
    )
    present = {activity_id: bool(attended) for activity_id, attended in rows}
    shifts = await get_activities(conn, list(present))
    return [(shift, present[shift.id]) for shift in shifts]


async def cancel_all(
    conn: AsyncConnection, user_id: int, *, now: datetime, rules: SignupRules
) -> list[Promotion]:
    """Give up every active sign-up of a user who is leaving (``/forget``, consent withdrawn):
    their seats go to the waitlist before their rows disappear with them."""
    rows = await conn.execute(
        select(*_SIGNUP_COLUMNS)
        .where(signups.c.user_id == user_id, signups.c.status.in_(ACTIVE))
        .order_by(signups.c.id)
    )
    leaving = [Signup(*row) for row in rows]
    await lock_activities(conn, [signup.activity_id for signup in leaving])
    promotions: list[Promotion] = []
    for signup in leaving:
        activity = await get_activity(conn, signup.activity_id)
        promotions += await _leave(conn, signup, Status.CANCELLED, activity, now, rules)
    return promotions


async def fill_free_seats(
    conn: AsyncConnection, *, now: datetime, rules: SignupRules
) -> list[Promotion]:
    """Offer seats that are free while people wait: capacity raised by an import, say, which
    cannot tell anyone itself. The scheduler runs this next to expiring offers."""
    seats_free = or_(
        and_(
            signups.c.role == Role.PARTICIPANT,
            or_(activities.c.capacity.is_(None), activities.c.seats_taken < activities.c.capacity),
        ),
        and_(
            signups.c.role == Role.VOLUNTEER,
            activities.c.volunteers_taken < activities.c.volunteer_places,
        ),
    )
    rows = await conn.execute(
        select(signups.c.activity_id, signups.c.role)
        .join(activities, activities.c.id == signups.c.activity_id)
        .where(
            signups.c.status == Status.WAITLISTED,
            activities.c.status == "scheduled",
            activities.c.starts_at > now,
            seats_free,
        )
        .distinct()
    )
    found = rows.all()
    await lock_activities(conn, [activity_id for activity_id, _role in found])
    promotions: list[Promotion] = []
    for activity_id, role in found:
        activity = await get_activity(conn, activity_id)
        promotions += await _fill(conn, activity, Role(role), now, rules)
    return promotions


async def _leave(
    conn: AsyncConnection,
    signup: Signup,
    status: Status,
    activity: Activity,
    now: datetime,
    rules: SignupRules,
) -> tuple[Promotion, ...]:
    changed = await conn.execute(
        update(signups)
        .where(signups.c.id == signup.id, signups.c.status == signup.status)
        .values(status=status, offer_expires_at=None, updated_at=now)
    )
    if changed.rowcount and signup.status == Status.CONFIRMED:
        await drop_pending_reminders(conn, [signup.id])
    if changed.rowcount == 0 or signup.status not in HOLDS_SEATS:
        return ()
    await _release(conn, signup.activity_id, Role(signup.role), signup.party_size)
    return tuple(await _fill(conn, activity, Role(signup.role), now, rules))


async def _fill(
    conn: AsyncConnection, activity: Activity, role: Role, now: datetime, rules: SignupRules
) -> list[Promotion]:
    """Offer free seats to the waitlist in sign-up order. A party that does not fit waits
    while someone smaller behind them takes the seat that is free."""
    if activity.status != "scheduled" or activity.starts_at <= now:
        return []
    deadline = offer_deadline(now, activity.starts_at, rules)
    status = Status.OFFERED if deadline is not None else Status.CONFIRMED
    waiting = await conn.execute(
        select(signups.c.id, signups.c.user_id, signups.c.party_size)
        .where(
            signups.c.activity_id == activity.id,
            signups.c.role == role,
            signups.c.status == Status.WAITLISTED,
        )
        .order_by(signups.c.id)
    )
    promotions = []
    # Seats only get fewer during this loop: once a party did not fit, no party as big does,
    # and trying each would cost one UPDATE per waiting person (hundreds on a long waitlist).
    too_big: int | None = None
    for signup_id, user_id, party_size in waiting.all():
        if too_big is not None and party_size >= too_big:
            continue
        if not await _take(conn, activity.id, role, party_size):
            if party_size == 1:
                break
            too_big = party_size
            continue
        moved = await conn.execute(
            update(signups)
            .where(signups.c.id == signup_id, signups.c.status == Status.WAITLISTED)
            .values(status=status, offer_expires_at=deadline, updated_at=now)
        )
        if moved.rowcount == 0:
            # A concurrent transaction (possible on PostgreSQL) promoted or removed them
            # first: give the seat back rather than hold it for nobody.
            await _release(conn, activity.id, role, party_size)
            continue
        promotions.append(Promotion(signup_id, user_id, activity.id, status, deadline))
    return promotions


async def _anyone_waiting(
    conn: AsyncConnection, activity_id: int, role: Role, *, before: int | None = None
) -> bool:
    # A newcomer waits behind anyone on the waitlist whom the free seats would fit. Not behind
    # an offer: an offered seat is already counted as taken, so waiting behind it left a seat
    # free with nobody to get it. Nor behind a party too big for the free seats: _fill lets
    # someone smaller behind them take such seats, and so does a new sign-up.
    name, limit = _counter(role)
    fits = signups.c.party_size <= limit - activities.c[name]
    if role is Role.PARTICIPANT:
        fits = or_(limit.is_(None), fits)
    query = (
        select(signups.c.id)
        .join(activities, activities.c.id == signups.c.activity_id)
        .where(
            signups.c.activity_id == activity_id,
            signups.c.role == role,
            signups.c.status == Status.WAITLISTED,
            fits,
        )
        .limit(1)
    )
    if before is not None:  # ahead of this sign-up in the queue
        query = query.where(signups.c.id < before)
    found = await conn.scalar(query)
    return found is not None


def _counter(role: Role) -> tuple[str, object]:
    if role is Role.VOLUNTEER:
        return "volunteers_taken", activities.c.volunteer_places
    return "seats_taken", activities.c.capacity


async def _take(conn: AsyncConnection, activity_id: int, role: Role, seats: int) -> bool:
    name, limit = _counter(role)
    taken = activities.c[name]
    condition = taken + seats <= limit
    if role is Role.PARTICIPANT:
        condition = or_(limit.is_(None), condition)
    result = await conn.execute(
        update(activities)
        .where(and_(activities.c.id == activity_id, condition))
        .values({name: taken + seats})
    )
    return result.rowcount == 1


async def _release(conn: AsyncConnection, activity_id: int, role: Role, seats: int) -> None:
    name, _limit = _counter(role)
    await conn.execute(
        update(activities)
        .where(activities.c.id == activity_id)
        .values({name: activities.c[name] - seats})
    )


@dataclass(frozen=True, slots=True)
class SignedUp:
    """Someone with an active sign-up, as a push about the activity needs them."""

    signup_id: int
    user_id: int
    role: str
    status: str
    language: str
    blocked: bool


async def signed_up(conn: AsyncConnection, activity_id: int) -> list[SignedUp]:
    """Everyone confirmed, offered a seat or waiting for one, in the order they signed up."""
    rows = await conn.execute(
        select(
            signups.c.id,
            signups.c.user_id,
            signups.c.role,
            signups.c.status,
            users.c.language,
            users.c.blocked,
        )
        .join(users, users.c.id == signups.c.user_id)
        .where(signups.c.activity_id == activity_id, signups.c.status.in_(ACTIVE))
        .order_by(signups.c.id)
    )
    return [SignedUp(*row) for row in rows]
