"""A month of a center's life with known figures, built through the storage functions the
bot itself uses (sign-ups, cancelling, offers, ratings, subscriptions)."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, update

from domain.activities import Role, SignupRules, Status
from domain.stats import Week, last_weeks
from storage.activities import cancel_activity, insert_activity
from storage.ratings import save_rating
from storage.schema import guest_signups, signups
from storage.signups import accept_offer, cancel, sign_up
from storage.subscriptions import subscribe
from storage.users import save_consent

RULES = SignupRules()


@dataclass
class Month:
    weeks: list[Week]
    busy_id: int  # first week: a waitlist, a roll call, a volunteer who came
    calm_id: int  # third week: everyone came, the volunteer did not
    user_ids: list[int]


async def add_people(env, first_id: int, count: int) -> list[int]:
    ids = list(range(first_id, first_id + count))
    async with env.db.write() as conn:
        for user_id in ids:
            await save_consent(
                conn,
                user_id=user_id,
                display_name=f"Person {user_id}",
                language="ru",
                consent_version=env.settings.consent_version,
                now=env.clock() - timedelta(days=60),
            )
    return ids


async def _activity(conn, env, center_id, starts_at, **values) -> int:
    row = {
        "center_id": center_id,
        "title": "Клуб",
        "category": "other",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "created_at": starts_at - timedelta(days=3),
        **values,
    }
    return await insert_activity(conn, **row)


async def _join(conn, activity_id, user_id, now, role=Role.PARTICIPANT):
    outcome = await sign_up(
        conn,
        activity_id=activity_id,
        user_id=user_id,
        role=role,
        party_size=1,
        now=now,
        rules=RULES,
    )
    assert outcome.refusal is None, outcome
    return outcome.signup


async def _mark(conn, signup_id, attended):
    await conn.execute(update(signups).where(signups.c.id == signup_id).values(attended=attended))


async def build_month(env, center_id, other_center_id, *, first_person=9001) -> Month:
    """Expected, by week (oldest first):

    week 0: 2 sign-ups (1 present, 1 absent), 2 waited of whom 1 got a place, 2 volunteer
            hours; 1 new subscriber;
    week 1: a cancelled activity only: nothing;
    week 2: 3 sign-ups (2 people and a guest), all present; the volunteer absent: 0 hours;
            1 new subscriber;
    week 3: nothing (an activity later this week has not happened yet).
    Ratings 4 and 5: average 4.5 of 2. Subscribers: 3 in all, one from before the period.
    The other center has sign-ups and a subscriber of its own, counted nowhere here.
    """
    now = env.clock()
    weeks = last_weeks(now, "Asia/Yekaterinburg")
    u1, u2, u3, u4, volunteer, outsider = await add_people(env, first_person, 6)
    async with env.db.write() as conn:
        busy_at = weeks[0].start + timedelta(days=2, hours=5)
        busy = await _activity(
            conn, env, center_id, busy_at, capacity=2, volunteer_role="Помощь", volunteer_places=1
        )
        before = busy_at - timedelta(hours=30)
        s1 = await _join(conn, busy, u1, before)
        s2 = await _join(conn, busy, u2, before)
        s3 = await _join(conn, busy, u3, before)
        assert s3.status == Status.WAITLISTED
        await cancel(conn, signup_id=s2.id, user_id=u2, now=before, rules=RULES)
        accepted = await accept_offer(conn, signup_id=s3.id, user_id=u3, now=before, rules=RULES)
        assert accepted.signup.status == Status.CONFIRMED
        s4 = await _join(conn, busy, u4, before)
        assert s4.status == Status.WAITLISTED  # and stays there
        await _join(conn, busy, volunteer, before, Role.VOLUNTEER)
        await _mark(conn, s1.id, True)
        await _mark(conn, s3.id, False)

        dropped_at = weeks[1].start + timedelta(days=1, hours=5)
        dropped = await _activity(conn, env, center_id, dropped_at)
        await _join(conn, dropped, u1, dropped_at - timedelta(hours=30))
        await cancel_activity(conn, dropped, now=dropped_at - timedelta(hours=20))

        calm_at = weeks[2].start + timedelta(days=3, hours=6)
        calm = await _activity(
            conn,
            env,
            center_id,
            calm_at,
            capacity=None,
            volunteer_role="Помощь",
            volunteer_places=1,
        )
        before = calm_at - timedelta(hours=30)
        c1 = await _join(conn, calm, u1, before)
        c2 = await _join(conn, calm, u2, before)
        helper = await _join(conn, calm, volunteer, before, Role.VOLUNTEER)
        await _mark(conn, c1.id, True)
        await _mark(conn, c2.id, True)
        await _mark(conn, helper.id, False)
        await conn.execute(
            insert(guest_signups).values(
                activity_id=calm, name="Гость", attended=True, created_by=0, created_at=before
            )
        )

        later = await _activity(conn, env, center_id, now + timedelta(hours=3))
        await _join(conn, later, u4, now)

        elsewhere = await _activity(conn, env, other_center_id, weeks[2].start + timedelta(days=1))
        await _join(conn, elsewhere, outsider, weeks[2].start - timedelta(days=1))

        await save_rating(conn, busy, u1, 4, busy_at + timedelta(hours=3))
        await save_rating(conn, calm, u2, 5, calm_at + timedelta(hours=3))

        await subscribe(conn, u1, center_id, now=weeks[0].start - timedelta(days=3))
        await subscribe(conn, u2, center_id, now=weeks[0].start + timedelta(days=1))
        await subscribe(conn, u3, center_id, now=weeks[2].start + timedelta(hours=1))
        await subscribe(conn, outsider, other_center_id, now=weeks[2].start)
    return Month(weeks, busy, calm, [u1, u2, u3, u4, volunteer, outsider])
