"""Sign-ups, waitlist and offers, straight against the storage functions on a fresh database."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError

from domain.activities import Refusal, Role, SignupRules, Status, offer_deadline
from storage.activities import (
    cancel_activity,
    get_activity,
    insert_activity,
    waitlist_lengths,
)
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import activities, metadata, signups
from storage.signups import (
    accept_offer,
    cancel,
    decline_offer,
    expire_offers,
    get_signup,
    lock_activities,
    schedule,
    served_shifts,
    set_capacity,
    sign_up,
    signup_of,
    waitlist_position,
)
from storage.users import save_consent

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULES = SignupRules()
P = Role.PARTICIPANT
V = Role.VOLUNTEER
HELD = (Status.CONFIRMED, Status.OFFERED)


# --- fixtures and small steps -------------------------------------------------------------


CENTER = {
    "external_id": "c1",
    "name": "Соседи на Ленина",
    "address": "ул. Ленина, 1",
    "city": "Екатеринбург",
    "region": None,
    "latitude": 56.838,
    "longitude": 60.597,
    "timezone": "Asia/Yekaterinburg",
    "opening_hours": None,
    "phone": None,
}


async def fresh_database(url):
    database = Database.from_url(url)
    await upgrade(database)
    async with database.write() as conn:
        await upsert_centers(conn, [CENTER], now=NOW)
    return database


@pytest.fixture
async def db(database_url):
    database = await fresh_database(database_url)
    yield database
    await database.close()


async def add_users(db, *user_ids):
    async with db.write() as conn:
        for user_id in user_ids:
            await save_consent(
                conn,
                user_id=user_id,
                display_name=f"user {user_id}",
                language="ru",
                consent_version="1",
                now=NOW,
            )


async def add_activity(db, *, starts_in=timedelta(days=3), **values):
    starts_at = values.pop("starts_at", NOW + starts_in)
    row = {
        "center_id": 1,
        "title": "Лепка из глины",
        "category": "crafts",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "capacity": 2,
        "created_at": NOW,
        **values,
    }
    async with db.write() as conn:
        return await insert_activity(conn, **row)


async def join(db, user_id, activity_id, party=1, *, role=P, now=NOW, rules=RULES):
    async with db.write() as conn:
        return await sign_up(
            conn,
            activity_id=activity_id,
            user_id=user_id,
            role=role,
            party_size=party,
            now=now,
            rules=rules,
        )


async def join_all(db, activity_id, user_ids):
    """Sign up many in one transaction: set-up for the tests under load."""
    async with db.write() as conn:
        for user_id in user_ids:
            await sign_up(
                conn,
                activity_id=activity_id,
                user_id=user_id,
                role=P,
                party_size=1,
                now=NOW,
                rules=RULES,
            )


async def act(db, action, signup_id, user_id, *, now=NOW, rules=RULES):
    async with db.write() as conn:
        return await action(conn, signup_id=signup_id, user_id=user_id, now=now, rules=rules)


async def expire(db, now, rules=RULES):
    async with db.write() as conn:
        return await expire_offers(conn, now=now, rules=rules)


async def activity(db, activity_id):
    async with db.read() as conn:
        return await get_activity(conn, activity_id)


async def mine(db, user_id, activity_id):
    async with db.read() as conn:
        return await signup_of(conn, activity_id, user_id)


async def statuses(db, activity_id, role=None):
    """{user_id: status} of every row of the activity."""
    query = select(signups.c.user_id, signups.c.status).where(signups.c.activity_id == activity_id)
    if role is not None:
        query = query.where(signups.c.role == role)
    async with db.read() as conn:
        return dict((await conn.execute(query.order_by(signups.c.id))).all())


async def everything(db):
    async with db.read() as conn:
        return {
            table.name: [tuple(row) for row in await conn.execute(select(table))]
            for table in metadata.sorted_tables
        }


async def assert_consistent(db, activity_id, *, now=NOW):
    """What must hold for any activity at any commit."""
    async with db.read() as conn:
        found = await get_activity(conn, activity_id)
        rows = (
            await conn.execute(
                select(signups).where(signups.c.activity_id == activity_id).order_by(signups.c.id)
            )
        ).all()
        for role, taken, limit in (
            (P, found.seats_taken, found.capacity),
            (V, found.volunteers_taken, found.volunteer_places),
        ):
            mine_ = [row for row in rows if row.role == role]
            held = sum(row.party_size for row in mine_ if row.status in HELD)
            assert taken == held, (role, taken, held)
            assert limit is None or taken <= limit
            waiting = [row for row in mine_ if row.status == Status.WAITLISTED]
            positions = [
                await waitlist_position(conn, await get_signup(conn, r.id)) for r in waiting
            ]
            assert positions == list(range(1, len(waiting) + 1))
            if found.status == "scheduled" and found.starts_at > now:
                free = None if limit is None else limit - taken
                # No seat stays empty while someone waiting would fit in it.
                assert all(free is not None and row.party_size > free for row in waiting), role
        for row in rows:
            assert (row.offer_expires_at is not None) == (row.status == Status.OFFERED)
        assert len({row.user_id for row in rows}) == len(rows)


# --- filling up ------------------------------------------------------------------------------


async def test_confirmed_until_full_then_waitlisted_in_order(db):
    await add_users(db, *range(1, 8))
    a = await add_activity(db, capacity=3)
    outcomes = [await join(db, user, a) for user in range(1, 8)]
    assert [o.refusal for o in outcomes] == [None] * 7
    assert [o.signup.status for o in outcomes] == [Status.CONFIRMED] * 3 + [Status.WAITLISTED] * 4
    assert [o.position for o in outcomes] == [None, None, None, 1, 2, 3, 4]
    assert [o.signup.user_id for o in outcomes] == list(range(1, 8))
    found = await activity(db, a)
    assert (found.seats_taken, found.seats_left) == (3, 0)
    async with db.read() as conn:
        assert await waitlist_lengths(conn, [a], P) == {a: 4}
        (entry,) = await schedule(conn, 5, now=NOW)
    assert (entry[0].status, entry[1].id, entry[2]) == (Status.WAITLISTED, a, 2)
    await assert_consistent(db, a)


async def test_double_signup_is_refused_and_adds_no_row(db):
    await add_users(db, 1, 2, 3)
    a = await add_activity(db, capacity=1)
    first = await join(db, 1, a)
    again = await join(db, 1, a)
    assert again.refusal is Refusal.ALREADY and again.signup == first.signup
    await join(db, 2, a)
    waiting_again = await join(db, 2, a, party=1)
    assert (waiting_again.refusal, waiting_again.position) == (Refusal.ALREADY, 1)
    assert await statuses(db, a) == {1: Status.CONFIRMED, 2: Status.WAITLISTED}
    assert (await activity(db, a)).seats_taken == 1


async def test_a_lost_race_on_the_unique_constraint_gives_back_the_seat(db, monkeypatch):
    # Two taps of one person that both pass the Python check: the unique constraint refuses
    # the second insert, and the seat it had taken is rolled back with it.
    await add_users(db, 1)
    a = await add_activity(db, capacity=2)
    first = (await join(db, 1, a)).signup
    real = signup_of
    calls = []

    async def not_yet_seen(conn, activity_id, user_id):
        calls.append(user_id)
        return None if len(calls) == 1 else await real(conn, activity_id, user_id)

    monkeypatch.setattr("storage.signups.signup_of", not_yet_seen)
    again = await join(db, 1, a)
    assert (again.refusal, again.signup) == (Refusal.ALREADY, first)
    assert (await activity(db, a)).seats_taken == 1
    assert await statuses(db, a) == {1: Status.CONFIRMED}


async def test_parties_count_toward_capacity_and_respect_max_companions(db):
    await add_users(db, 1, 2, 3, 4, 5)
    a = await add_activity(db, capacity=5, max_companions=2)
    too_big = await join(db, 1, a, party=4)
    assert too_big.refusal is Refusal.PARTY_TOO_BIG and too_big.signup is None
    assert (await join(db, 1, a, party=0)).refusal is Refusal.PARTY_TOO_BIG
    assert await statuses(db, a) == {}

    assert (await join(db, 1, a, party=3)).signup.status == Status.CONFIRMED
    assert (await activity(db, a)).seats_taken == 3
    waiting = await join(db, 2, a, party=3)
    assert (waiting.signup.status, waiting.position) == (Status.WAITLISTED, 1)
    # The party of three does not fit the two free seats; a pair behind them does, as it
    # would when a seat is freed (see _fill).
    assert (await join(db, 3, a, party=2)).signup.status == Status.CONFIRMED
    assert (await activity(db, a)).seats_taken == 5
    assert (await join(db, 4, a, party=1)).position == 2
    await assert_consistent(db, a)

    # When the first party leaves, its three seats go to the party of three, in order.
    first = await mine(db, 1, a)
    result = await act(db, cancel, first.id, 1)
    assert [(p.user_id, p.status) for p in result.promotions] == [(2, Status.OFFERED)]
    assert (await activity(db, a)).seats_taken == 5
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.OFFERED,
        3: Status.CONFIRMED,
        4: Status.WAITLISTED,
    }
    await assert_consistent(db, a)

    # Volunteers come alone.
    shift = await add_activity(db, capacity=5, max_companions=2, volunteer_places=3)
    assert (await join(db, 5, shift, party=2, role=V)).refusal is Refusal.PARTY_TOO_BIG
    assert (await join(db, 5, shift, party=1, role=V)).signup.status == Status.CONFIRMED


async def test_a_seat_freed_while_an_offer_is_pending_goes_to_a_newcomer(db):
    await add_users(db, 1, 2, 3, 4)
    a = await add_activity(db, capacity=2)
    one, two, _ = [(await join(db, u, a)).signup for u in (1, 2, 3)]
    await act(db, cancel, one.id, 1)  # three is offered the seat
    await act(db, cancel, two.id, 2)  # nobody waits for this one
    assert (await activity(db, a)).seats_left == 1
    newcomer = await join(db, 4, a)
    assert newcomer.signup.status == Status.CONFIRMED
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.CANCELLED,
        3: Status.OFFERED,
        4: Status.CONFIRMED,
    }
    await assert_consistent(db, a)


# --- refusals ----------------------------------------------------------------------------------


async def test_no_signup_after_the_start(db):
    await add_users(db, 1)
    a = await add_activity(db, starts_in=timedelta(hours=1))
    starts_at = (await activity(db, a)).starts_at
    for now in (starts_at, starts_at + timedelta(minutes=1)):
        outcome = await join(db, 1, a, now=now)
        assert outcome.refusal is Refusal.STARTED and outcome.signup is None
    assert (await join(db, 1, a, now=starts_at - timedelta(seconds=1))).refusal is None


async def test_no_signup_for_a_cancelled_or_missing_activity(db):
    await add_users(db, 1)
    a = await add_activity(db)
    async with db.write() as conn:
        await cancel_activity(conn, a, now=NOW)
    assert (await join(db, 1, a)).refusal is Refusal.CANCELLED
    assert (await join(db, 1, 999)).refusal is Refusal.NOT_FOUND
    assert await statuses(db, a) == {}


async def test_no_signup_for_a_role_the_activity_does_not_take(db):
    await add_users(db, 1)
    shift_only = await add_activity(db, accepts_participants=False, volunteer_places=2)
    no_helpers = await add_activity(db, volunteer_places=0)
    assert (await join(db, 1, shift_only, role=P)).refusal is Refusal.CLOSED
    assert (await join(db, 1, no_helpers, role=V)).refusal is Refusal.CLOSED
    assert await statuses(db, shift_only) == {} and await statuses(db, no_helpers) == {}
    assert (await join(db, 1, shift_only, role=V)).signup.status == Status.CONFIRMED


async def test_cap_on_active_signups_counts_only_activities_not_yet_over(db):
    rules = SignupRules(max_active_signups=2)
    await add_users(db, 1, 2)
    soon = await add_activity(db, starts_in=timedelta(hours=1))
    full = await add_activity(db, capacity=0)  # waitlist places count too
    later = await add_activity(db)
    last = await add_activity(db)
    assert (await join(db, 1, soon, rules=rules)).signup.status == Status.CONFIRMED
    assert (await join(db, 1, full, rules=rules)).signup.status == Status.WAITLISTED
    refused = await join(db, 1, later, rules=rules)
    assert refused.refusal is Refusal.TOO_MANY and refused.signup is None
    assert (await join(db, 2, later, rules=rules)).refusal is None  # the cap is per user

    still_on = NOW + timedelta(hours=2, minutes=59)  # ``soon`` ends at NOW + 3 h
    assert (await join(db, 1, later, now=still_on, rules=rules)).refusal is Refusal.TOO_MANY
    after = NOW + timedelta(hours=3)
    assert (await join(db, 1, later, now=after, rules=rules)).refusal is None
    assert (await join(db, 1, last, now=after, rules=rules)).refusal is Refusal.TOO_MANY
    waiting = await mine(db, 1, full)
    await act(db, cancel, waiting.id, 1, now=after)  # a cancelled sign-up no longer counts
    assert (await join(db, 1, last, now=after, rules=rules)).refusal is None


# --- cancelling and the queue --------------------------------------------------------------


async def test_signing_up_again_after_cancelling_queues_from_the_end(db):
    await add_users(db, 1, 2, 3)
    a = await add_activity(db, capacity=1)
    await join(db, 1, a)
    two = (await join(db, 2, a)).signup
    await join(db, 3, a)
    cancelled = await act(db, cancel, two.id, 2)
    assert cancelled.signup.status == Status.CANCELLED and cancelled.promotions == ()
    again = await join(db, 2, a)
    assert (again.signup.status, again.position) == (Status.WAITLISTED, 2)
    assert again.signup.id > (await mine(db, 3, a)).id
    assert (await mine(db, 3, a)).status == Status.WAITLISTED
    async with db.read() as conn:
        assert await waitlist_position(conn, await signup_of(conn, a, 3)) == 1

    result = await act(db, cancel, (await mine(db, 1, a)).id, 1)
    assert [p.user_id for p in result.promotions] == [3]
    await assert_consistent(db, a)


@pytest.mark.parametrize(
    ("starts_in", "deadline_in"),
    [
        (timedelta(days=3), timedelta(hours=12)),
        (timedelta(hours=14), timedelta(hours=12)),
        (timedelta(hours=10), timedelta(hours=8)),
        (timedelta(hours=2, minutes=1), timedelta(minutes=1)),
    ],
)
async def test_cancel_offers_the_seat_to_the_first_waitlisted(db, starts_in, deadline_in):
    await add_users(db, 1, 2, 3)
    a = await add_activity(db, capacity=1, starts_in=starts_in)
    one = (await join(db, 1, a)).signup
    await join(db, 2, a)
    await join(db, 3, a)
    result = await act(db, cancel, one.id, 1)
    assert result.refusal is None and result.signup.status == Status.CANCELLED
    (promotion,) = result.promotions
    two = await mine(db, 2, a)
    assert (promotion.signup_id, promotion.user_id, promotion.activity_id) == (two.id, 2, a)
    assert promotion.status == Status.OFFERED
    assert promotion.expires_at == NOW + deadline_in == two.offer_expires_at
    assert two.status == Status.OFFERED
    assert (await activity(db, a)).seats_taken == 1
    async with db.read() as conn:
        assert await waitlist_position(conn, await signup_of(conn, a, 3)) == 1
    await assert_consistent(db, a)


@pytest.mark.parametrize("starts_in", [timedelta(hours=2), timedelta(hours=1, minutes=59)])
async def test_within_two_hours_of_the_start_the_next_is_confirmed_at_once(db, starts_in):
    await add_users(db, 1, 2, 3)
    a = await add_activity(db, capacity=1, starts_in=starts_in)
    one = (await join(db, 1, a)).signup
    await join(db, 2, a)
    await join(db, 3, a)
    result = await act(db, cancel, one.id, 1)
    assert [(p.user_id, p.status, p.expires_at) for p in result.promotions] == [
        (2, Status.CONFIRMED, None)
    ]
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.CONFIRMED,
        3: Status.WAITLISTED,
    }
    await assert_consistent(db, a)


async def test_cancel_after_the_start_is_refused(db):
    await add_users(db, 1, 2)
    a = await add_activity(db, capacity=1, starts_in=timedelta(hours=1))
    one = (await join(db, 1, a)).signup
    await join(db, 2, a)
    before = await everything(db)
    result = await act(db, cancel, one.id, 1, now=NOW + timedelta(hours=1))
    assert result.refusal is Refusal.STARTED
    assert await everything(db) == before


async def test_cancel_twice_and_cancel_a_waitlist_place(db):
    await add_users(db, 1, 2, 3)
    a = await add_activity(db, capacity=1)
    one = (await join(db, 1, a)).signup
    two = (await join(db, 2, a)).signup
    three = (await join(db, 3, a)).signup
    left = await act(db, cancel, two.id, 2)
    assert left.promotions == () and (await activity(db, a)).seats_taken == 1
    assert (await act(db, cancel, two.id, 2)).refusal is Refusal.ALREADY
    result = await act(db, cancel, one.id, 1)
    assert [p.signup_id for p in result.promotions] == [three.id]
    await assert_consistent(db, a)


# --- offers ----------------------------------------------------------------------------------


async def offered_activity(db, *, capacity=1, waiting=2, starts_in=timedelta(days=3)):
    """User 1 confirmed, then users 2..waiting+1 waitlisted; user 1 cancels so that user 2
    holds an offer."""
    await add_users(db, *range(1, waiting + 2))
    a = await add_activity(db, capacity=capacity, starts_in=starts_in)
    for user in range(1, waiting + 2):
        await join(db, user, a)
    await act(db, cancel, (await mine(db, 1, a)).id, 1)
    offer = await mine(db, 2, a)
    assert offer.status == Status.OFFERED
    return a, offer


async def test_accept_an_offer(db):
    a, offer = await offered_activity(db)
    later = NOW + timedelta(hours=11, minutes=59)
    result = await act(db, accept_offer, offer.id, 2, now=later)
    assert result.refusal is None
    assert (result.signup.status, result.signup.offer_expires_at) == (Status.CONFIRMED, None)
    assert (await act(db, accept_offer, offer.id, 2, now=later)).refusal is Refusal.ALREADY
    assert (await act(db, decline_offer, offer.id, 2, now=later)).refusal is Refusal.ALREADY
    assert (await activity(db, a)).seats_taken == 1
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.CONFIRMED,
        3: Status.WAITLISTED,
    }
    assert await expire(db, NOW + timedelta(days=1)) == ([], [])
    await assert_consistent(db, a)


async def test_decline_an_offer_passes_the_seat_on(db):
    a, offer = await offered_activity(db)
    later = NOW + timedelta(hours=1)
    result = await act(db, decline_offer, offer.id, 2, now=later)
    assert result.signup.status == Status.DECLINED
    assert [(p.user_id, p.status, p.expires_at) for p in result.promotions] == [
        (3, Status.OFFERED, later + timedelta(hours=12))
    ]
    assert (await act(db, accept_offer, offer.id, 2, now=later)).refusal is Refusal.ALREADY
    assert (await activity(db, a)).seats_taken == 1
    await assert_consistent(db, a, now=later)


async def test_accept_after_the_offer_ran_out(db):
    a, offer = await offered_activity(db)
    deadline = offer.offer_expires_at
    result = await act(db, accept_offer, offer.id, 2, now=deadline)
    assert result.refusal is Refusal.EXPIRED
    assert result.signup.status == Status.EXPIRED
    assert [(p.user_id, p.status) for p in result.promotions] == [(3, Status.OFFERED)]
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.EXPIRED,
        3: Status.OFFERED,
    }
    # The job that runs afterwards finds nothing more to do for this offer.
    assert await expire(db, deadline) == ([], [])
    assert (await activity(db, a)).seats_taken == 1
    await assert_consistent(db, a, now=deadline)


async def test_expire_offers_passes_the_seat_down_the_line(db):
    a, offer = await offered_activity(db, waiting=3, starts_in=timedelta(hours=30))
    assert offer.offer_expires_at == NOW + timedelta(hours=12)
    assert await expire(db, NOW + timedelta(hours=11, minutes=59)) == ([], [])

    at = NOW + timedelta(hours=12)
    expired, promotions = await expire(db, at)
    assert [s.id for s in expired] == [offer.id]
    # min(now + 12 h, start - 2 h) = NOW + 24 h
    assert [(p.user_id, p.status, p.expires_at) for p in promotions] == [
        (3, Status.OFFERED, NOW + timedelta(hours=24))
    ]
    assert await expire(db, at) == ([], [])  # nobody is promoted twice
    await assert_consistent(db, a, now=at)

    # The next offer runs out within two hours of the start: the last in line is confirmed.
    close = NOW + timedelta(hours=29)
    expired, promotions = await expire(db, close)
    assert [s.user_id for s in expired] == [3]
    assert [(p.user_id, p.status, p.expires_at) for p in promotions] == [
        (4, Status.CONFIRMED, None)
    ]
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.EXPIRED,
        3: Status.EXPIRED,
        4: Status.CONFIRMED,
    }
    await assert_consistent(db, a, now=close)


async def test_expire_offers_with_nobody_left_frees_the_seat(db):
    a, offer = await offered_activity(db, waiting=1)
    expired, promotions = await expire(db, offer.offer_expires_at)
    assert [s.id for s in expired] == [offer.id] and promotions == []
    assert (await activity(db, a)).seats_taken == 0
    await assert_consistent(db, a, now=offer.offer_expires_at)


async def test_nobody_is_promoted_twice(db):
    await add_users(db, *range(1, 8))
    a = await add_activity(db, capacity=2)
    ids = {user: (await join(db, user, a)).signup.id for user in range(1, 8)}
    promoted = []
    for action, user in [
        (cancel, 1),
        (cancel, 2),
        (decline_offer, 3),
        (cancel, 4),  # an offered seat given back
        (accept_offer, 5),
    ]:
        result = await act(db, action, ids[user], user)
        assert result.refusal is None
        promoted += [p.signup_id for p in result.promotions]
        await assert_consistent(db, a)
    assert promoted == [ids[3], ids[4], ids[5], ids[6]]
    later = NOW + timedelta(days=2)
    expired, promotions = await expire(db, later)
    assert [s.id for s in expired] == [ids[6]]
    promoted += [p.signup_id for p in promotions]
    for _ in range(3):
        assert await expire(db, later) == ([], [])
    assert promoted == [ids[3], ids[4], ids[5], ids[6], ids[7]]
    final = await statuses(db, a)
    assert [final[u] for u in range(1, 8)] == [
        Status.CANCELLED,
        Status.CANCELLED,
        Status.DECLINED,
        Status.CANCELLED,
        Status.CONFIRMED,
        Status.EXPIRED,
        Status.OFFERED,
    ]
    await assert_consistent(db, a, now=later)


async def test_someone_elses_signup_is_not_found_and_nothing_changes(db):
    a, offer = await offered_activity(db, waiting=2)  # 2 holds an offer, 3 waits
    waiting = await mine(db, 3, a)
    before = await everything(db)
    for action, signup_id, user in [
        (cancel, offer.id, 1),
        (accept_offer, offer.id, 1),
        (decline_offer, offer.id, 3),
        (accept_offer, offer.id, 3),
        (cancel, waiting.id, 2),
        (cancel, 10_000, 1),
        (accept_offer, 10_000, 1),
        (decline_offer, 10_000, 1),
    ]:
        result = await act(db, action, signup_id, user)
        assert (result.refusal, result.signup, result.promotions) == (Refusal.NOT_FOUND, None, ())
    assert await everything(db) == before


# --- capacity ----------------------------------------------------------------------------------


async def test_set_capacity_up_promotes_and_down_below_seats_taken_is_refused(db):
    await add_users(db, 1, 2, 3, 4, 5)
    a = await add_activity(db, capacity=1)
    ids = {user: (await join(db, user, a)).signup.id for user in range(1, 6)}

    async def resize(capacity):
        async with db.write() as conn:
            return await set_capacity(conn, activity_id=a, capacity=capacity, now=NOW, rules=RULES)

    changed, promotions = await resize(3)
    assert changed
    assert [(p.signup_id, p.status) for p in promotions] == [
        (ids[2], Status.OFFERED),
        (ids[3], Status.OFFERED),
    ]
    assert all(p.expires_at == NOW + timedelta(hours=12) for p in promotions)
    assert (await activity(db, a)).seats_taken == 3
    before = await everything(db)
    assert await resize(2) == (False, [])
    assert await resize(-1) == (False, [])
    assert await everything(db) == before
    assert await resize(3) == (True, [])
    changed, promotions = await resize(None)
    assert changed and [p.signup_id for p in promotions] == [ids[4], ids[5]]
    found = await activity(db, a)
    assert (found.capacity, found.seats_taken) == (None, 5)
    assert await resize(4) == (False, [])
    assert await resize(5) == (True, [])
    async with db.write() as conn:
        assert await set_capacity(conn, activity_id=999, capacity=3, now=NOW, rules=RULES) == (
            False,
            [],
        )
    await assert_consistent(db, a)


async def test_unlimited_capacity_never_waitlists(db):
    await add_users(db, *range(1, 31))
    a = await add_activity(db, capacity=None, max_companions=2)
    outcomes = [await join(db, user, a, party=user % 3 + 1) for user in range(1, 31)]
    assert {o.signup.status for o in outcomes} == {Status.CONFIRMED}
    assert {o.position for o in outcomes} == {None}
    found = await activity(db, a)
    assert found.seats_taken == sum(user % 3 + 1 for user in range(1, 31))
    assert found.seats_left is None
    await assert_consistent(db, a)


async def test_unlimited_capacity_with_an_offer_pending_still_confirms_newcomers(db):
    await add_users(db, 1, 2)
    a = await add_activity(db, capacity=0)
    assert (await join(db, 1, a)).signup.status == Status.WAITLISTED
    async with db.write() as conn:
        changed, promotions = await set_capacity(
            conn, activity_id=a, capacity=None, now=NOW, rules=RULES
        )
    assert changed and [(p.user_id, p.status) for p in promotions] == [(1, Status.OFFERED)]
    assert (await join(db, 2, a)).signup.status == Status.CONFIRMED
    await assert_consistent(db, a)


async def test_volunteers_use_volunteer_places(db):
    await add_users(db, 1, 2, 3, 11, 12)
    a = await add_activity(db, capacity=1, volunteer_role="set up the hall", volunteer_places=2)
    volunteers = [await join(db, user, a, role=V) for user in (1, 2, 3)]
    assert [(o.signup.status, o.position) for o in volunteers] == [
        (Status.CONFIRMED, None),
        (Status.CONFIRMED, None),
        (Status.WAITLISTED, 1),
    ]
    participants = [await join(db, user, a) for user in (11, 12)]
    assert [(o.signup.status, o.position) for o in participants] == [
        (Status.CONFIRMED, None),
        (Status.WAITLISTED, 1),
    ]
    found = await activity(db, a)
    assert (found.seats_taken, found.volunteers_taken, found.volunteer_places_left) == (1, 2, 0)

    result = await act(db, cancel, volunteers[0].signup.id, 1)
    assert [(p.user_id, p.status) for p in result.promotions] == [(3, Status.OFFERED)]
    assert await statuses(db, a, P) == {11: Status.CONFIRMED, 12: Status.WAITLISTED}
    async with db.write() as conn:  # more seats are for participants only
        changed, promotions = await set_capacity(
            conn, activity_id=a, capacity=2, now=NOW, rules=RULES
        )
    assert changed and [p.user_id for p in promotions] == [12]
    await act(db, accept_offer, volunteers[2].signup.id, 3)
    await assert_consistent(db, a)

    after = (await activity(db, a)).ends_at
    async with db.read() as conn:
        assert [s.id for s in await served_shifts(conn, 3, now=after)] == [a]
        assert await served_shifts(conn, 1, now=after) == []
        assert await served_shifts(conn, 3, now=after - timedelta(seconds=1)) == []


async def test_cancel_activity_tells_everyone_and_frees_everything(db):
    await add_users(db, 1, 2, 3, 4, 5, 6)
    a = await add_activity(db, capacity=2, volunteer_places=1)
    await join(db, 1, a)
    await join(db, 2, a)
    await join(db, 3, a)
    await join(db, 4, a)
    await join(db, 5, a, role=V)
    await join(db, 6, a)
    await act(db, cancel, (await mine(db, 6, a)).id, 6)  # already gone: not told
    await act(db, cancel, (await mine(db, 1, a)).id, 1)  # 3 is offered, 4 waits
    assert await statuses(db, a) == {
        1: Status.CANCELLED,
        2: Status.CONFIRMED,
        3: Status.OFFERED,
        4: Status.WAITLISTED,
        5: Status.CONFIRMED,
        6: Status.CANCELLED,
    }
    async with db.write() as conn:
        told = await cancel_activity(conn, a, now=NOW)
    assert told == [2, 3, 4, 5]
    found = await activity(db, a)
    assert (found.status, found.seats_taken, found.volunteers_taken) == ("cancelled", 0, 0)
    assert set((await statuses(db, a)).values()) == {Status.CANCELLED}
    async with db.read() as conn:
        assert await schedule(conn, 2, now=NOW) == []
        assert (
            await conn.scalar(select(func.count()).where(signups.c.offer_expires_at.is_not(None)))
            == 0
        )
    async with db.write() as conn:
        assert await cancel_activity(conn, a, now=NOW) == []
        assert await set_capacity(conn, activity_id=a, capacity=5, now=NOW, rules=RULES) == (
            True,
            [],
        )
    assert await expire(db, NOW + timedelta(days=1)) == ([], [])
    assert (await act(db, cancel, (await mine(db, 2, a)).id, 2)).refusal is Refusal.ALREADY
    assert (await act(db, accept_offer, (await mine(db, 3, a)).id, 3)).refusal is Refusal.ALREADY
    assert (await join(db, 1, a)).refusal is Refusal.CANCELLED
    await assert_consistent(db, a)


async def test_the_database_itself_refuses_overbooking(db):
    a = await add_activity(db, capacity=2, volunteer_places=1)
    for values in ({"seats_taken": 3}, {"volunteers_taken": 2}, {"seats_taken": -1}):
        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await conn.execute(update(activities).where(activities.c.id == a).values(values))
    found = await activity(db, a)
    assert (found.seats_taken, found.volunteers_taken) == (0, 0)


async def test_a_freed_seat_costs_a_few_statements_however_long_the_waitlist(db):
    await add_users(db, *range(1, 101))
    a = await add_activity(db, capacity=10)
    await join_all(db, a, range(1, 101))
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = db.engine_running_statements
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = await act(db, cancel, (await mine(db, 1, a)).id, 1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [p.user_id for p in result.promotions] == [11]
    # Not one UPDATE per waiting person: the first that does not fit ends the search.
    assert 0 < len(statements) < 20, len(statements)
    await assert_consistent(db, a)


def test_offer_deadline():
    rules = SignupRules()
    assert offer_deadline(NOW, NOW + timedelta(days=1), rules) == NOW + timedelta(hours=12)
    assert offer_deadline(NOW, NOW + timedelta(hours=5), rules) == NOW + timedelta(hours=3)
    assert offer_deadline(NOW, NOW + timedelta(hours=2), rules) is None
    assert offer_deadline(NOW, NOW + timedelta(hours=1), rules) is None
    short = SignupRules(offer_window=timedelta(hours=1), offer_cutoff=timedelta(0))
    assert offer_deadline(NOW, NOW + timedelta(hours=3), short) == NOW + timedelta(hours=1)
    assert offer_deadline(NOW, NOW + timedelta(minutes=30), short) == NOW + timedelta(minutes=30)


# --- under load ------------------------------------------------------------------------------


async def held_and_waiting(conn, activity_id):
    found = await get_activity(conn, activity_id)
    rows = (
        await conn.execute(
            select(signups.c.id, signups.c.status, signups.c.party_size)
            .where(signups.c.activity_id == activity_id)
            .order_by(signups.c.id)
        )
    ).all()
    held = sum(r.party_size for r in rows if r.status in HELD)
    waiting = [r.id for r in rows if r.status == Status.WAITLISTED]
    return found, held, waiting


async def test_200_concurrent_signups_for_10_seats(database_url, db):
    await add_users(db, *range(1, 201))
    a = await add_activity(db, capacity=10)
    other = Database.from_url(database_url)  # another process on the same database

    async def press(user):
        async with (db if user % 3 else other).write() as conn:
            return await sign_up(
                conn, activity_id=a, user_id=user, role=P, party_size=1, now=NOW, rules=RULES
            )

    users = list(range(1, 201))
    random.Random(3).shuffle(users)
    try:
        outcomes = await asyncio.gather(*(press(user) for user in users))
    finally:
        await other.close()
    assert [o.refusal for o in outcomes] == [None] * 200
    by_id = sorted((o.signup for o in outcomes), key=lambda s: s.id)
    assert [s.status for s in by_id] == [Status.CONFIRMED] * 10 + [Status.WAITLISTED] * 190
    positions = {o.signup.id: o.position for o in outcomes}
    assert [positions[s.id] for s in by_id[10:]] == list(range(1, 191))
    async with db.read() as conn:
        found, held, waiting = await held_and_waiting(conn, a)
        assert (found.seats_taken, held, len(waiting)) == (10, 10, 190)
        read_back = [await waitlist_position(conn, await get_signup(conn, i)) for i in waiting]
    assert read_back == list(range(1, 191))
    await assert_consistent(db, a)


async def test_concurrent_cancels_and_signups_keep_capacity_and_order(database_url, db):
    await add_users(db, *range(1, 251))
    a = await add_activity(db, capacity=10)
    await join_all(db, a, range(1, 201))
    before = await statuses(db, a)
    rng = random.Random(7)
    # Every confirmed person and 40 from the waitlist cancel, while 50 newcomers sign up.
    leaving = [user for user, status in before.items() if status == Status.CONFIRMED]
    leaving += rng.sample([u for u, s in before.items() if s == Status.WAITLISTED], 40)
    tasks = [("cancel", user) for user in leaving] + [("join", u) for u in range(201, 251)]
    rng.shuffle(tasks)

    other = Database.from_url(database_url)  # another process on the same database
    commits = []  # what each transaction committed, in commit order

    async def run(index, kind, user):
        async with (db if index % 2 else other).write() as conn:
            # As the storage functions do first (PostgreSQL): the queue read next is the one
            # this transaction changes, not one that another commits meanwhile.
            await lock_activities(conn, [a])
            _, _, waiting_before = await held_and_waiting(conn, a)
            if kind == "cancel":
                signup = await signup_of(conn, a, user)
                held_a_seat = signup.status in HELD
                outcome = await cancel(
                    conn, signup_id=signup.id, user_id=user, now=NOW, rules=RULES
                )
            else:
                held_a_seat = False
                outcome = await sign_up(
                    conn, activity_id=a, user_id=user, role=P, party_size=1, now=NOW, rules=RULES
                )
            found, held, waiting_after = await held_and_waiting(conn, a)
            commits.append((kind, outcome, held_a_seat, waiting_before, found, held, waiting_after))
        return outcome

    done = asyncio.Event()
    seen = []  # committed states, as a reader outside the writers sees them meanwhile

    async def observe():
        while not done.is_set():
            async with db.read() as conn:
                found, held, _ = await held_and_waiting(conn, a)
            seen.append((found.seats_taken, held))
            await asyncio.sleep(0.005)

    observer = asyncio.create_task(observe())
    try:
        outcomes = await asyncio.gather(*(run(i, *task) for i, task in enumerate(tasks)))
    finally:
        done.set()
        await observer
        await other.close()

    assert [o.refusal for o in outcomes] == [None] * 100
    assert len(commits) == 100
    assert seen and all(taken == held <= 10 for taken, held in seen)
    promoted = []
    for kind, outcome, held_a_seat, waiting_before, found, held, waiting_after in commits:
        # The state this transaction committed (the CHECK constraint would have refused more).
        assert found.seats_taken == held <= found.capacity == 10
        promotion_ids = [p.signup_id for p in outcome.promotions]
        # A freed seat goes to the first in line as the queue stood just before; nothing else
        # promotes anyone.
        assert promotion_ids == waiting_before[: 1 if held_a_seat else 0]
        assert all(p.status == Status.OFFERED for p in outcome.promotions)
        if kind == "join":
            assert outcome.signup.status == Status.WAITLISTED
            assert outcome.position == len(waiting_after)
            assert waiting_after == [*waiting_before, outcome.signup.id]
        else:
            assert outcome.signup.status == Status.CANCELLED
            assert outcome.signup.id not in waiting_after
        promoted += promotion_ids
    assert len(promoted) == len(set(promoted)) >= 10
    async with db.read() as conn:
        found, held, waiting = await held_and_waiting(conn, a)
        read_back = [await waitlist_position(conn, await get_signup(conn, i)) for i in waiting]
    assert found.seats_taken == held == 10
    assert read_back == list(range(1, len(waiting) + 1))
    await assert_consistent(db, a)
