"""The demo centers: loadable, idempotent, placed in the right cities and time zones."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.demo import DEMO_CENTERS, DEMO_WEEKS, demo_rows, load_demo_activities, load_demo_data
from domain.center_rows import MAX_LENGTHS
from domain.geo import brute_force_nearest, haversine_m
from domain.timezones import is_valid_timezone
from storage.centers import count_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import activities, activity_series, centers

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

# Local spelling of every city the programme runs in, with its expected zone.
CITY_ZONES = {
    "Москва": "Europe/Moscow",
    "Санкт-Петербург": "Europe/Moscow",
    "Екатеринбург": "Asia/Yekaterinburg",
    "Каменск-Уральский": "Asia/Yekaterinburg",
    "Новокузнецк": "Asia/Novokuznetsk",
    "Кемерово": "Asia/Novokuznetsk",
    "Красноярск": "Asia/Krasnoyarsk",
    "Ачинск": "Asia/Krasnoyarsk",
    "Саяногорск": "Asia/Krasnoyarsk",
    "Владивосток": "Asia/Vladivostok",
    "Холмск": "Asia/Sakhalin",
    "Севастополь": "Europe/Simferopol",
    "Полтава": "Europe/Kyiv",
    "Миргород": "Europe/Kyiv",
    "Калининград": "Europe/Kaliningrad",
    "Казань": "Europe/Moscow",
    "Новосибирск": "Asia/Novosibirsk",
    "Київ": "Europe/Kyiv",
}


@pytest.fixture
async def db(tmp_path):
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await upgrade(database)
    yield database
    await database.close()


async def stored(db: Database) -> dict[str, dict]:
    async with db.read() as conn:
        rows = await conn.execute(select(centers))
        return {row.external_id: row._asdict() for row in rows}


async def test_loads_a_realistic_number_of_centers(db):
    written = await load_demo_data(db, now=NOW)

    assert 40 <= written <= 60
    async with db.read() as conn:
        assert await count_centers(conn) == written


async def test_second_run_changes_nothing_but_updated_at(db):
    await load_demo_data(db, now=NOW)
    first = await stored(db)
    later = NOW + timedelta(days=1)

    await load_demo_data(db, now=later)

    second = await stored(db)
    assert second.keys() == first.keys()
    for external_id, row in second.items():
        assert row["updated_at"] == later
        assert {**row, "updated_at": NOW} == first[external_id]


async def test_every_city_present_in_its_time_zone(db):
    await load_demo_data(db, now=NOW)

    zones_by_city = defaultdict(set)
    for row in (await stored(db)).values():
        zones_by_city[row["city"]].add(row["timezone"])
    assert zones_by_city == {city: {zone} for city, zone in CITY_ZONES.items()}


def test_external_ids_are_stable_and_unique():
    ids = [row["external_id"] for row in demo_rows()]
    assert len(ids) == len(set(ids))
    assert "demo-ekb-1" in ids
    assert all(external_id.startswith("demo-") for external_id in ids)


def test_rows_fit_the_schema():
    for row in demo_rows():
        for column, limit in MAX_LENGTHS.items():
            assert row[column] is None or len(row[column]) <= limit, (row["external_id"], column)
        assert is_valid_timezone(row["timezone"])
        assert row["opening_hours"]


def test_local_language_and_phone_format():
    for row in demo_rows():
        if row["timezone"] == "Europe/Kyiv":
            assert row["phone"].startswith("+380 (")
            assert row["name"].startswith("Сусіди ")
            assert "вс" not in row["opening_hours"]
        else:
            assert row["phone"].startswith("+7 (")
            assert row["name"].startswith("Соседи ")
            assert "нд" not in row["opening_hours"]
        assert re.fullmatch(r"\+\d+ \(\d{2,5}\) [\d-]{7,9}", row["phone"]), row["phone"]


def test_centers_of_a_city_are_close_together_but_not_on_top_of_each_other():
    by_city = defaultdict(list)
    for row in demo_rows():
        by_city[row["city"]].append((row["latitude"], row["longitude"]))
    for city, points in by_city.items():
        for i, (lat, lon) in enumerate(points):
            for other_lat, other_lon in points[i + 1 :]:
                distance = haversine_m(lat, lon, other_lat, other_lon)
                assert 300 < distance < 40_000, city  # Moscow spans ~40 km


def test_nearest_order_is_meaningful_within_a_big_city():
    rows = demo_rows()
    points = [(n, row["latitude"], row["longitude"]) for n, row in enumerate(rows)]
    # From Yekaterinburg's main square, the five nearest centers are all in Yekaterinburg.
    nearest = brute_force_nearest(points, 56.8380, 60.5970, 5)
    assert {rows[n]["city"] for _distance, n in nearest} == {"Екатеринбург"}
    distances = [distance for distance, _n in nearest]
    assert distances[-1] > 3 * distances[0]


# ---- a week of activities ---------------------------------------------------------------


async def demo_activities(db: Database) -> list[dict]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(activities, centers.c.external_id.label("center"), centers.c.timezone)
            .join(centers, centers.c.id == activities.c.center_id)
            .order_by(activities.c.starts_at, activities.c.id)
        )
        return [row._asdict() for row in rows]


def one_offs(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row["series_id"] is None]


def by_center(rows: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["center"]].append(row)
    return grouped


def local_slot(row: dict) -> tuple[int, str]:
    moment = row["starts_at"].astimezone(ZoneInfo(row["timezone"]))
    return moment.isoweekday(), f"{moment:%H:%M}"


async def test_every_center_gets_a_week_of_activities_and_shifts(db):
    await load_demo_data(db, now=NOW)
    rows = await demo_activities(db)
    week = by_center(one_offs(rows))
    center_ids = {row["external_id"] for row in demo_rows()}

    assert set(week) == center_ids
    for center, activities_ in week.items():
        assert 5 <= len(activities_) <= 8, center
        assert all(NOW < a["starts_at"] <= NOW + timedelta(days=7) for a in activities_)
        shifts = [a for a in activities_ if a["volunteer_places"] > 0]
        assert 1 <= len(shifts) <= 3, center
        assert all(a["volunteer_role"] for a in shifts)
        assert len({a["category"] for a in activities_}) >= 4, center
        assert len({a["starts_at"] for a in activities_}) == len(activities_)
        hours = {a["starts_at"].astimezone(ZoneInfo(a["timezone"])).hour for a in activities_}
        assert min(hours) < 13 and max(hours) >= 16, center  # mornings and evenings
    everything = one_offs(rows)
    capacities = {a["capacity"] for a in everything if a["accepts_participants"]}
    assert None in capacities
    assert all(8 <= c <= 30 for c in capacities if c is not None)
    # Pure shifts take no participants; some shifts are open to participants as well.
    assert any(not a["accepts_participants"] and a["capacity"] == 0 for a in everything)
    assert any(a["accepts_participants"] and a["volunteer_places"] for a in everything)
    kids = [a for a in everything if a["category"] == "children"]
    assert kids and {a["max_companions"] for a in kids} == {2}
    assert all(a["ends_at"] > a["starts_at"] for a in rows)


async def test_every_center_has_a_weekly_walking_group_four_weeks_ahead(db):
    await load_demo_data(db, now=NOW)
    async with db.read() as conn:
        series = (await conn.execute(select(activity_series))).all()
    assert len(series) == len(demo_rows())
    occurrences = [row for row in await demo_activities(db) if row["series_id"] is not None]
    per_series = defaultdict(list)
    for row in occurrences:
        per_series[row["series_id"]].append(row)
    assert set(per_series) == {s.id for s in series}
    for rows in per_series.values():
        assert 7 <= len(rows) <= 9  # two days a week, four weeks ahead
        assert max(r["starts_at"] for r in rows) <= NOW + timedelta(weeks=4, days=1)
        assert {r["category"] for r in rows} == {"sport"}
        assert len({local_slot(r)[1] for r in rows}) == 1


async def test_demo_activities_are_idempotent(db):
    await load_demo_data(db, now=NOW)
    first = await demo_activities(db)

    async with db.write() as conn:
        assert await load_demo_activities(conn, now=NOW) == 0
    assert await demo_activities(db) == first
    assert await load_demo_data(db, now=NOW + timedelta(minutes=5)) == len(demo_rows())
    assert len(await demo_activities(db)) == len(first)


async def test_a_later_day_adds_the_new_days_without_duplicates(db):
    await load_demo_data(db, now=NOW)
    first = {row["external_id"] or row["id"]: row for row in await demo_activities(db)}
    later = NOW + timedelta(days=1)

    await load_demo_data(db, now=later)

    second = await demo_activities(db)
    # Nothing duplicated: one row per center, time and kind.
    slots = [(r["center_id"], r["starts_at"], r["title"]) for r in second]
    assert len(slots) == len(set(slots))
    kept = {row["external_id"] or row["id"]: row for row in second}
    assert set(first) <= set(kept)
    assert all(kept[key] == row for key, row in first.items())
    added = one_offs([row for key, row in kept.items() if key not in first])
    assert added
    assert all(NOW + timedelta(days=7) < a["starts_at"] <= later + timedelta(days=7) for a in added)
    # The coming week from the later day is as full as the first one was.
    for center, rows in by_center(one_offs(second)).items():
        upcoming = [r for r in rows if later < r["starts_at"] <= later + timedelta(days=7)]
        assert 5 <= len(upcoming) <= 8, center


@pytest.mark.parametrize(
    ("city", "zone"), [("vvo", "Asia/Vladivostok"), ("kgd", "Europe/Kaliningrad")]
)
async def test_local_times_are_the_centers_own(db, city, zone):
    await load_demo_data(db, now=NOW)
    rows = await demo_activities(db)
    centers_ = {row["external_id"]: row for row in demo_rows()}
    for center, activities_ in by_center(one_offs(rows)).items():
        if not center.startswith(f"demo-{city}-"):
            continue
        assert {a["timezone"] for a in activities_} == {zone}
        number = int(center.rsplit("-", 1)[1])
        hours = DEMO_CENTERS[city][number - 1][4]
        week = "short" if hours in ("W", "S") else "b" if number % 2 == 0 else "a"
        slots, _walk = DEMO_WEEKS[week]
        assert sorted(local_slot(a) for a in activities_) == sorted(
            (weekday, start) for weekday, start, _kind, _helpers in slots
        )
        for activity in activities_:
            local_date = activity["starts_at"].astimezone(ZoneInfo(zone)).date()
            assert f"-{local_date:%Y%m%d}-" in activity["external_id"]
        assert centers_[center]["timezone"] == zone


async def test_vladivostok_evening_is_morning_in_utc(db):
    await load_demo_data(db, now=NOW)
    rows = [r for r in one_offs(await demo_activities(db)) if r["center"] == "demo-vvo-1"]
    english = [r for r in rows if r["title"] == "Английский для начинающих"]
    assert len(english) == 1
    assert local_slot(english[0]) == (1, "18:30")
    assert english[0]["starts_at"].astimezone(UTC).time() == time(8, 30)


async def test_titles_are_in_the_centers_language(db):
    await load_demo_data(db, now=NOW)
    for row in await demo_activities(db):
        ukrainian = row["timezone"] == "Europe/Kyiv"
        text = row["title"] + row["description"] + (row["volunteer_role"] or "")
        assert bool(re.search("[іїєґІЇЄ]", text)) == ukrainian, row["title"]
        if ukrainian:
            assert not re.search("[ыэъёЫЭЪЁ]", text), row["title"]
