"""➕ New activity or shift: the coordinator's dialog, its preview and what it saves."""

from datetime import time, timedelta

from sqlalchemy import select

from handlers.callbacks import CoordFormCb, CoordMenuCb, CoordSection, FormAction
from storage.schema import activity_series
from tests.activity_helpers import subscribed_user
from tests.coord_form_helpers import (
    activity_rows,
    at_local,
    audit_actions,
    fill_form,
    local_midday,
    local_today,
    open_new_form,
    press_forged,
    quiet_center_with_coordinator,
    run_news,
)
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    pushed,
    revoke_coordinator,
    sender_idle,
)


async def test_a_one_off_activity_is_saved_in_the_center_time_and_residents_see_it(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    resident = await subscribed_user(env, "test-quiet", name="Ann")
    day = local_today(env) + timedelta(days=3)
    [ask_title] = await open_new_form(olga)
    assert "<b>New activity or shift</b>" in ask_title.html or "New activity" in ask_title.text
    preview = await fill_form(
        olga,
        [
            "  Knitting   club ",
            ("press", "🧶 Crafts"),
            day.strftime("%d.%m"),
            "18:30",
            ("press", "1 h 30 min"),
            "12",
            ("press", "No volunteers"),
            "Hall 2",
            "Bring your own yarn.",
            ("press", "Only once"),
        ],
    )
    shown = preview[-1]
    assert shown.text.startswith("Preview. This is how residents will see it:")
    assert "Knitting club" in shown.text
    assert "18:30–20:00" in shown.text
    assert "📍 Тихий центр · Hall 2" in shown.text
    assert "👥 12 places left of 12" in shown.text
    assert shown.buttons == [["✅ Save"], ["✏️ Edit a field"], ["✖️ Cancel"]]
    saved = (await olga.press("✅ Save"))[-1]
    assert saved.text.startswith("✅ Saved: Knitting club.")
    [row] = await activity_rows(env, center_id)
    assert row.title == "Knitting club" and row.category == "crafts"
    assert row.starts_at == at_local(day, time(18, 30))
    assert row.starts_at.hour == 13 and row.starts_at.minute == 30, "18:30 in UTC+5"
    assert row.ends_at - row.starts_at == timedelta(minutes=90)
    assert (row.capacity, row.place_note, row.description) == (12, "Hall 2", "Bring your own yarn.")
    assert row.announced_at is None and row.series_id is None
    [(action, actor, details)] = await audit_actions(env, center_id)
    assert (action, actor, details["activity_id"]) == ("activity.create", olga.id, row.id)

    [listing] = await resident.press("🗓 Activities")
    assert "Knitting club" in listing.text
    await run_news(env)
    news = await pushed(resident, "🆕", "Knitting club")
    assert news is not None


async def test_a_weekly_series_puts_its_first_weeks_on_the_calendar_and_is_news_once(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    resident = await subscribed_user(env, "test-quiet", name="Ann")
    today = local_today(env)
    first = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    await open_new_form(olga)
    repeat = await fill_form(
        olga,
        [
            "Nordic walking",
            ("press", "🏃 Sport"),
            first.strftime("%d.%m.%Y"),
            "9:00",
            "60",
            ("press", "♾ No limit"),
            ("press", "No volunteers"),
            ("press", "Skip"),
            ("press", "Skip"),
            ("press", "🔁 Weekly"),
        ],
    )
    days = repeat[-1]
    assert days.buttons[0][0] == "✅ Mon", "the first date's weekday comes chosen"
    await olga.press("✅ Mon", message_id=days.message_id)
    await olga.press("Next ›", message_id=days.message_id)
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(olga.id) if c["answer"]]
    assert answers[-1] == "Choose at least one day."
    await olga.press("Mon", message_id=days.message_id)
    [toggled] = await olga.press("Wed", message_id=days.message_id)
    assert toggled.message_id == days.message_id and toggled.buttons[0][2] == "✅ Wed"
    await olga.press("Every other week", message_id=days.message_id)
    [ask_end] = (await olga.press("Next ›", message_id=days.message_id))[-1:]
    assert ask_end.buttons == [["4 weeks", "8 weeks", "12 weeks"], ["No end date"]]
    [hint] = await olga.send("0")
    assert hint.text == "Send a whole number from 1 to 52, or press a button."
    [hint] = await olga.send((first - timedelta(days=1)).strftime("%d.%m.%Y"))
    assert hint.text == "The last date cannot come before the first one."
    [preview] = await olga.send("6")
    assert "👥 No limit on places" in preview.text and "09:00–10:00" in preview.text
    assert "🔁 Every other week: Mon, Wed, until" in preview.text
    assert "(6 times)" in preview.text, "weeks 1, 3 and 5 of six, two days each"
    await olga.press("✅ Save")

    async with env.db.read() as conn:
        [series] = (
            await conn.execute(
                select(activity_series).where(activity_series.c.center_id == center_id)
            )
        ).all()
    assert (series.weekdays, series.every_weeks, series.local_time) == ("1,3", 2, "09:00")
    assert series.first_date == first and series.last_date == first + timedelta(days=41)
    rows = await activity_rows(env, center_id)
    assert rows and all(row.series_id == series.id for row in rows)
    assert rows[0].starts_at == at_local(first, time(9, 0))
    dates = [first + timedelta(days=d) for d in (0, 2, 14, 16, 28, 30, 42)]
    ahead = [d for d in dates if d <= today + timedelta(weeks=4)]  # what the daily job keeps
    assert [row.starts_at for row in rows] == [at_local(d, time(9, 0)) for d in ahead]
    [(action, _actor, details)] = await audit_actions(env, center_id)
    assert action == "activity.create" and details["series_id"] == series.id
    assert details["activity_id"] == rows[0].id

    [listing] = await resident.press("🗓 Activities")
    assert "Nordic walking" in listing.text
    await run_news(env)
    news = await pushed(resident, "🆕 A new activity at your centers", "Nordic walking")
    assert news is not None, "a series is news once, not once per date"


async def test_a_shift_for_volunteers_only(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    volunteer = await subscribed_user(env, "test-quiet", name="Vic")
    day = local_today(env) + timedelta(days=2)
    await open_new_form(olga)
    ask_role = await fill_form(
        olga,
        [
            "Sorting donations",
            ("press", "🤝 Charity and help"),
            day.strftime("%d.%m"),
            "10:00",
            ("press", "3 h"),
            ("press", "🙋 Volunteers only"),
        ],
    )
    assert ask_role[-1].text.startswith("It is a shift for volunteers only.")
    assert ask_role[-1].buttons == [], "no way round the volunteers' task"
    preview = await fill_form(
        olga,
        ["Sorting clothes", "500", "4", "Back room", ("press", "Skip"), ("press", "Only once")],
    )
    shown = preview[-1].text
    assert "🙋 Volunteers: Sorting clothes" in shown and "4 places left of 4" in shown
    assert "And in 🙋 Volunteering:" not in shown, "there is no participants' card to show"
    await olga.press("✅ Save")
    [row] = await activity_rows(env, center_id)
    assert (row.accepts_participants, row.capacity) == (False, None)
    assert (row.volunteer_role, row.volunteer_places) == ("Sorting clothes", 4)
    [listing] = await volunteer.press("🙋 Volunteering")
    assert "Sorting donations" in listing.text


async def test_wrong_answers_get_a_hint_and_the_dialog_goes_on(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    today = local_today(env)
    await open_new_form(olga)
    steps = [
        ("x" * 201, "That is too long: please keep it within 200 characters."),
        ("Chess", "Choose the category."),
        ("Chess", "Please choose with the buttons above."),
    ]
    for text, expected in steps:
        [answer] = await olga.send(text)
        assert answer.text == expected, text
    await olga.press("🎓 Lectures and talks")
    for text, expected in [
        ("31.02", "I could not read this date. Send it like 25.12, 25.12.2026 or 2026-12-25."),
        ("tomorrow", "I could not read this date. Send it like 25.12, 25.12.2026 or 2026-12-25."),
        ((today - timedelta(days=3)).strftime("%d.%m"), "This date has already passed."),
        ((today + timedelta(days=400)).isoformat(), "That is more than a year ahead."),
        (today.strftime("%d.%m.%Y"), "What time does it start?"),
        ("25:00", "I could not read this time. Send it like 18:30."),
        ("11:59", "This time has already passed. Send a later time."),
        ("12:30", "How long does it last?"),
        ("abc", "Send the length in minutes (90)"),
        ("0:03", "Send the length in minutes (90)"),
        ("1:30", "How many participants can come?"),
        ("abc", "Send a whole number from 1 to 10000, or press a button."),
        ("0", "Send a whole number from 1 to 10000, or press a button."),
        ("20", "Do you need volunteers?"),
    ]:
        [answer] = await olga.send(text)
        assert answer.text.startswith(expected), text
    [answer] = await olga.send_sticker()
    assert answer.text == "Please send your answer as text."
    preview = await fill_form(
        olga,
        [("press", "No volunteers"), ("press", "Skip"), ("press", "Skip"), ("press", "Only once")],
    )
    assert preview[-1].text.startswith("Preview.")

    # Edit a field: back at the title, then straight back to the preview.
    [fields] = await olga.press("✏️ Edit a field")
    assert fields.buttons[0] == ["Title", "Category"] and fields.buttons[-1] == [
        "‹ Back to the preview"
    ]
    [ask] = (await olga.press("Title"))[-1:]
    assert "Now: <b>Chess</b>" in ask.html and ask.buttons == [["‹ Back to the preview"]]
    [preview] = await olga.send("Chess for beginners")
    assert preview.text.startswith("Preview.") and "Chess for beginners" in preview.text
    await olga.press("✏️ Edit a field")
    [ask] = (await olga.press("Participants"))[-1:]
    [preview] = (await olga.press("‹ Back to the preview"))[-1:]
    assert "20 places left of 20" in preview.text, "kept as it was"

    # Time moves on while the preview waits: saving it is refused, the dialog goes on.
    env.clock.advance(hours=1)
    await olga.press("✅ Save", message_id=preview.message_id)
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(olga.id) if c["answer"]]
    assert answers[-1] == "It would start in the past: change the date or the time."
    assert await activity_rows(env, center_id) == []
    await olga.press("✏️ Edit a field", message_id=preview.message_id)
    await olga.press("Time")
    [preview] = await olga.send("18:00")
    [saved] = (await olga.press("✅ Save", message_id=preview.message_id))[-1:]
    assert saved.text.startswith("✅ Saved: Chess for beginners.")
    [row] = await activity_rows(env, center_id)
    assert row.starts_at == at_local(today, time(18, 0))
    assert await press_forged(env, olga, preview.message_id, saved_again(center_id)) == (
        "This form is closed. Start again from /coord."
    ), "a second tap on Save saves nothing more"
    assert len(await activity_rows(env, center_id)) == 1


def saved_again(center_id: int) -> str:
    return CoordFormCb(center_id=center_id, action=FormAction.SAVE).pack()


async def test_cancel_a_menu_button_or_a_command_leave_the_dialog(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    await open_new_form(olga)
    await olga.send("Chess")
    [listing] = await olga.press("🗓 Activities")
    assert listing.text.startswith("Here you will see what is on at the centers"), (
        "the menu button did what it always does, not answer the dialog"
    )
    [search] = await olga.send("Екатеринбург")
    assert "Екатеринбург" in search.text, "the dialog has ended: text is a search again"

    await open_new_form(olga)
    await olga.send("Chess")
    [help_text] = await olga.send("/help")
    assert "Chess" not in help_text.text
    await open_new_form(olga)
    preview = await fill_form(
        olga,
        [
            "Chess",
            ("press", "✨ Other"),
            (local_today(env) + timedelta(days=1)).strftime("%d.%m"),
            "18:00",
            ("press", "1 h"),
            ("press", "♾ No limit"),
            ("press", "No volunteers"),
            ("press", "Skip"),
            ("press", "Skip"),
            ("press", "Only once"),
        ],
    )
    [done] = (await olga.press("✖️ Cancel", message_id=preview[-1].message_id))[-1:]
    assert done.text == "Cancelled: nothing was saved."
    assert await activity_rows(env, center_id) == []
    assert await audit_actions(env, center_id) == []


async def test_residents_other_coordinators_and_revoked_ones_create_nothing(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    other_center = await center_id_by_external(env, "demo-ekb-1")
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    stranger = await coordinating_user(env, other_center, first_name="Sam", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Vera", language_code="en")
    await open_new_form(revoked)
    await fill_form(revoked, ["Chess", ("press", "✨ Other")])
    await revoke_coordinator(env, revoked, center_id)
    await sender_idle(env)
    before = await env.rows()

    refusal = "Only this center's coordinators can do that."
    [answer] = await revoked.send((local_today(env) + timedelta(days=1)).strftime("%d.%m"))
    assert answer.text == refusal, "her open dialog is refused and closed"
    presses = [
        CoordMenuCb(section=CoordSection.NEW_ACTIVITY, center_id=center_id).pack(),
        CoordFormCb(center_id=center_id, action=FormAction.SAVE).pack(),
        CoordFormCb(center_id=center_id, action=FormAction.CATEGORY, value="sport").pack(),
    ]
    for user in (resident, stranger, revoked):
        [menu] = await user.send("/help")
        for data in presses:
            assert await press_forged(env, user, menu.message_id, data) == refusal, data
    [menu] = await stranger.send("/coord")
    await stranger.press("➕ New activity or shift", message_id=menu.message_id)
    [olga_menu] = await olga.send("/coord")
    # Her own center's dialog does not carry over to another center's buttons.
    forged = CoordFormCb(center_id=center_id, action=FormAction.SKIP).pack()
    assert await press_forged(env, stranger, menu.message_id, forged) == refusal
    mine = CoordFormCb(center_id=other_center, action=FormAction.SAVE).pack()
    assert await press_forged(env, stranger, menu.message_id, mine) == "This button is out of date."
    assert await press_forged(env, olga, olga_menu.message_id, presses[1]) == (
        "This form is closed. Start again from /coord."
    )
    await sender_idle(env)
    after = await env.rows()
    assert after == before
