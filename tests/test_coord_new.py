"""➕ New activity or shift: the coordinator's dialog, its preview and what it saves."""

from datetime import time, timedelta

from tests.activity_helpers import subscribed_user
from tests.coord_form_helpers import (
    activity_rows,
    at_local,
    audit_actions,
    fill_form,
    local_midday,
    local_today,
    open_new_form,
    quiet_center_with_coordinator,
    run_news,
)
from tests.helpers import pushed


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
