"""The thank-you an hour after an activity: a score from 1 to 5 and an optional comment."""

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.jobs import ratings_job
from domain.activities import Role, SignupRules, Status
from storage.ratings import center_ratings
from storage.schema import deliveries, ratings
from storage.signups import cancel, sign_up
from storage.users import delete_user, export_user
from tests.activity_helpers import add_activity
from tests.helpers import center_id_by_external, consenting_user, eventually, sender_idle

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # the demo center demo-ekb-1
STARS = ["⭐1", "⭐2", "⭐3", "⭐4", "⭐5"]


def local_day_at(env, days: int, at: time) -> datetime:
    day = env.clock().astimezone(YEKATERINBURG).date() + timedelta(days=days)
    return datetime.combine(day, at, YEKATERINBURG).astimezone(UTC)


async def activity_ending(env, ends_at: datetime, **values) -> int:
    """A two-hour activity ending at ``ends_at``, created 40 hours before it starts (the
    clock is left there, so that people can still sign up)."""
    starts_at = ends_at - timedelta(hours=2)
    env.clock.now = starts_at - timedelta(hours=40)
    return await add_activity(env, in_hours=40, **values)


async def join(env, user, activity_id: int, role: Role = Role.PARTICIPANT):
    async with env.db.write() as conn:
        outcome = await sign_up(
            conn,
            activity_id=activity_id,
            user_id=user.id,
            role=role,
            party_size=1,
            now=env.clock(),
            rules=SignupRules(),
        )
    return outcome.signup


async def run_job(env) -> None:
    d = env.dispatcher
    await ratings_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)


async def thanks_in_chat(user, count: int = 1):
    async def arrived():
        found = [m for m in await user.messages() if (m.text or "").startswith("🙏")]
        return found if len(found) >= count else None

    return await eventually(arrived)


async def queued_keys(env) -> set[str]:
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(deliveries.c.dedup_key).where(deliveries.c.kind == "rating")
        )
        return set(rows.scalars())


async def rating_rows(env) -> list[tuple]:
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(ratings.c.activity_id, ratings.c.user_id, ratings.c.score, ratings.c.comment)
        )
        return [tuple(row) for row in rows]


async def rated_user(env, ends_local: time = time(16, 0)):
    """Someone confirmed for an activity that ended an hour ago, with the thank-you in hand."""
    ends_at = local_day_at(env, 3, ends_local)
    activity_id = await activity_ending(env, ends_at)
    user = await consenting_user(env, language_code="en", first_name="Anna")
    signup = await join(env, user, activity_id)
    env.clock.now = ends_at + timedelta(hours=1)
    await run_job(env)
    [thanks] = await thanks_in_chat(user)
    return user, signup, activity_id, thanks


async def test_thank_you_an_hour_after_the_end_once_only_to_those_who_came(bot_env):
    env = bot_env
    ends_at = local_day_at(env, 3, time(16, 0))
    # Anna was also at an activity that ended beyond the window: a bot down that long does
    # not ask about it any more.
    long_ago = ends_at - timedelta(days=2, hours=1)
    old_id = await activity_ending(env, long_ago, title="Давний клуб")
    anna = await consenting_user(env, language_code="en", first_name="Anna")
    await join(env, anna, old_id)

    activity_id = await activity_ending(
        env, ends_at, capacity=1, volunteer_role="Помощник", volunteer_places=2
    )
    boris = await consenting_user(env, language_code="en", first_name="Boris")
    carl = await consenting_user(env, language_code="en", first_name="Carl")
    dora = await consenting_user(env, language_code="en", first_name="Dora")
    anna_signup = await join(env, anna, activity_id)
    carl_signup = await join(env, carl, activity_id)
    dora_signup = await join(env, dora, activity_id, Role.VOLUNTEER)
    boris_signup = await join(env, boris, activity_id, Role.VOLUNTEER)
    assert carl_signup.status == Status.WAITLISTED
    async with env.db.write() as conn:
        outcome = await cancel(
            conn, signup_id=boris_signup.id, user_id=boris.id, now=env.clock(), rules=SignupRules()
        )
    assert outcome.refusal is None

    env.clock.now = ends_at + timedelta(minutes=59)
    await run_job(env)
    assert await queued_keys(env) == set(), "not before an hour has passed"

    env.clock.now = ends_at + timedelta(hours=1)
    await run_job(env)
    [thanks] = await thanks_in_chat(anna)
    assert thanks.text.startswith("🙏 Thank you for coming to Клуб проверки!")
    assert "How was it?" in thanks.text
    assert thanks.buttons == [STARS]
    [helper_thanks] = await thanks_in_chat(dora)
    assert helper_thanks.text.startswith("🙏 Thank you for helping at Клуб проверки!")

    for minutes in (5, 10):
        env.clock.now = ends_at + timedelta(hours=1, minutes=minutes)
        await run_job(env)
    assert await queued_keys(env) == {f"rating:{anna_signup.id}", f"rating:{dora_signup.id}"}, (
        "once each; none for who cancelled, waited, or an activity long past"
    )
    assert len(await thanks_in_chat(anna)) == 1


async def test_a_score_is_saved_changeable_and_takes_a_comment(bot_env):
    env = bot_env
    anna, _signup, activity_id, thanks = await rated_user(env)

    [edited] = await anna.press("⭐4", message_id=thanks.message_id)
    assert edited.message_id == thanks.message_id, "shown in place"
    assert "Your rating: ⭐⭐⭐⭐\n" in edited.text
    assert edited.buttons == [STARS, ["✍️ Add a comment", "❌ No, thanks"]]
    assert await rating_rows(env) == [(activity_id, anna.id, 4, None)]

    env.clock.advance(minutes=3)
    await anna.press("⭐2", message_id=thanks.message_id)
    assert await rating_rows(env) == [(activity_id, anna.id, 2, None)], "changed, not added"

    edited, prompt = await anna.press("✍️ Add a comment", message_id=thanks.message_id)
    assert edited.buttons == [STARS]
    assert prompt.text.startswith("Write your comment in one message, up to 1000 characters.")
    [too_long] = await anna.send("x" * 1001)
    assert "within 1000 characters" in too_long.text
    [done] = await anna.send("  Тепло и уютно,\nспасибо!  ")
    assert done.text == "Thank you! The center's coordinators will read your comment."
    assert await rating_rows(env) == [(activity_id, anna.id, 2, "Тепло и уютно,\nспасибо!")]
    [again] = await anna.send("Екатеринбург")
    assert "Thank you" not in again.text, "the dialog has ended: text is a search again"

    center_id = await center_id_by_external(env, "demo-ekb-1")
    async with env.db.read() as conn:
        stats = await center_ratings(conn, center_id, env.clock() - timedelta(days=7))
        exported = await export_user(conn, anna.id)
    assert (stats.count, stats.average) == (1, 2.0)
    [comment] = stats.comments
    assert (comment.score, comment.comment, comment.role) == (
        2,
        "Тепло и уютно,\nспасибо!",
        "participant",
    )
    [mine] = exported["ratings"]
    assert (mine["activity"], mine["score"], mine["comment"]) == (
        "Клуб проверки",
        2,
        "Тепло и уютно,\nспасибо!",
    )

    async with env.db.write() as conn:
        await delete_user(conn, anna.id)
    assert await rating_rows(env) == [], "/forget takes the ratings along"


async def test_no_thanks_and_the_comment_dialog_ends_on_a_menu_button_or_command(bot_env):
    env = bot_env
    anna, _signup, activity_id, thanks = await rated_user(env)
    await anna.press("⭐5", message_id=thanks.message_id)
    [edited] = await anna.press("❌ No, thanks", message_id=thanks.message_id)
    assert edited.buttons == [STARS] and "Your rating: ⭐⭐⭐⭐⭐" in edited.text

    await anna.press("⭐5", message_id=thanks.message_id)
    await anna.press("✍️ Add a comment", message_id=thanks.message_id)
    schedule = await anna.press("📋 My schedule")
    assert schedule and all("Thank you" not in m.text for m in schedule)
    await anna.send("Екатеринбург")

    await anna.press("⭐5", message_id=thanks.message_id)
    await anna.press("✍️ Add a comment", message_id=thanks.message_id)
    help_text = await anna.send("/help")
    assert help_text and all("Thank you" not in m.text for m in help_text)
    await anna.send("Екатеринбург")
    assert await rating_rows(env) == [(activity_id, anna.id, 5, None)]


async def test_forged_rating_presses_change_nothing_and_are_answered(bot_env):
    env = bot_env
    anna, signup, _activity_id, thanks = await rated_user(env)
    # Mallory was signed up and cancelled; later activities may not be rated before they end.
    mallory = await consenting_user(env, language_code="en", first_name="Mallory")
    later_ends = env.clock() + timedelta(days=3)
    later_id = await activity_ending(env, later_ends)
    later = await join(env, mallory, later_id)
    menu = await mallory.last_bot_message()
    await sender_idle(env)  # every outcome recorded before the snapshot
    before = await env.rows()

    forged = {
        f"rate:{signup.id}:5": "This activity is no longer in the list.",  # Anna's
        f"rcom:c:{signup.id}": "This activity is no longer in the list.",
        f"rcom:n:{signup.id}": "This activity is no longer in the list.",
        "rate:999999:3": "This activity is no longer in the list.",
        "rcom:c:999999": "This activity is no longer in the list.",
        f"rate:{later.id}:4": "You can rate it once it has ended.",
        f"rate:{signup.id}:9": "This button is out of date.",
        f"rate:{signup.id}:0": "This button is out of date.",
        f"rate:{signup.id}:-1": "This button is out of date.",
        "rate:0:3": "This button is out of date.",
        "rate:99999999999999:3": "This button is out of date.",
        f"rcom:x:{signup.id}": "This button is out of date.",
        "rate:abc": "This button is out of date.",
    }
    for data in forged:
        await mallory.callback(menu.message_id, data)
    answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(mallory.id)}
    for data, expected in forged.items():
        assert answers[data] is not None, f"{data!r} was not answered"
        assert answers[data]["text"] == expected, data
    assert await env.rows() == before

    # Her own sign-up, once the activity ended: cancelled, so nothing to rate.
    async with env.db.write() as conn:
        await cancel(
            conn, signup_id=later.id, user_id=mallory.id, now=env.clock(), rules=SignupRules()
        )
    await sender_idle(env)  # every outcome recorded before the snapshot
    before = await env.rows()
    env.clock.now = later_ends + timedelta(hours=1)
    await mallory.callback(menu.message_id, f"rate:{later.id}:5")
    # Anna asks for a comment box without having given a score.
    await anna.callback(thanks.message_id, f"rcom:c:{signup.id}")
    answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(mallory.id)}
    assert answers[f"rate:{later.id}:5"]["text"] == "Only those who took part can rate it."
    answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(anna.id)}
    assert answers[f"rcom:c:{signup.id}"]["text"] == "Choose a score first."
    assert await env.rows() == before


async def test_quiet_hours_hold_the_thank_you_until_morning(bot_env):
    env = bot_env
    ends_at = local_day_at(env, 3, time(21, 30))  # asked at 22:30 local: quiet
    activity_id = await activity_ending(env, ends_at)
    owl = await consenting_user(env, language_code="ru", first_name="Сова")
    await join(env, owl, activity_id)

    env.clock.now = ends_at + timedelta(hours=1)
    await run_job(env)
    assert len(await queued_keys(env)) == 1, "queued at once, to go out later"
    morning = local_day_at(env, 1, time(8, 0))
    async with env.db.read() as conn:
        held_until = await conn.scalar(select(deliveries.c.next_attempt_at))
    assert held_until == morning
    env.clock.now = morning - timedelta(minutes=1)
    env.dispatcher["sender"].notify()
    await asyncio.sleep(0.3)
    async with env.db.read() as conn:
        assert await conn.scalar(select(deliveries.c.state)) == "pending"

    env.clock.now = morning
    env.dispatcher["sender"].notify()
    [thanks] = await thanks_in_chat(owl)
    assert thanks.text.startswith("🙏 Спасибо")
    await run_job(env)
    assert len(await queued_keys(env)) == 1
