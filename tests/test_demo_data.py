"""The demo centers: loadable, idempotent, placed in the right cities and time zones."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.demo import demo_rows, load_demo_data
from domain.center_rows import MAX_LENGTHS
from domain.geo import brute_force_nearest, haversine_m
from domain.timezones import is_valid_timezone
from storage.centers import count_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import centers

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
