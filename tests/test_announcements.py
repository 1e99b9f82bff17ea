"""The weekly digest and new-activity announcements, from the jobs through the queue and the
sender to a user's chat. The jobs are called directly at moments set on the test clock."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.jobs import announcements_job, digest_job
from domain.announcements import DIGEST_LATE_LIMIT, digest_week
from handlers import announcements
from storage.announcements import digest_recipients, set_announce_categories
from storage.schema import activities, deliveries
from storage.series import insert_series, materialise
from tests.activity_helpers import add_activity, add_quiet_center, subscribed_user
from tests.helpers import center_id_by_external, eventually, nothing_in_chat

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # demo-ekb-1; UTC+5 all year
KYIV = ZoneInfo("Europe/Kyiv")  # demo-kyiv-1; summer time from the last Sunday of March


def at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, zone).astimezone(UTC)


def next_monday(env, zone: ZoneInfo) -> date:
    today = env.clock().astimezone(zone).date()
    return today + timedelta(days=7 - today.weekday())


async def add_at(env, starts_at: datetime, center="demo-ekb-1", **values) -> int:
    return await add_activity(
        env, center, in_hours=(starts_at - env.clock()) / timedelta(hours=1), **values
    )


async def run_digest(env) -> None:
    d = env.dispatcher
    await digest_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)


async def run_news(env) -> None:
    d = env.dispatcher
    await announcements_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)


async def in_chat(user, prefix: str, count: int = 1):
    async def arrived():
        found = [m for m in await user.messages() if (m.text or "").startswith(prefix)]
        return found if len(found) >= count else None

    return await eventually(arrived, seconds=5)


async def queued(env, kind: str) -> list:
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(deliveries).where(deliveries.c.kind == kind).order_by(deliveries.c.id)
        )
        return list(rows)


async def demo_already_announced(env) -> None:
    """The demo week counts as announced, as existing activities do after the migration:
    the tests see only the news they make."""
    async with env.db.write() as conn:
        await conn.execute(update(activities).values(announced_at=env.clock()))


DIGEST = "🗓 This week at"
NEWS = "🆕"


async def test_digest_arrives_monday_10_00_in_yekaterinburg_once_and_only_when_wanted(bot_env):
    env = bot_env
    monday = next_monday(env, YEKATERINBURG)
    env.clock.now = at_local(monday, time(9, 0), YEKATERINBURG) - timedelta(days=1)
    await add_at(env, at_local(monday, time(18, 0), YEKATERINBURG), title="Понедельничный клуб")
    await add_at(
        env, at_local(monday + timedelta(days=8), time(18, 0), YEKATERINBURG), title="Потом"
    )
    await add_quiet_center(env)
    reader = await subscribed_user(env, name="Reader")
    opted_out = await subscribed_user(env, name="Opted out")
    await opted_out.send("/settings")
    [edited] = await opted_out.press("✓ 📰 Weekly digest")
    assert edited.text.startswith("News from your centers") and "Weekly digest: off" in edited.text
    nothing_on = await subscribed_user(env, "test-quiet", name="Quiet")

    env.clock.now = at_local(monday, time(9, 59), YEKATERINBURG)
    await run_digest(env)
    assert await queued(env, "digest") == []

    env.clock.now = at_local(monday, time(10, 0), YEKATERINBURG)
    await run_digest(env)
    [digest] = await in_chat(reader, DIGEST)
    assert digest.text.startswith("🗓 This week at Соседи на Малышева")
    assert "\n18:00 Понедельничный клуб · 10 places left of 10" in digest.text
    assert "Потом" not in digest.text, "only this week"
    assert "Monday, " in digest.text and "weekly digest off in ⚙️ Settings" in digest.text
    assert digest.buttons == [["🗓 Activities"]]
    center_id = await center_id_by_external(env, "demo-ekb-1")
    [row] = await queued(env, "digest")
    assert row.dedup_key == f"digest:{reader.id}:{center_id}:{monday.isoformat()}"

    # The database itself leaves out who has this week's digest, and empty centers.
    week = digest_week(env.clock(), YEKATERINBURG)
    async with env.db.read() as conn:
        waiting = await digest_recipients(
            conn,
            zone="Asia/Yekaterinburg",
            monday=week.monday,
            digest_at=week.digest_at,
            now=env.clock(),
            week_ends_at=week.ends_at,
        )
    assert waiting == []

    for later in (timedelta(minutes=5), timedelta(hours=6)):
        env.clock.now = at_local(monday, time(10, 0), YEKATERINBURG) + later
        await run_digest(env)
    assert len(await queued(env, "digest")) == 1, "one digest per person, center and week"
    assert await nothing_in_chat(env, opted_out, DIGEST)
    assert await nothing_in_chat(env, nothing_on, DIGEST), "a center with nothing on sends none"


async def test_digest_in_kyiv_follows_the_clock_change(bot_env):
    env = bot_env
    before, after = date(2027, 3, 22), date(2027, 3, 29)  # the change: Sunday 28 March
    assert at_local(before, time(10), KYIV).hour == 8 and at_local(after, time(10), KYIV).hour == 7
    reader = await subscribed_user(env, "demo-kyiv-1", language_code="uk", name="Оксана")
    env.clock.now = at_local(before, time(9), KYIV) - timedelta(days=1)
    await add_at(env, at_local(date(2027, 3, 28), time(18), KYIV), "demo-kyiv-1", title="Недільний")
    await add_at(env, at_local(after, time(12), KYIV), "demo-kyiv-1", title="Новий тиждень")

    env.clock.now = datetime(2027, 3, 22, 7, 59, tzinfo=UTC)
    await run_digest(env)
    assert await queued(env, "digest") == []
    env.clock.now = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)  # 10:00 winter time
    await run_digest(env)
    [first] = await in_chat(reader, "🗓 Цього тижня")
    assert "Неділя, 28 березня\n18:00 Недільний" in first.text, "shown in summer time"
    assert "Новий тиждень" not in first.text

    env.clock.now = datetime(2027, 3, 29, 6, 59, tzinfo=UTC)
    await run_digest(env)
    assert len(await queued(env, "digest")) == 1
    env.clock.now = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # 10:00 summer time
    await run_digest(env)
    _, second = await in_chat(reader, "🗓 Цього тижня", 2)
    assert "12:00 Новий тиждень" in second.text and "Недільний" not in second.text
    keys = [row.dedup_key for row in await queued(env, "digest")]
    assert [key.rsplit(":", 1)[1] for key in keys] == ["2027-03-22", "2027-03-29"]


async def test_digest_after_downtime_waits_for_morning_and_one_over_a_day_late_is_skipped(
    bot_env,
):
    env = bot_env
    monday = next_monday(env, YEKATERINBURG)
    env.clock.now = at_local(monday, time(9), YEKATERINBURG) - timedelta(days=1)
    await add_at(env, at_local(monday + timedelta(days=2), time(18), YEKATERINBURG))
    await add_at(env, at_local(monday + timedelta(days=9), time(18), YEKATERINBURG))
    reader = await subscribed_user(env, name="Reader")

    # Down from before 10:00 to 23:30: the digest is queued, and held for the quiet hours.
    env.clock.now = at_local(monday, time(23, 30), YEKATERINBURG)
    await run_digest(env)
    [row] = await queued(env, "digest")
    assert row.next_attempt_at == at_local(monday + timedelta(days=1), time(8), YEKATERINBURG)
    assert await nothing_in_chat(env, reader, DIGEST)
    env.clock.now = row.next_attempt_at
    env.dispatcher["sender"].notify()
    [digest] = await in_chat(reader, DIGEST)
    assert "Wednesday, " in digest.text

    # The next week the bot is down for more than a day after Monday 10:00: no digest.
    next_week = monday + timedelta(days=7)
    late = at_local(next_week, time(10), YEKATERINBURG) + DIGEST_LATE_LIMIT
    assert digest_week(late - timedelta(minutes=1), YEKATERINBURG) is not None
    env.clock.now = late
    await run_digest(env)
    assert len(await queued(env, "digest")) == 1


async def test_new_activity_is_announced_once_to_those_whose_categories_match(bot_env):
    env = bot_env
    await demo_already_announced(env)
    await add_quiet_center(env)
    today = env.clock().astimezone(YEKATERINBURG).date()
    env.clock.now = at_local(today, time(12), YEKATERINBURG)
    anyone = await subscribed_user(env, "test-quiet", name="Anyone")
    no_seniors = await subscribed_user(env, "test-quiet", name="No seniors")
    await no_seniors.send("/settings")
    await no_seniors.press("✓ 🧓 Seniors")
    nothing = await subscribed_user(env, "test-quiet", name="Nothing")
    async with env.db.write() as conn:
        await set_announce_categories(conn, nothing.id, "")

    seniors_id = await add_activity(env, "test-quiet", in_hours=30, title="Для старших")
    await run_news(env)
    [news] = await in_chat(anyone, NEWS)
    assert news.text.startswith("🆕 A new activity at your centers")
    assert "Для старших — Тихий центр" in news.text
    [[open_button]] = news.buttons
    [card] = await anyone.press(open_button, message_id=news.message_id)
    assert card.text.startswith("Для старших")
    assert await nothing_in_chat(env, no_seniors, NEWS)
    assert await nothing_in_chat(env, nothing, NEWS)

    env.clock.advance(days=1)
    await add_activity(env, "test-quiet", in_hours=50, title="Вязание", category="crafts")
    await run_news(env)
    await run_news(env)
    [crafts] = await in_chat(no_seniors, NEWS)
    assert "Вязание" in crafts.text and "Для старших" not in crafts.text
    assert len(await in_chat(anyone, NEWS, 2)) == 2
    assert len(await queued(env, "announcement")) == 3, "each announced once"

    # At most one news message per person and day: a third activity the same day is shown
    # in 🗓 Activities, and marked announced without another message.
    third_id = await add_activity(
        env, "test-quiet", in_hours=60, title="Ещё одно", category="crafts"
    )
    await run_news(env)
    assert len(await queued(env, "announcement")) == 3
    async with env.db.read() as conn:
        marked = await conn.scalars(
            select(activities.c.announced_at).where(activities.c.id.in_([seniors_id, third_id]))
        )
        assert None not in marked.all()


async def test_new_activities_wait_out_the_quiet_hours(bot_env):
    env = bot_env
    await demo_already_announced(env)
    await add_quiet_center(env)
    today = env.clock().astimezone(YEKATERINBURG).date()
    env.clock.now = at_local(today, time(12), YEKATERINBURG)
    owl = await subscribed_user(env, "test-quiet", name="Owl")
    env.clock.now = at_local(today, time(23), YEKATERINBURG)
    await add_activity(env, "test-quiet", in_hours=40, title="Ночная новость")
    await run_news(env)
    [row] = await queued(env, "announcement")
    morning = at_local(today + timedelta(days=1), time(8), YEKATERINBURG)
    assert row.next_attempt_at == morning
    assert await nothing_in_chat(env, owl, NEWS)
    env.clock.now = morning
    env.dispatcher["sender"].notify()
    [news] = await in_chat(owl, NEWS)
    assert "Ночная новость" in news.text


async def test_a_bulk_of_20_new_activities_makes_one_message_per_person(bot_env, monkeypatch):
    env = bot_env
    # Batches of 6: one run works through all of them, still one message per person.
    monkeypatch.setattr(announcements, "ANNOUNCE_BATCH", 6)
    await demo_already_announced(env)
    await add_quiet_center(env)
    today = env.clock().astimezone(YEKATERINBURG).date()
    env.clock.now = at_local(today, time(12), YEKATERINBURG)
    people = [await subscribed_user(env, "test-quiet", name=f"P{n}") for n in range(3)]
    for n in range(20):
        await add_activity(env, "test-quiet", in_hours=24 + n, title=f"Занятие {n:02}")
    await run_news(env)
    await run_news(env)
    for person in people:
        [news] = await in_chat(person, NEWS)
        assert news.text.startswith("🆕 New activities at your centers")
        assert "Занятие 00" in news.text and "Занятие 04" in news.text
        assert "Занятие 05" not in news.text
        assert "…and 1 more activity" in news.text, "the first batch's six; the rest: 🗓"
        assert len(news.buttons) == 6 and news.buttons[-1] == ["🗓 Activities"]
    assert len(await queued(env, "announcement")) == 3
    async with env.db.read() as conn:
        left = await conn.scalar(
            select(activities.c.id).where(activities.c.announced_at.is_(None)).limit(1)
        )
    assert left is None


async def test_a_weekly_series_is_news_once_not_every_week(bot_env):
    env = bot_env
    await demo_already_announced(env)
    await add_quiet_center(env)
    today = env.clock().astimezone(YEKATERINBURG).date()
    env.clock.now = at_local(today, time(12), YEKATERINBURG)
    walker = await subscribed_user(env, "test-quiet", name="Walker")
    center_id = await center_id_by_external(env, "test-quiet")
    async with env.db.write() as conn:
        series_id = await insert_series(
            conn,
            center_id=center_id,
            title="Прогулка",
            category="sport",
            weekdays="1,4",
            local_time="11:00",
            duration_minutes=60,
            first_date=today,
            created_at=env.clock(),
        )
        assert await materialise(conn, today_utc=env.clock(), series_ids=[series_id]) >= 8
    await run_news(env)
    [news] = await in_chat(walker, NEWS)
    assert news.text.startswith("🆕 A new activity") and news.text.count("Прогулка") == 1

    env.clock.advance(days=7)
    async with env.db.write() as conn:
        assert await materialise(conn, today_utc=env.clock(), series_ids=[series_id]) >= 1
    await run_news(env)
    assert len(await queued(env, "announcement")) == 1, "a new week of it is not news"
    async with env.db.read() as conn:
        unmarked = await conn.scalar(
            select(activities.c.id)
            .where(activities.c.series_id == series_id, activities.c.announced_at.is_(None))
            .limit(1)
        )
    assert unmarked is None
