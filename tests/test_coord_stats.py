"""A center's figures: the weeks, the rates, the SQL aggregates, the table and the chart."""

import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from domain.chart import CHART_SIZE, BarChart, Series, nice_ceiling, render_bar_chart
from domain.stats import Figures, last_weeks, percent, rate, text_table, total
from handlers.callbacks import CoordMenuCb, CoordSection
from storage.stats import center_stats
from tests.activity_helpers import add_quiet_center
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    revoke_coordinator,
)
from tests.stats_helpers import build_month


def test_four_weeks_of_local_days_ending_now():
    now = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 20:30 in Yekaterinburg (UTC+5)
    weeks = last_weeks(now, "Asia/Yekaterinburg")
    assert [w.first_day.isoformat() for w in weeks] == [
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
    ]
    assert weeks[0].start == datetime(2026, 10, 25, 19, 0, tzinfo=UTC)  # local midnight
    assert weeks[-1].end == now
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))

    # Across the end of summer time a week is still seven local days (and 169 hours).
    kyiv = last_weeks(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), "Europe/Kyiv", count=2)
    assert kyiv[0].first_day.isoformat() == "2026-10-19"
    assert kyiv[1].start - kyiv[0].start == timedelta(hours=169)


def test_rates_and_totals():
    week = Figures(signups=10, present=6, absent=2, waited=4, seated=1, volunteer_seconds=5400)
    assert week.attendance_rate == 0.75
    assert week.no_show_rate == 0.25
    assert week.waitlist_conversion == 0.25
    assert week.volunteer_hours == 1.5
    assert Figures().attendance_rate is None, "no roll call taken: no rate, not 0 %"
    assert rate(1, 0) is None
    assert percent(None) == "—" and percent(2 / 3) == "67%"
    both = total([week, Figures(signups=1, present=2, new_subscribers=3)])
    assert (both.signups, both.present, both.marked, both.new_subscribers) == (11, 8, 10, 3)


def test_text_table_lines_up():
    table = text_table(["02.11", "09.11"], [("Sign-ups", ["3", "12"]), ("No-shows", ["—", "50%"])])
    assert table == "         02.11 09.11\nSign-ups     3    12\nNo-shows     —   50%"


def test_chart_axis_and_image():
    assert nice_ceiling(0) == (1, 1)
    assert nice_ceiling(3) == (3, 1)
    assert nice_ceiling(7) == (8, 2)
    assert nice_ceiling(100) == (100, 20)
    assert nice_ceiling(101) == (150, 50)
    png = render_bar_chart(
        BarChart(
            "Записи и посещаемость",
            ["26.10", "02.11", "09.11", "16.11"],
            [Series("Записались", [2, 0, 3, 0]), Series("Пришли", [1, 0, 3, 0])],
            "Неделя с",
            "Человек",
        )
    )
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", CHART_SIZE)


@pytest.fixture
async def month(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, await add_quiet_center(env))
    other_id = await center_id_by_external(env, "demo-ekb-2")
    built = await build_month(env, center_id, other_id)
    return env, center_id, other_id, built


async def test_the_weeks_figures_from_the_database(month):
    env, center_id, _other_id, built = month
    async with env.db.read() as conn:
        stats = await center_stats(conn, center_id, built.weeks)
    figures = [f for _week, f in stats.weeks]
    assert figures[0] == Figures(
        activities=1,
        signups=2,
        present=1,
        absent=1,
        waited=2,
        seated=1,
        volunteer_seconds=7200,
        new_subscribers=1,
    )
    assert figures[1] == Figures(), "a cancelled activity was not held"
    assert figures[2] == Figures(activities=1, signups=3, present=3, new_subscribers=1)
    assert figures[3] == Figures(), "what starts later today is not counted yet"
    assert (stats.subscribers, stats.ratings, stats.rating_average) == (3, 2, 4.5)


async def test_the_coordinator_reads_the_table_and_gets_the_chart(month):
    env, center_id, _other_id, built = month
    olga = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    [menu] = await olga.send("/coord")
    shown, photo = await olga.press("📊 Figures", message_id=menu.message_id)
    assert shown.message_id == menu.message_id, "the menu turns into the figures"
    text = shown.text
    assert text.startswith("📊 Figures: Тихий центр")
    assert "Subscribers: 3 (new in these weeks: 2)" in text
    assert "Average rating: 4.5 (2 ratings)" in text
    assert (
        "In all: 5 sign-ups, attendance 80%, no-shows 20%, waitlist conversion 50%, "
        "volunteer hours 2." in text
    )
    days = [f"{w.first_day:%d.%m}" for w in built.weeks]
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if days[0] in line and days[-1] in line)
    table = lines[start : start + 7]
    assert table[0].split() == days
    assert table[1].split() == ["Sign-ups", "2", "0", "3", "0"]
    assert table[2].split() == ["Attended", "50%", "—", "100%", "—"]
    assert table[3].split() == ["No-shows", "50%", "—", "0%", "—"]
    assert table[4].split() == ["Waitlist", "50%", "—", "—", "—"]
    assert table[5].split() == ["Vol.", "hours", "2", "0", "0", "0"]
    assert table[6].split() == ["New", "subs", "1", "0", "1", "0"]
    assert shown.buttons == [["‹ Menu"]]
    assert photo.photo, "the chart comes as a photo"
    assert photo.caption == "Тихий центр: sign-ups and attendance by week"
    png = await env.tg.file_bytes(photo.photo[-1]["file_id"])
    assert Image.open(io.BytesIO(png)).size == CHART_SIZE


async def test_figures_in_russian(month):
    env, center_id, _other_id, _built = month
    olga = await coordinating_user(env, center_id)
    [menu] = await olga.send("/coord")
    shown, _photo = await olga.press("📊 Цифры", message_id=menu.message_id)
    assert "Подписчики: 3" in shown.text


async def test_who_may_not_read_the_figures_is_refused(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    other_id = await center_id_by_external(env, "demo-ekb-2")
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    other = await coordinating_user(env, other_id, first_name="Oleg", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Vera", language_code="en")
    [menu] = await revoked.send("/coord")
    await revoke_coordinator(env, revoked, center_id)
    before = await env.rows()

    button = CoordMenuCb(section=CoordSection.STATS, center_id=center_id).pack()
    forged = {
        resident: [button, CoordMenuCb(section=CoordSection.STATS, center_id=999_999).pack()],
        other: [button],
    }
    for user, presses in forged.items():
        last = await user.last_bot_message()
        for data in presses:
            await user.callback(last.message_id, data)
        answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(user.id)}
        for data in presses:
            assert answers[data]["text"] == "Only this center's coordinators can do that.", data
    [] = await revoked.press("📊 Figures", message_id=menu.message_id)
    answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(revoked.id)}
    assert answers[button]["text"] == "Only this center's coordinators can do that."
    for user in (resident, other, revoked):
        messages = await user.messages()
        assert not [m for m in messages if m.photo or "Figures:" in (m.text or "")]
    assert await env.rows() == before
