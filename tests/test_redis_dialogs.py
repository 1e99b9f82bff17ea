"""Dialogs with their state in Redis (``REDIS_URL``): what they keep survives JSON, the keys
carry the bot's prefix and expire, and a finished dialog leaves nothing behind."""

from datetime import timedelta

import pytest
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from sqlalchemy import select

from bot.fsm import DIALOG_TTL, KEY_PREFIX, create_fsm
from storage.schema import activity_series, volunteer_profiles
from tests.activity_helpers import add_quiet_center, subscribed_user
from tests.broadcast_helpers import broadcast_rows, got, open_section, report, residents
from tests.conftest import make_settings
from tests.coord_form_helpers import (
    activity_rows,
    fill_form,
    local_midday,
    local_today,
    open_new_form,
    quiet_center_with_coordinator,
)
from tests.helpers import center_id_by_external, coordinating_user
from tests.redis_helpers import redis_keys, redis_server, redis_url  # noqa: F401
from tests.test_ratings import rated_user, rating_rows


@pytest.fixture
async def redis_env(bot_env, redis_url):  # noqa: F811
    """The test bot with its dialog state in Redis, as ``create_dispatcher`` sets it up for
    ``REDIS_URL``. The tests share one dispatcher (aiogram routers attach to one only): its
    storage is swapped for the test and put back before the dispatcher stops."""
    settings = bot_env.settings.model_copy(update={"redis_url": redis_url})
    storage, isolation = create_fsm(settings)
    fsm = bot_env.dispatcher.fsm
    memory = fsm.storage, fsm.events_isolation
    fsm.storage, fsm.events_isolation = storage, isolation
    try:
        yield bot_env
    finally:
        fsm.storage, fsm.events_isolation = memory
        await storage.close()
    assert not memory[0].storage, "no dialog state was kept in memory"


def test_redis_url_selects_redis_storage_and_isolation(tmp_path, redis_url):  # noqa: F811
    storage, isolation = create_fsm(make_settings(tmp_path))
    assert type(storage).__name__ == "MemoryStorage" and isolation is None
    storage, isolation = create_fsm(make_settings(tmp_path, redis_url=redis_url))
    assert isinstance(storage, RedisStorage) and isinstance(isolation, RedisEventIsolation)
    assert isolation.redis is storage.redis, "one connection pool for both"
    assert storage.state_ttl == storage.data_ttl == DIALOG_TTL


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_redis_url_means_memory(tmp_path, value):
    assert make_settings(tmp_path, redis_url=value).redis_url is None


def test_a_redis_url_needs_a_redis_scheme(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="redis://"):
        make_settings(tmp_path, redis_url="http://127.0.0.1:6379")


async def test_the_volunteer_profile_dialog_lives_in_redis_and_expires(redis_env, redis_url):  # noqa: F811
    env = redis_env
    center = await add_quiet_center(env)
    user = await subscribed_user(env, center, name="Ivan")
    await user.press("🙋 Volunteering")
    replies = await user.press("👤 Volunteer profile")
    assert replies[-1].text.startswith("How should the coordinators call you?")
    [ask_skills] = await user.send("Иван Петрович")
    assert ask_skills.text.startswith("What can you help with?")

    keys = await redis_keys(redis_url)
    prefix = f"{KEY_PREFIX}:{env.bot.id}:{user.id}:{user.id}"
    assert set(keys) == {f"{prefix}:state", f"{prefix}:data"}, "the lock is gone after each update"
    day = DIALOG_TTL / timedelta(seconds=1)
    assert all(day - 60 < ttl <= day for ttl in keys.values()), keys

    [saved] = await user.send("Готовлю")
    assert saved.text == "Saved. Thank you for helping!"
    async with env.db.read() as conn:
        profile = (await conn.execute(select(volunteer_profiles))).one()
    assert (profile.display_name, profile.skills) == ("Иван Петрович", "Готовлю")
    assert await redis_keys(redis_url) == {}, "a finished dialog leaves nothing in Redis"


async def test_a_rating_comment_is_taken_with_redis(redis_env):
    env = redis_env
    anna, _signup, activity_id, thanks = await rated_user(env)
    await anna.press("⭐5", message_id=thanks.message_id)
    await anna.press("✍️ Add a comment", message_id=thanks.message_id)
    [too_long] = await anna.send("x" * 1001)
    assert "within 1000 characters" in too_long.text
    [done] = await anna.send("Отлично")
    assert done.text == "Thank you! The center's coordinators will read your comment."
    assert await rating_rows(env) == [(activity_id, anna.id, 5, "Отлично")]


async def test_a_weekly_series_dialog_round_trips_dates_and_days(redis_env):
    """The new-activity draft holds dates, a time, a set of weekdays: all kept as JSON."""
    env = redis_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    today = local_today(env)
    first = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    await open_new_form(olga)
    await fill_form(olga, ["Nordic walking", ("press", "🏃 Sport")])
    [hint] = await olga.send("31.02")
    assert hint.text.startswith("I could not read this date.")
    repeat = await fill_form(
        olga,
        [
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
    await olga.press("Wed", message_id=days.message_id)
    await olga.press("Every other week", message_id=days.message_id)
    await olga.press("Next ›", message_id=days.message_id)
    [preview] = await olga.send("6")
    assert "09:00–10:00" in preview.text and "Nordic walking" in preview.text
    assert "🔁 Every other week: Mon, Wed, until" in preview.text
    await olga.press("✅ Save")
    async with env.db.read() as conn:
        [series] = (
            await conn.execute(
                select(activity_series).where(activity_series.c.center_id == center_id)
            )
        ).all()
    assert (series.weekdays, series.every_weeks, series.local_time) == ("1,3", 2, "09:00")
    assert series.first_date == first and series.last_date == first + timedelta(days=41)
    assert (await activity_rows(env, center_id))[0].title == "Nordic walking"


async def test_an_announcement_with_a_photo_is_composed_with_redis(redis_env):
    env = redis_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    coordinator = await coordinating_user(env, center_id, language_code="en")
    people = await residents(env, 2, center_id)
    await open_section(coordinator)
    [ask] = await coordinator.send_photo()
    assert ask.text.startswith("Now send the text to go with the photo")
    await coordinator.send("Tea on Friday")
    shown = await coordinator.press("⭐ The center's subscribers")
    summary = next(m for m in shown if (m.text or "").startswith("☝️"))
    assert "Recipients: 2" in summary.text
    await coordinator.press("📤 Send now", message_id=summary.message_id)
    await report(coordinator, "✅ Announcement sent", "Delivered: 2")
    [broadcast] = await broadcast_rows(env)
    assert broadcast.photo and broadcast.text == "Tea on Friday"
    for person in people:
        [copy] = await got(person, "Tea on Friday")
        assert copy.photo
