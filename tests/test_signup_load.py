"""Many people pressing at once, through the real dispatcher handling updates concurrently."""

import random

import pytest
from sqlalchemy import func, select

from storage.schema import activities, signups
from storage.users import save_consent
from tests.activity_helpers import add_activity, add_quiet_center
from tests.helpers import eventually

pytestmark = pytest.mark.concurrent


async def residents(env, count):
    users = [await env.tg.new_user(first_name=f"R{i}", language_code="ru") for i in range(count)]
    async with env.db.write() as conn:
        for user in users:
            await save_consent(
                conn,
                user_id=user.id,
                display_name=user.info["first_name"],
                language="ru",
                consent_version=env.settings.consent_version,
                now=env.clock(),
            )
    for user in users:
        await user.send("/help", wait=False)

    async def everyone_has_a_message():
        for user in users:
            if await user.last_bot_message() is None:
                return False
        return True

    assert await eventually(everyone_has_a_message, seconds=60)
    return users


async def press_all(env, presses):
    """Send (user, data) callbacks in a shuffled order without waiting, then wait until the
    bot has answered every one of them."""
    random.Random(1).shuffle(presses)
    for user, data in presses:
        message = await user.last_bot_message()
        await user.callback(message.message_id, data, wait=False)

    async def all_answered():
        answered = [c for c in await env.tg.callbacks() if c["answered"]]
        return len(answered) >= expected

    expected = len([c for c in await env.tg.callbacks()])
    assert await eventually(all_answered, seconds=120)


async def rows(env, activity_id):
    async with env.db.read() as conn:
        found = await conn.execute(
            select(signups.c.id, signups.c.user_id, signups.c.status)
            .where(signups.c.activity_id == activity_id)
            .order_by(signups.c.id)
        )
        return [tuple(r) for r in found]


async def seats_taken(env, activity_id):
    async with env.db.read() as conn:
        return await conn.scalar(
            select(activities.c.seats_taken).where(activities.c.id == activity_id)
        )


async def test_two_hundred_press_sign_up_for_ten_seats(bot_env):
    center = await add_quiet_center(bot_env)
    activity_id = await add_activity(bot_env, center, capacity=10, in_hours=72)
    users = await residents(bot_env, 200)
    await press_all(bot_env, [(user, f"a:j:{activity_id}:0:1") for user in users])

    found = await rows(bot_env, activity_id)
    statuses = [status for _id, _user, status in found]
    assert statuses.count("confirmed") == 10 and statuses.count("waitlisted") == 190
    # The first ten to be recorded got the seats; everyone after waits, in that order.
    assert statuses == ["confirmed"] * 10 + ["waitlisted"] * 190
    assert await seats_taken(bot_env, activity_id) == 10
    assert {user for _id, user, _s in found} == {user.id for user in users}
    answers = [c["answer"]["text"] for c in await bot_env.tg.callbacks()]
    assert answers.count("Вы записаны. До встречи!") == 10
    waitlist_answers = sorted(
        int(text.split("номер ")[1].split(" ")[0]) for text in answers if "номер" in text
    )
    assert waitlist_answers == list(range(1, 191))  # contiguous positions, none repeated

    # Fifty leave (confirmed and waitlisted alike) while fifty newcomers sign up.
    by_user = {user: signup_id for signup_id, user, _s in found}
    leaving = random.Random(2).sample(users, 50)
    newcomers = await residents(bot_env, 50)
    presses = [(user, f"s:x:{by_user[user.id]}") for user in leaving]
    presses += [(user, f"a:j:{activity_id}:0:1") for user in newcomers]
    await press_all(bot_env, presses)

    after = await rows(bot_env, activity_id)
    holding = [(i, s) for i, _u, s in after if s in ("confirmed", "offered")]
    waiting = [i for i, _u, s in after if s == "waitlisted"]
    assert len(holding) == 10 == await seats_taken(bot_env, activity_id)
    # Promotions follow sign-up order: every seat holder signed up before everyone waiting.
    assert max(i for i, _s in holding) < min(waiting)
    assert len([s for _i, _u, s in after if s == "cancelled"]) == 50
    async with bot_env.db.read() as conn:
        active = await conn.scalar(
            select(func.count()).where(
                signups.c.activity_id == activity_id,
                signups.c.status.in_(["confirmed", "offered", "waitlisted"]),
            )
        )
    assert active == 200
