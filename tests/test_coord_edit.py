"""✏️ Changing and ❌ cancelling an activity as its center's coordinator: the change, the
news to everyone signed up, the reminders, and the refusals that change nothing."""

from datetime import time, timedelta

from sqlalchemy import select

from bot.jobs import reminders_job
from domain.activities import SignupRules, Status
from handlers.callbacks import (
    CoordActivityAction,
    CoordActivityCb,
    CoordCancelCb,
    CoordEditCb,
    EditField,
)
from storage.activities import get_activity
from storage.schema import activities, deliveries, signups
from storage.series import insert_series, materialise
from storage.signups import cancel
from tests.coord_form_helpers import (
    activity_at_quiet_center,
    at_local,
    audit_actions,
    join,
    local_midday,
    local_today,
    press_forged,
    quiet_center_with_coordinator,
)
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    pushed,
    revoke_coordinator,
    sender_idle,
)


def edit(activity_id: int) -> str:
    return CoordActivityCb(action=CoordActivityAction.EDIT, activity_id=activity_id).pack()


def cancel_button(activity_id: int) -> str:
    return CoordActivityCb(action=CoordActivityAction.CANCEL, activity_id=activity_id).pack()


async def open_edit(env, user, activity_id: int):
    [menu] = await user.send("/coord")
    [edit_menu] = await user.callback(menu.message_id, edit(activity_id))
    return edit_menu


async def activity(env, activity_id: int):
    async with env.db.read() as conn:
        return await get_activity(conn, activity_id)


async def signup_rows(env, activity_id: int):
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(signups.c.user_id, signups.c.status, signups.c.reminder_due_at)
            .where(signups.c.activity_id == activity_id)
            .order_by(signups.c.id)
        )
        return [tuple(row) for row in rows]


async def run_reminders(env) -> None:
    d = env.dispatcher
    await reminders_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)


async def test_moving_an_activity_tells_everyone_signed_up_and_moves_the_reminders(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    day = local_today(env) + timedelta(days=3)
    activity_id = await activity_at_quiet_center(env, day, time(18, 0), title="Chess", capacity=1)
    anna = await consenting_user(env, language_code="en", first_name="Anna")
    boris = await consenting_user(env, language_code="ru", first_name="Борис")
    await join(env, anna, activity_id)
    assert (await join(env, boris, activity_id)).status == Status.WAITLISTED
    await run_reminders(env)
    [(_anna, _status, planned), _boris] = await signup_rows(env, activity_id)
    assert planned is not None, "the reminder job has planned Anna's reminders"

    edit_menu = await open_edit(env, olga, activity_id)
    assert edit_menu.text.startswith("✏️ What would you like to change?")
    assert edit_menu.buttons[:3] == [
        ["Title", "Description"],
        ["Place", "Start time"],
        ["Duration", "Places"],
    ]
    [question] = await olga.press("Start time", message_id=edit_menu.message_id)
    assert "Now: " + day.strftime("%d.%m.%Y") + " 18:00" in question.text
    [hint] = await olga.send("half past seven")
    assert hint.text.startswith("Send the new date and time like 25.12 18:30")
    [hint] = await olga.send((local_today(env) - timedelta(days=1)).strftime("%d.%m") + " 19:30")
    assert hint.text == "This time has already passed. Send a later time."
    [done] = await olga.send("19:30")
    assert done.text.startswith("✅ Changed. People signed up will be told: 2.")

    moved = await activity(env, activity_id)
    assert moved.starts_at == at_local(day, time(19, 30))
    assert moved.ends_at - moved.starts_at == timedelta(hours=2)
    [(_a, _s, replanned), _b] = await signup_rows(env, activity_id)
    assert replanned is None, "planned again for the new time"
    news = await pushed(
        anna, "🔔 The time of Chess has changed.", "19:30–21:30", "It was:", "18:00–20:00"
    )
    assert news is not None and news.buttons == [["Open"]]
    assert await pushed(boris, "🔔", "Chess", "19:30") is not None, "the waitlist hears it too"
    [(action, actor, details)] = await audit_actions(env, center_id)
    assert (action, actor, details["field"]) == ("activity.edit", olga.id, "start")
    assert details["after"] == moved.starts_at.isoformat()

    env.clock.now = moved.starts_at - timedelta(hours=24)
    await run_reminders(env)
    reminder = await pushed(anna, "⏰")
    assert reminder is not None and "19:30" in reminder.text


async def test_place_duration_title_and_places(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    day = local_today(env) + timedelta(days=2)
    activity_id = await activity_at_quiet_center(env, day, time(10, 0), title="Yoga", capacity=1)
    anna = await consenting_user(env, language_code="en", first_name="Anna")
    boris = await consenting_user(env, language_code="en", first_name="Boris")
    await join(env, anna, activity_id)
    await join(env, boris, activity_id)

    edit_menu = await open_edit(env, olga, activity_id)
    await olga.press("Place", message_id=edit_menu.message_id)
    [too_long] = await olga.send("x" * 201)
    assert "within 200 characters" in too_long.text
    await olga.send("Hall 3")
    assert (
        await pushed(anna, "🔔 The place of Yoga has changed.", "Тихий центр · Hall 3") is not None
    )

    edit_menu = await open_edit(env, olga, activity_id)
    await olga.press("Title", message_id=edit_menu.message_id)
    [done] = await olga.send("Morning yoga")
    assert done.text == "✅ Changed.", "a new title is no news to send"
    edit_menu = await open_edit(env, olga, activity_id)
    await olga.press("Duration", message_id=edit_menu.message_id)
    [hint] = await olga.send("forever")
    assert hint.text.startswith("Send the length in minutes (90)")
    await olga.send("1:15")
    changed = await activity(env, activity_id)
    assert changed.title == "Morning yoga" and changed.place_note == "Hall 3"
    assert changed.ends_at - changed.starts_at == timedelta(minutes=75)
    assert await pushed(anna, "🔔 The time of Morning yoga has changed.", "10:00–11:15") is not None

    edit_menu = await open_edit(env, olga, activity_id)
    [question] = await olga.press("Places", message_id=edit_menu.message_id)
    assert question.buttons == [["♾ No limit"], ["‹ Menu"]]
    [hint] = await olga.send("abc")
    assert hint.text.startswith("Send a whole number from 1 to 10000")
    [done] = await olga.send("2")
    assert done.text.startswith("✅ Changed.")
    assert (await activity(env, activity_id)).capacity == 2
    offer = await pushed(boris, "A place has come free")
    assert offer is not None, "the new place went to the waitlist at once"

    edit_menu = await open_edit(env, olga, activity_id)
    await olga.press("Places", message_id=edit_menu.message_id)
    [refused] = await olga.send("1")
    assert refused.text == "Fewer places than people already signed up (2)."
    assert (await activity(env, activity_id)).capacity == 2
    edit_menu = await open_edit(env, olga, activity_id)
    await olga.press("Description", message_id=edit_menu.message_id)
    await olga.press("🗑 No description")
    assert (await activity(env, activity_id)).description == ""
    fields = [d["field"] for action, _actor, d in await audit_actions(env, center_id)]
    assert fields == ["description", "capacity", "duration", "title", "place"]


async def test_cancelling_tells_everyone_signed_up_and_frees_the_seats(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    day = local_today(env) + timedelta(days=2)
    activity_id = await activity_at_quiet_center(env, day, time(15, 0), title="Choir", capacity=2)
    people = [
        await consenting_user(env, language_code=lang, first_name=name)
        for lang, name in (("en", "Anna"), ("ru", "Борис"), ("uk", "Дарина"), ("en", "Carl"))
    ]
    anna, boris, daryna, carl = people
    for person in (anna, carl, boris, daryna):
        await join(env, person, activity_id)
    async with env.db.write() as conn:
        carl_signup = (
            await conn.execute(select(signups.c.id).where(signups.c.user_id == carl.id))
        ).scalar_one()
        await cancel(
            conn, signup_id=carl_signup, user_id=carl.id, now=env.clock(), rules=SignupRules()
        )
    statuses = {user: status for user, status, _due in await signup_rows(env, activity_id)}
    assert statuses[boris.id] == Status.OFFERED and statuses[daryna.id] == Status.WAITLISTED
    await sender_idle(env)

    [menu] = await olga.send("/coord")
    [ask] = await olga.callback(menu.message_id, cancel_button(activity_id))
    assert ask.text.startswith("Cancel this activity?")
    assert "3 people signed up will be told." in ask.text
    [kept] = await olga.press("No, keep it", message_id=ask.message_id)
    assert kept.message_id == ask.message_id and kept.buttons == []
    assert (await activity(env, activity_id)).status == "scheduled"
    [ask] = await olga.callback(menu.message_id, cancel_button(activity_id))
    [done] = await olga.press("Yes, cancel it", message_id=ask.message_id)
    assert done.text.startswith("❌ Cancelled.") and done.message_id == ask.message_id

    cancelled = await activity(env, activity_id)
    assert cancelled.status == "cancelled" and cancelled.seats_taken == 0
    assert {s for _u, s, _d in await signup_rows(env, activity_id)} == {Status.CANCELLED}
    assert await pushed(anna, "❌ Choir", "is cancelled") is not None
    assert await pushed(boris, "❌", "Choir", "отменено") is not None
    assert await pushed(daryna, "❌", "Choir", "скасовано") is not None
    await sender_idle(env)
    assert not [m for m in await carl.messages() if "❌" in (m.text or "")]
    actions = await audit_actions(env, center_id)
    assert [(a, actor) for a, actor, _d in actions] == [("activity.cancel", olga.id)]

    # Once cancelled, it can be neither cancelled again nor changed.
    before = await env.rows()
    answer = await press_forged(
        env, olga, menu.message_id, CoordCancelCb(activity_id=activity_id, confirm=True).pack()
    )
    assert answer == "This activity was cancelled."
    assert await press_forged(env, olga, menu.message_id, edit(activity_id)) == answer
    assert await env.rows() == before


async def test_a_started_activity_and_a_series_date_refuse_what_would_rewrite_them(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    started = await activity_at_quiet_center(env, local_today(env), time(11, 0))
    async with env.db.write() as conn:
        series_id = await insert_series(
            conn,
            center_id=center_id,
            title="Walk",
            category="sport",
            weekdays="1,2,3,4,5,6,7",
            local_time="09:00",
            duration_minutes=60,
            first_date=local_today(env),
            created_at=env.clock(),
        )
        await materialise(conn, today_utc=env.clock(), series_ids=[series_id])
        occurrence = await conn.scalar(
            select(activities.c.id).where(activities.c.series_id == series_id).limit(1)
        )
    [menu] = await olga.send("/coord")
    await sender_idle(env)
    before = await env.rows()
    assert await press_forged(env, olga, menu.message_id, edit(started)) == (
        "This activity has already started."
    )
    assert await press_forged(env, olga, menu.message_id, cancel_button(started)) == (
        "This activity has already started."
    )
    assert await env.rows() == before
    edit_menu = await open_edit(env, olga, occurrence)
    await olga.press("Start time", message_id=edit_menu.message_id)
    [refused] = await olga.send("10:00")
    assert refused.text.startswith("This is one date of a weekly series")
    assert await env.rows() == before


async def test_residents_other_coordinators_and_revoked_ones_change_nothing(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    day = local_today(env) + timedelta(days=2)
    activity_id = await activity_at_quiet_center(env, day, time(15, 0))
    other_center = await center_id_by_external(env, "demo-ekb-1")
    other_activity = await activity_at_quiet_center(env, day, time(16, 0))
    async with env.db.write() as conn:
        await conn.execute(
            activities.update()
            .where(activities.c.id == other_activity)
            .values(center_id=other_center)
        )
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    stranger = await coordinating_user(env, other_center, first_name="Sam", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Vera", language_code="en")
    # Vera opened a field to change before she lost the right.
    edit_menu = await open_edit(env, revoked, activity_id)
    await revoked.press("Title", message_id=edit_menu.message_id)
    await revoke_coordinator(env, revoked, center_id)
    await sender_idle(env)
    before = await env.rows()

    refusal = "Only this center's coordinators can do that."
    presses = [
        edit(activity_id),
        cancel_button(activity_id),
        CoordEditCb(activity_id=activity_id, field=EditField.PLACE, clear=True).pack(),
        CoordEditCb(activity_id=activity_id, field=EditField.TITLE).pack(),
        CoordCancelCb(activity_id=activity_id, confirm=True).pack(),
    ]
    [answer] = await revoked.send("New title")
    assert answer.text == refusal, "her open dialog is refused too"
    for user in (resident, stranger, revoked):
        [menu] = await user.send("/help")
        for data in presses:
            assert await press_forged(env, user, menu.message_id, data) == refusal, data
    # Olga's own forged presses: an activity that does not exist, another center's.
    [menu] = await olga.send("/coord")
    for data in (
        edit(999_999),
        cancel_button(other_activity),
        CoordCancelCb(activity_id=other_activity, confirm=True).pack(),
        CoordEditCb(activity_id=other_activity, field=EditField.PLACE, clear=True).pack(),
        f"ked:{activity_id}:zz:0",  # no such field: fails the filter
    ):
        assert await press_forged(env, olga, menu.message_id, data) == refusal, data
    await sender_idle(env)
    assert await env.rows() == before
    async with env.db.read() as conn:
        assert not (
            await conn.execute(select(deliveries.c.id).where(deliveries.c.kind == "changed"))
        ).all()
