"""Reminders before an activity, through the queue and the sender to a user's chat."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from bot.jobs import reminders_job
from domain.activities import Role, SignupRules, Status
from domain.reminders import ReminderKind
from handlers.reminders import reminder_key
from storage.activities import cancel_activity
from storage.deliveries import count_by_state, enqueue
from storage.reminders import (
    NEVER,
    due_for_reminders,
    replan_for_activity,
    retire_past_reminders,
    unconfirmed_volunteers,
)
from storage.schema import activities, deliveries, signups
from storage.series import update_activity
from storage.signups import cancel, sign_up
from storage.users import set_reminders
from tests.activity_helpers import add_activity, subscribed_user
from tests.helpers import (
    center_id_by_external,
    eventually,
    nothing_in_chat,
    pushed,
    sender_idle,
)

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # the demo center demo-ekb-1


def local_day_at(env, days: int, at: time) -> datetime:
    day = env.clock().astimezone(YEKATERINBURG).date() + timedelta(days=days)
    return datetime.combine(day, at, YEKATERINBURG).astimezone(UTC)


async def activity_at(env, starts_at: datetime, **values) -> int:
    env.clock.now = starts_at - timedelta(hours=40)
    return await add_activity(env, in_hours=40, **values)


async def join(env, user, activity_id: int) -> int:
    async with env.db.write() as conn:
        outcome = await sign_up(
            conn,
            activity_id=activity_id,
            user_id=user.id,
            role=Role.PARTICIPANT,
            party_size=1,
            now=env.clock(),
            rules=SignupRules(),
        )
    return outcome.signup.id


async def run_job(env) -> None:
    d = env.dispatcher
    await reminders_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)


async def reminders_in_chat(user, count: int):
    async def arrived():
        found = [m for m in await user.messages() if (m.text or "").startswith("⏰")]
        return found if len(found) >= count else None

    return await eventually(arrived)


async def queued(env) -> int:
    async with env.db.read() as conn:
        return sum((await count_by_state(conn)).values())


async def test_24h_and_2h_reminders_then_im_coming(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    signup_id = await join(env, user, activity_id)

    env.clock.now = starts_at - timedelta(hours=25)
    await run_job(env)
    assert await queued(env) == 0, "nothing is due a day and an hour before"

    env.clock.now = starts_at - timedelta(hours=24)
    await run_job(env)
    [first] = await reminders_in_chat(user, 1)
    assert "Клуб проверки" in first.text and "14:00" in first.text
    assert first.buttons == [["✅ I'm coming", "❌ Can't make it"]]
    env.clock.advance(minutes=1)
    await run_job(env)
    await run_job(env)
    assert await queued(env) == 1, "the same reminder is queued once"

    env.clock.now = starts_at - timedelta(hours=2)
    await run_job(env)
    _, second = await reminders_in_chat(user, 2)
    [edited] = await user.press("✅ I'm coming", message_id=second.message_id)
    assert edited.buttons == [] and "coming" in edited.text
    async with env.db.read() as conn:
        row = (await conn.execute(select(signups).where(signups.c.id == signup_id))).one()
    assert row.coming_confirmed_at == env.clock() and row.status == Status.CONFIRMED

    env.clock.now = starts_at + timedelta(minutes=1)
    await run_job(env)
    assert await queued(env) == 2, "nothing after the start"


async def test_cant_make_it_cancels_and_offers_the_seat_to_the_waitlist(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(15, 0))
    activity_id = await activity_at(env, starts_at, capacity=1)
    anna = await subscribed_user(env, name="Anna")
    boris = await subscribed_user(env, name="Boris")
    anna_signup = await join(env, anna, activity_id)
    boris_signup = await join(env, boris, activity_id)

    env.clock.now = starts_at - timedelta(hours=2)
    await run_job(env)
    [reminder] = await reminders_in_chat(anna, 1)
    assert await nothing_in_chat(env, boris, "⏰"), "the waitlisted get no reminder"
    [edited] = await anna.press("❌ Can't make it", message_id=reminder.message_id)
    assert edited.buttons == [] and "cancelled" in edited.text

    async with env.db.read() as conn:
        statuses = dict((await conn.execute(select(signups.c.id, signups.c.status))).all())
    assert statuses[anna_signup] == Status.CANCELLED
    assert statuses[boris_signup] in (Status.OFFERED, Status.CONFIRMED)
    assert await pushed(boris, "Клуб проверки")


async def test_quiet_hours_hold_a_reminder_until_morning_unless_it_cannot_wait(bot_env):
    env = bot_env
    late = local_day_at(env, 3, time(23, 0))  # its 24 h reminder falls at 23:00 local
    early = late + timedelta(hours=8, minutes=30)  # 07:30 local: its 2 h one falls at 05:30
    late_id = await activity_at(env, late, title="Поздний клуб")
    early_id = await add_activity(env, in_hours=(early - env.clock()) / timedelta(hours=1))
    owl = await subscribed_user(env, name="Owl")
    lark = await subscribed_user(env, name="Lark")
    await join(env, owl, late_id)
    await join(env, lark, early_id)
    async with env.db.write() as conn:
        await set_reminders(conn, lark.id, "2h")

    eve = late - timedelta(hours=24)
    env.clock.now = eve
    await run_job(env)
    env.clock.now = eve + timedelta(hours=8, minutes=59)
    await run_job(env)
    assert await queued(env) == 0, "23:00 to 07:59 is quiet: the reminder waits"
    env.clock.now = eve + timedelta(hours=9)
    await run_job(env)
    [held] = await reminders_in_chat(owl, 1)
    assert "Поздний клуб" in held.text

    env.clock.now = early - timedelta(hours=2)
    await run_job(env)
    [early_reminder] = await reminders_in_chat(lark, 1)
    assert "07:30" in early_reminder.text, "it starts before the quiet hours end: sent at once"


async def test_no_reminders_for_someone_who_turned_them_off(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    await join(env, user, activity_id)
    async with env.db.write() as conn:
        await set_reminders(conn, user.id, "")
    for hours in (24, 2, 1):
        env.clock.now = starts_at - timedelta(hours=hours)
        await run_job(env)
    assert await queued(env) == 0


async def test_reminder_buttons_of_someone_else_change_nothing(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    owner = await subscribed_user(env, name="Owner")
    other = await subscribed_user(env, name="Other")
    signup_id = await join(env, owner, activity_id)
    env.clock.now = starts_at - timedelta(hours=2)
    await run_job(env)
    await reminders_in_chat(owner, 1)
    await sender_idle(env)  # its outcome recorded: nothing changes behind our back
    before = await env.rows()
    menu = await other.last_bot_message()
    for data in (f"r:y:{signup_id}", f"r:n:{signup_id}", "r:y:999999", "r:x:1"):
        await other.callback(menu.message_id, data)
    assert await env.rows() == before
    async with env.db.read() as conn:
        sent = await conn.scalar(select(deliveries.c.state))
    assert sent == "sent"


async def test_the_job_reads_only_sign_ups_it_has_work_for(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    await join(env, user, activity_id)
    await run_job(env)  # plans: next work at 24 h before
    async with env.db.read() as conn:
        assert await due_for_reminders(conn, now=env.clock(), limit=10) == []
        due_at = await conn.scalar(select(signups.c.reminder_due_at))
    assert due_at == starts_at - timedelta(hours=24)
    env.clock.now = due_at
    async with env.db.read() as conn:
        assert len(await due_for_reminders(conn, now=env.clock(), limit=10)) == 1


async def test_a_moved_activity_gets_its_reminders_again(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    await join(env, user, activity_id)
    env.clock.now = starts_at - timedelta(hours=24)
    await run_job(env)
    await reminders_in_chat(user, 1)

    moved = starts_at + timedelta(days=2)
    async with env.db.write() as conn:
        await conn.execute(
            activities.update()
            .where(activities.c.id == activity_id)
            .values(starts_at=moved, ends_at=moved + timedelta(hours=2))
        )
        await replan_for_activity(conn, activity_id)
    env.clock.advance(hours=1)
    await run_job(env)
    assert await queued(env) == 1, "the old time's reminders are not due any more"
    env.clock.now = moved - timedelta(hours=24)
    await run_job(env)
    _, again = await reminders_in_chat(user, 2)
    assert "14:00" in again.text


async def test_changing_preferences_plans_again(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    await join(env, user, activity_id)
    async with env.db.write() as conn:
        await set_reminders(conn, user.id, "")
    await run_job(env)
    async with env.db.write() as conn:
        await set_reminders(conn, user.id, "1h")
    env.clock.now = starts_at - timedelta(hours=1)
    await run_job(env)
    assert await reminders_in_chat(user, 1)


async def test_volunteers_who_have_not_said_im_coming_3_hours_before_are_listed(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    shift_id = await activity_at(
        env, starts_at, volunteer_role="Подготовка зала", volunteer_places=3, capacity=None
    )
    sure = await subscribed_user(env, name="Sure")
    unsure = await subscribed_user(env, name="Unsure")
    ids = {}
    for name, user in (("Sure", sure), ("Unsure", unsure)):
        async with env.db.write() as conn:
            outcome = await sign_up(
                conn,
                activity_id=shift_id,
                user_id=user.id,
                role=Role.VOLUNTEER,
                party_size=1,
                now=env.clock(),
                rules=SignupRules(),
            )
        ids[name] = outcome.signup.id
    env.clock.now = starts_at - timedelta(hours=24)
    await run_job(env)
    [reminder] = await reminders_in_chat(sure, 1)
    assert reminder.text.startswith("⏰ Your shift is coming up")
    await sure.press("✅ I'm coming", message_id=reminder.message_id)

    center_id = await center_id_by_external(env, "demo-ekb-1")
    env.clock.now = starts_at - timedelta(hours=3)
    async with env.db.read() as conn:
        listed = await unconfirmed_volunteers(
            conn, center_id, now=env.clock(), lead=timedelta(hours=3)
        )
        earlier = await unconfirmed_volunteers(
            conn, center_id, now=env.clock() - timedelta(minutes=1), lead=timedelta(hours=3)
        )
    assert [(v.signup_id, v.display_name) for v in listed] == [(ids["Unsure"], "Unsure")]
    assert earlier == [], "not before 3 hours ahead"


async def test_a_24h_reminder_across_kyivs_clock_change(bot_env):
    # Sunday 29 March 2026 the clocks in Kyiv go from 03:00 to 04:00: a class at 10:00 that
    # morning is 23 wall-clock hours after 10:00 on Saturday, and its 24 h reminder comes
    # at 09:00 on Saturday, local time.
    env = bot_env
    kyiv = ZoneInfo("Europe/Kyiv")
    starts_at = datetime(2026, 3, 29, 10, 0, tzinfo=kyiv).astimezone(UTC)
    env.clock.now = starts_at - timedelta(days=3)
    activity_id = await add_activity(env, "demo-kyiv-1", in_hours=72)
    user = await subscribed_user(env, "demo-kyiv-1")
    await join(env, user, activity_id)
    env.clock.now = datetime(2026, 3, 28, 8, 59, tzinfo=kyiv).astimezone(UTC)
    await run_job(env)
    assert await queued(env) == 0
    env.clock.now = datetime(2026, 3, 28, 9, 0, tzinfo=kyiv).astimezone(UTC)
    await run_job(env)
    [reminder] = await reminders_in_chat(user, 1)
    assert "10:00" in reminder.text, "in the center's local time, after the change"


async def test_cancelling_drops_reminders_still_in_the_queue(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    leaving = await subscribed_user(env, name="Leaving")
    staying = await subscribed_user(env, name="Staying")
    leaving_signup = await join(env, leaving, activity_id)
    staying_signup = await join(env, staying, activity_id)
    later = env.clock() + timedelta(days=30)  # held back, as the sender's queue may be
    async with env.db.write() as conn:
        for user, signup_id in ((leaving, leaving_signup), (staying, staying_signup)):
            await enqueue(
                conn,
                user_id=user.id,
                kind="reminder",
                text="⏰",
                dedup_key=reminder_key(signup_id, ReminderKind.H24, starts_at),
                now=env.clock(),
                not_before=later,
            )
        await cancel(
            conn, signup_id=leaving_signup, user_id=leaving.id, now=env.clock(), rules=SignupRules()
        )
    async with env.db.read() as conn:
        keys = list(await conn.scalars(select(deliveries.c.dedup_key)))
    assert keys == [reminder_key(staying_signup, ReminderKind.H24, starts_at)]

    async with env.db.write() as conn:
        await cancel_activity(conn, activity_id, now=env.clock())
    assert await queued(env) == 0


async def test_a_reminder_whose_activity_started_meanwhile_is_retired(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    await join(env, user, activity_id)
    await run_job(env)  # planned: 24 h before
    env.clock.now = starts_at + timedelta(hours=1)  # the bot was down across it all
    await run_job(env)
    assert await queued(env) == 0
    async with env.db.read() as conn:
        due_at = await conn.scalar(select(signups.c.reminder_due_at))
    assert due_at == NEVER, "not read again every minute"


async def test_retiring_looks_up_the_waiting_sign_ups_activities_not_every_past_one(bot_env):
    """The job retires every minute, on the event loop: its cost must follow the sign-ups
    waiting for it, not the chain's whole history of activities."""
    env = bot_env
    if env.db.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    seen: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    engine = env.db.engine_running_statements
    event.listen(engine, "before_cursor_execute", keep)
    try:
        async with env.db.write() as conn:
            await retire_past_reminders(conn, now=env.clock())
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    updates = [(sql, parameters) for sql, parameters in seen if sql.startswith("UPDATE")]
    assert len(updates) == 2
    async with env.db.read() as conn:
        for sql, parameters in updates:
            plan = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            steps = [row[-1] for row in plan]
            assert not [step for step in steps if step.startswith("SCAN")], steps


async def test_an_activity_moved_by_an_import_drops_the_queued_reminder_of_the_old_time(bot_env):
    env = bot_env
    starts_at = local_day_at(env, 3, time(14, 0))
    activity_id = await activity_at(env, starts_at)
    user = await subscribed_user(env)
    signup_id = await join(env, user, activity_id)
    old_key = reminder_key(signup_id, ReminderKind.H24, starts_at)
    moved = starts_at + timedelta(hours=3)
    async with env.db.write() as conn:
        await enqueue(
            conn,
            user_id=user.id,
            kind="reminder",
            text="⏰ 14:00",
            dedup_key=old_key,
            now=env.clock(),
            not_before=env.clock() + timedelta(days=30),  # still waiting in the queue
        )
        refusal = await update_activity(
            conn,
            activity_id,
            {
                "starts_at": moved,
                "ends_at": moved + timedelta(hours=2),
                "capacity": 10,
                "volunteer_places": 0,
            },
            now=env.clock(),
        )
    assert refusal is None
    assert await queued(env) == 0, "the reminder with the old time is gone"
    env.clock.now = moved - timedelta(hours=24)
    await run_job(env)
    [reminder] = await reminders_in_chat(user, 1)
    assert "17:00" in reminder.text
