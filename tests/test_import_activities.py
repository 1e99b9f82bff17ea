"""Activities CSV import and the materialising of weekly series: bad rows, local times,
idempotent upserts that never take a place away from anyone."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.activity_importer import import_activities
from domain.activity_rows import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ActivityRow
from storage.activities import insert_activity
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import activities, activity_series, centers, signups, users
from storage.series import centers_by_external_id, insert_series, materialise

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # Sunday; 12:00 in Moscow, 19:00 in Vladivostok
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
HEADER = ",".join(COLUMNS) + "\n"

CENTERS = [
    ("msk-1", "Соседи на Тверской", 55.7616, 37.6094, "Europe/Moscow"),
    ("vvo-1", "Соседи на Светланской", 43.1163, 131.8879, "Asia/Vladivostok"),
    ("kyiv-1", "Сусіди на Хрещатику", 50.4481, 30.5219, "Europe/Kyiv"),
]


def row(external_id: str, center: str = "msk-1", **values: str) -> str:
    fields = {
        "external_id": external_id,
        "center_external_id": center,
        "title": "Шахматный клуб",
        "category": "other",
        "date": "2026-11-25",
        "start": "18:00",
        "duration_minutes": "120",
    }
    fields.update(values)
    return ",".join(_quote(fields.get(name, "")) for name in COLUMNS) + "\n"


def _quote(value: str) -> str:
    return f'"{value}"' if "," in value else value


GOOD = (
    HEADER
    + row("chess-1", description="Партии и задачи", place_note="Малый зал", capacity="12")
    + row("kids-1", "vvo-1", title="Мастерская для детей", category="children",
          date="2026-11-24", start="09:30", duration_minutes="60", capacity="16",
          max_companions="2")
    + row("hall-1", title="Подготовка зала", date="2026-11-26", start="17:15",
          duration_minutes="45", capacity="0", volunteer_role="Подготовка зала",
          volunteer_places="2")
    + row("lecture-1", "kyiv-1", title="Лекція", category="lectures", date="2026-11-26",
          duration_minutes="60", volunteer_role="Зустріч гостей", volunteer_places="2")
    + row("walk-1", title="Скандинавская ходьба", category="sport", date="2026-11-24",
          start="10:00", duration_minutes="60", capacity="15", repeat_weekdays="2,4")
    + row("eng-1", "kyiv-1", title="Англійська", category="lectures", date="2026-11-23",
          start="18:30", duration_minutes="60", capacity="12", repeat_weekdays="1",
          every_weeks="2", until="2026-12-31")
)  # fmt: skip


@pytest.fixture
async def db(tmp_path):
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await upgrade(database)
    rows = [
        {
            "external_id": external_id,
            "name": name,
            "address": "ул. Примерная, 1",
            "city": "Город",
            "region": None,
            "latitude": latitude,
            "longitude": longitude,
            "timezone": zone,
            "opening_hours": None,
            "phone": None,
        }
        for external_id, name, latitude, longitude, zone in CENTERS
    ]
    async with database.write() as conn:
        await upsert_centers(conn, rows, now=NOW)
    yield database
    await database.close()


def write_csv(tmp_path: Path, text: str, name: str = "activities.csv", bom: bool = False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


async def run_import(db: Database, tmp_path: Path, text: str, now: datetime = NOW):
    out = io.StringIO()
    report = await import_activities(db, write_csv(tmp_path, text), now=now, out=out)
    return report, out.getvalue()


async def one_offs(db: Database) -> dict[str, dict]:
    async with db.read() as conn:
        rows = await conn.execute(select(activities).where(activities.c.series_id.is_(None)))
        return {row.external_id: row._asdict() for row in rows}


async def occurrences_of(db: Database, external_id: str) -> list[dict]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(activities)
            .join(activity_series, activity_series.c.id == activities.c.series_id)
            .where(activity_series.c.external_id == external_id)
            .order_by(activities.c.starts_at)
        )
        return [row._asdict() for row in rows]


async def count(db: Database, table) -> int:
    async with db.read() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


# ---- a good file ------------------------------------------------------------------------


async def test_good_file_imports_activities_shifts_and_series(db, tmp_path):
    report, output = await run_import(db, tmp_path, GOOD)

    assert report.ok, output
    assert (report.written, report.inserted, report.updated) == (6, 6, 0)
    # walk-1: Tue/Thu from 24 Nov to 20 Dec (8); eng-1: every other Monday, 23 Nov and 7 Dec.
    assert report.occurrences == 10
    assert (
        "6 imported (6 new, 0 updated), 0 rejected; "
        "10 upcoming occurrences of weekly series created" in output
    )
    stored = await one_offs(db)
    assert set(stored) == {"chess-1", "kids-1", "hall-1", "lecture-1"}

    chess = stored["chess-1"]
    assert chess["starts_at"] == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert chess["ends_at"] == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert (chess["title"], chess["category"], chess["description"]) == (
        "Шахматный клуб",
        "other",
        "Партии и задачи",
    )
    assert (chess["place_note"], chess["capacity"], chess["max_companions"]) == ("Малый зал", 12, 0)
    assert chess["accepts_participants"] is True
    assert (chess["volunteer_role"], chess["volunteer_places"]) == (None, 0)
    assert chess["status"] == "scheduled"

    kids = stored["kids-1"]  # 09:30 in Vladivostok is 23:30 UTC the day before
    assert kids["starts_at"] == datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert local(kids["starts_at"], "Asia/Vladivostok").time() == time(9, 30)
    assert kids["max_companions"] == 2

    hall = stored["hall-1"]  # capacity 0: a shift for volunteers only
    assert (hall["accepts_participants"], hall["capacity"]) == (False, 0)
    assert (hall["volunteer_role"], hall["volunteer_places"]) == ("Подготовка зала", 2)

    lecture = stored["lecture-1"]  # empty capacity: unlimited; Kyiv is UTC+2 in winter
    assert (lecture["capacity"], lecture["accepts_participants"]) == (None, True)
    assert lecture["starts_at"] == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert lecture["volunteer_places"] == 2

    walks = await occurrences_of(db, "walk-1")
    assert [local(w["starts_at"], "Europe/Moscow").date() for w in walks] == [
        date(2026, 11, 24), date(2026, 11, 26), date(2026, 12, 1), date(2026, 12, 3),
        date(2026, 12, 8), date(2026, 12, 10), date(2026, 12, 15), date(2026, 12, 17),
    ]  # fmt: skip
    assert {local(w["starts_at"], "Europe/Moscow").time() for w in walks} == {time(10)}
    assert {(w["title"], w["capacity"], w["category"]) for w in walks} == {
        ("Скандинавская ходьба", 15, "sport")
    }
    english = await occurrences_of(db, "eng-1")
    assert [e["starts_at"] for e in english] == [
        datetime(2026, 11, 23, 16, 30, tzinfo=UTC),
        datetime(2026, 12, 7, 16, 30, tzinfo=UTC),
    ]
    async with db.read() as conn:
        series = {s.external_id: s for s in await conn.execute(select(activity_series))}
    assert (series["walk-1"].weekdays, series["walk-1"].local_time) == ("2,4", "10:00")
    assert (series["eng-1"].every_weeks, series["eng-1"].last_date) == (2, date(2026, 12, 31))


async def test_importing_again_adds_nothing(db, tmp_path):
    await run_import(db, tmp_path, GOOD)
    before = await one_offs(db)
    total = await count(db, activities)

    report, output = await run_import(db, tmp_path, GOOD)

    assert report.ok
    assert (report.inserted, report.updated, report.occurrences) == (0, 6, 0)
    assert "6 imported (0 new, 6 updated), 0 rejected; 0 upcoming" in output
    assert await count(db, activities) == total
    assert await count(db, activity_series) == 2
    assert {k: v["id"] for k, v in (await one_offs(db)).items()} == {
        k: v["id"] for k, v in before.items()
    }


async def test_semicolons_bom_and_spreadsheet_leniency(db, tmp_path):
    text = (
        "External_ID;Center_External_ID;Title;Category;Date;Start;Duration_Minutes;Notes\r\n"
        "a-1;msk-1;Лепка;Crafts;2026-11-28;9:30;90;принести фартук\r\n"
        "a-2;msk-1;Ходьба;sport;2026-11-24;10:00:00;60;\r\n"
    )
    report, output = await run_import(db, tmp_path, text)
    assert report.ok, output
    stored = await one_offs(db)
    assert stored["a-1"]["category"] == "crafts"
    assert local(stored["a-1"]["starts_at"], "Europe/Moscow").time() == time(9, 30)
    assert local(stored["a-2"]["starts_at"], "Europe/Moscow").time() == time(10, 0)


# ---- bad rows ---------------------------------------------------------------------------


async def test_each_kind_of_bad_row_is_reported_with_its_line(db, tmp_path):
    text = (
        HEADER  # line 1
        + row("ok-1")  # 2
        + row("bad-1", "")  # 3
        + row("bad-2", "msk-99")  # 4
        + row("bad-3", date="2026-11-31")  # 5
        + row("bad-4", date="25.11.2026", start="25:00")  # 6
        + row("bad-5", date="2026-11-22", start="11:00")  # 7: 12:00 in Moscow now
        + row("bad-6", category="games")  # 8
        + row("bad-7", duration_minutes="10", capacity="-1", max_companions="11")  # 9
        + row("bad-8", duration_minutes="two hours", volunteer_places="3")  # 10
        + row("ok-1", date="2026-11-26")  # 11
        + row("bad-9", repeat_weekdays="1,8", every_weeks="3")  # 12
        + row("bad-10", until="2026-12-01")  # 13
        + row("bad-11", repeat_weekdays="2", date="2026-11-24", until="2026-11-20")  # 14
        + row("bad-12", capacity="0")  # 15
        + "bad-13,msk-1,Шахматы,other,2026-11-25,18:00\n"  # 16
        + row("bad-14", title="", volunteer_role="Помощь")  # 17
        + row("bad-15", repeat_weekdays="2", date="2026-11-01", until="2026-11-20")  # 18
        + row("ok-2", "vvo-1", repeat_weekdays="2")  # 19
        + row("bad-16", repeat_weekdays="3", date="2026-11-24", until="2026-11-24")  # 20
        + row("bad-17", duration_minutes="721", volunteer_places="101", volunteer_role="Р")  # 21
        + row("bad-18", "vvo-1", date="2026-11-22", start="18:59")  # 22: 19:00 there now
        + row("ok-3", "vvo-1", date="2026-11-22", start="19:01")  # 23
        + row("bad-19", category="games", date="2026-11-21")  # 24
    )
    report, output = await run_import(db, tmp_path, text)

    categories = "children, seniors, crafts, sport, lectures, ecology, charity, other"
    expected = {
        3: "missing center_external_id",
        4: "unknown center 'msk-99'",
        5: "date '2026-11-31' is not a date (YYYY-MM-DD)",
        6: "date '25.11.2026' is not a date (YYYY-MM-DD); start '25:00' is not a time (HH:MM)",
        7: "2026-11-22 11:00 is in the past (Europe/Moscow)",
        8: f"unknown category 'games' (one of {categories})",
        9: "duration_minutes 10 is outside 15..720; capacity -1 is outside 0..10000; "
        "max_companions 11 is outside 0..10",
        10: "duration_minutes 'two hours' is not a whole number; "
        "volunteer_places 3 needs a volunteer_role",
        11: "duplicate external_id 'ok-1' (first on line 2)",
        12: "repeat_weekdays '1,8' is not a list of ISO weekdays 1..7 (such as 1,3); "
        "every_weeks '3' must be 1 or 2",
        13: "until is only for a series (fill in repeat_weekdays)",
        14: "until 2026-11-20 is before date 2026-11-24",
        15: "capacity 0 and no volunteer_places: nobody could sign up",
        16: f"expected {len(COLUMNS)} fields, found 6",
        17: "missing title; volunteer_role needs volunteer_places of 1 or more",
        18: "until 2026-11-20 is in the past (Europe/Moscow)",
        20: "no date from 2026-11-24 to 2026-11-24 falls on repeat_weekdays",
        21: "duration_minutes 721 is outside 15..720; volunteer_places 101 is outside 0..100",
        22: "2026-11-22 18:59 is in the past (Asia/Vladivostok)",
        24: f"unknown category 'games' (one of {categories}); "
        "2026-11-21 18:00 is in the past (Europe/Moscow)",
    }
    assert {r.line: r.reason for r in report.rejected} == expected
    assert not report.ok
    assert (report.written, report.inserted) == (3, 3)
    assert set(await one_offs(db)) == {"ok-1", "ok-3"}
    assert await count(db, activity_series) == 1
    assert f"3 imported (3 new, 0 updated), {len(expected)} rejected" in output
    for line, reason in expected.items():
        assert f"line {line}: {reason}\n" in output


async def test_field_lengths_follow_the_schema(db, tmp_path):
    text = (
        HEADER
        + row("a" * 64, title="T" * 200, place_note="P" * 200)
        + row("b" * 65, title="T" * 201, place_note="P" * 201, volunteer_role="R" * 101,
              volunteer_places="1")
    )  # fmt: skip
    report, _ = await run_import(db, tmp_path, text)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (
            3,
            "external_id is longer than 64 characters (65); title is longer than 200 "
            "characters (201); place_note is longer than 200 characters (201); "
            "volunteer_role is longer than 100 characters (101)",
        )
    ]
    assert set(await one_offs(db)) == {"a" * 64}


async def test_missing_header_column_is_one_error_and_imports_nothing(db, tmp_path):
    text = "external_id,center_external_id,title,category,date,start\n"
    text += "x,msk-1,T,other,2026-11-25,18:00\n"
    report, output = await run_import(db, tmp_path, text)
    assert report.error is not None and "missing required column(s) duration_minutes" in output
    assert output.startswith("error: ") and output.count("\n") == 1
    assert await count(db, activities) == 0


async def test_unreadable_files_import_nothing(db, tmp_path):
    path = tmp_path / "cp1251.csv"
    path.write_bytes(GOOD.encode("utf-8") + row("x-1", title="Лепка").encode("cp1251"))
    out = io.StringIO()
    report = await import_activities(db, path, now=NOW, out=out)
    assert report.error is not None and "line 8 is not UTF-8" in report.error
    assert await count(db, activities) == 0

    out = io.StringIO()
    report = await import_activities(db, tmp_path / "nope.csv", now=NOW, out=out)
    assert not report.ok and "cannot read the file" in out.getvalue()


# ---- upserts that keep people's places --------------------------------------------------


async def test_an_update_changes_the_activity_in_place(db, tmp_path):
    await run_import(db, tmp_path, GOOD)
    before = (await one_offs(db))["chess-1"]

    changed = HEADER + row("chess-1", title="Шахматы", start="19:00", capacity="20")
    report, _ = await run_import(db, tmp_path, changed)

    assert report.ok and report.updated == 1
    after = (await one_offs(db))["chess-1"]
    assert after["id"] == before["id"]
    assert (after["title"], after["capacity"]) == ("Шахматы", 20)
    assert after["starts_at"] == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    assert after["description"] == ""  # the row is the whole truth about the activity


async def test_capacity_never_drops_below_the_seats_taken(db, tmp_path):
    await run_import(db, tmp_path, GOOD)
    async with db.write() as conn:
        await conn.execute(
            update(activities).where(activities.c.external_id == "chess-1").values(seats_taken=5)
        )
        await conn.execute(
            update(activities)
            .where(activities.c.external_id == "hall-1")
            .values(volunteers_taken=2)
        )

    text = (
        HEADER
        + row("chess-1", title="Шахматы", capacity="4")
        + row("hall-1", title="Подготовка зала", date="2026-11-26", start="17:15",
              duration_minutes="45", capacity="0", volunteer_role="Подготовка зала",
              volunteer_places="1")
        + row("x-1", title="Новое")
    )  # fmt: skip
    report, _ = await run_import(db, tmp_path, text)

    assert {r.line: r.reason for r in report.rejected} == {
        2: "capacity 4 is less than the 5 seats already taken",
        3: "volunteer_places 1 is less than the 2 volunteers already signed up",
    }
    assert (report.inserted, report.updated) == (1, 0)
    stored = await one_offs(db)
    assert (stored["chess-1"]["title"], stored["chess-1"]["capacity"]) == ("Шахматный клуб", 12)
    assert stored["hall-1"]["volunteer_places"] == 2

    # Exactly the seats taken is fine.
    report, _ = await run_import(db, tmp_path, HEADER + row("chess-1", capacity="5"))
    assert report.ok
    assert (await one_offs(db))["chess-1"]["capacity"] == 5


async def test_an_activity_that_has_started_is_not_rewritten(db, tmp_path):
    async with db.write() as conn:
        center_id = await conn.scalar(select(centers.c.id).where(centers.c.external_id == "msk-1"))
        await insert_activity(
            conn,
            center_id=center_id,
            external_id="old-1",
            title="Вчерашняя лекция",
            category="lectures",
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW - timedelta(days=1) + timedelta(hours=1),
            created_at=NOW - timedelta(days=7),
        )
    report, _ = await run_import(db, tmp_path, HEADER + row("old-1"))
    assert [r.reason for r in report.rejected] == [
        "the activity has already started; give a new one an external_id of its own"
    ]
    assert (await one_offs(db))["old-1"]["title"] == "Вчерашняя лекция"


async def test_rows_cannot_move_activities_or_mix_kinds(db, tmp_path):
    await run_import(db, tmp_path, GOOD)
    text = (
        HEADER
        + row("chess-1", "vvo-1")  # 2
        + row("walk-1", "kyiv-1", repeat_weekdays="2")  # 3
        + row("walk-1-copy", repeat_weekdays="2")  # 4: fine
        + row("chess-1-copy")  # 5: fine
    )
    report, _ = await run_import(db, tmp_path, text)
    assert {r.line: r.reason for r in report.rejected} == {
        2: "'chess-1' belongs to another center; it cannot move",
        3: "'walk-1' belongs to another center; it cannot move",
    }
    mixed = HEADER + row("chess-1", repeat_weekdays="3") + row("walk-1")
    report, _ = await run_import(db, tmp_path, mixed)
    assert {r.line: r.reason for r in report.rejected} == {
        2: "external_id 'chess-1' belongs to a one-off activity; use another id",
        3: "external_id 'walk-1' belongs to a weekly series; use another id",
    }


async def test_a_changed_series_keeps_occurrences_people_signed_up_for(db, tmp_path):
    await run_import(db, tmp_path, GOOD)
    walks = await occurrences_of(db, "walk-1")
    booked = walks[2]  # 1 December, 10:00
    async with db.write() as conn:
        await conn.execute(
            users.insert().values(
                id=42, display_name="Анна", language="ru", consent_at=NOW,
                consent_version="1", created_at=NOW,
            )
        )  # fmt: skip
        await conn.execute(
            signups.insert().values(
                activity_id=booked["id"], user_id=42, role="participant", party_size=3,
                status="confirmed", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        await conn.execute(
            update(activities).where(activities.c.id == booked["id"]).values(seats_taken=3)
        )

    def walk_at_eleven(capacity: str) -> str:
        return HEADER + row("walk-1", title="Ходьба", category="sport", date="2026-11-24",
                            start="11:00", duration_minutes="60", capacity=capacity,
                            repeat_weekdays="2,4")  # fmt: skip

    # Fewer seats than already taken at one occurrence: the whole row is refused.
    walks = await occurrences_of(db, "walk-1")
    report, _ = await run_import(db, tmp_path, walk_at_eleven("2"))
    assert [r.reason for r in report.rejected] == [
        "capacity 2 is less than the 3 seats already taken at an upcoming occurrence"
    ]
    assert await occurrences_of(db, "walk-1") == walks

    report, output = await run_import(db, tmp_path, walk_at_eleven("10"))
    assert report.ok, output
    assert report.occurrences == 8

    after = await occurrences_of(db, "walk-1")
    at_ten = [a for a in after if local(a["starts_at"], "Europe/Moscow").time() == time(10)]
    at_eleven = [a for a in after if local(a["starts_at"], "Europe/Moscow").time() == time(11)]
    assert [a["id"] for a in at_ten] == [booked["id"]]
    assert len(at_eleven) == 8
    assert {(a["title"], a["capacity"]) for a in after} == {("Ходьба", 10)}
    assert at_ten[0]["seats_taken"] == 3


# ---- materialising series ---------------------------------------------------------------


async def series_at(db: Database, **values) -> int:
    async with db.write() as conn:
        center_id = await conn.scalar(select(centers.c.id).where(centers.c.external_id == "msk-1"))
        defaults = {
            "center_id": center_id,
            "title": "Скандинавская ходьба",
            "description": "С палками",
            "category": "sport",
            "weekdays": "2,4",
            "local_time": "10:00",
            "duration_minutes": 60,
            "first_date": date(2026, 11, 1),
            "place_note": "У входа",
            "capacity": 15,
            "max_companions": 1,
            "volunteer_role": "Инструктор",
            "volunteer_places": 1,
            "created_at": NOW,
        }
        return await insert_series(conn, **(defaults | values))


async def run_materialise(db: Database, now: datetime, **kwargs) -> int:
    async with db.write() as conn:
        return await materialise(conn, today_utc=now, **kwargs)


async def test_materialise_is_idempotent_and_moves_with_the_days(db):
    series_id = await series_at(db)

    assert await run_materialise(db, NOW) == 8  # 24 Nov .. 17 Dec, nothing back-filled
    assert await run_materialise(db, NOW) == 0
    # Four weeks after Monday 23 November is Monday 21 December: no Tuesday or Thursday yet.
    assert await run_materialise(db, NOW + timedelta(days=1)) == 0
    # From Tuesday 24 November, Tuesday 22 December comes into range.
    assert await run_materialise(db, NOW + timedelta(days=2)) == 1
    async with db.read() as conn:
        rows = (
            await conn.execute(select(activities).where(activities.c.series_id == series_id))
        ).all()
    assert len(rows) == 9
    assert len({r.starts_at for r in rows}) == 9
    first = rows[0]
    assert (first.title, first.description, first.place_note) == (
        "Скандинавская ходьба",
        "С палками",
        "У входа",
    )
    assert (first.capacity, first.max_companions, first.accepts_participants) == (15, 1, True)
    assert (first.volunteer_role, first.volunteer_places) == ("Инструктор", 1)
    assert first.ends_at - first.starts_at == timedelta(hours=1)


async def test_a_cancelled_occurrence_is_not_recreated(db):
    series_id = await series_at(db)
    await run_materialise(db, NOW)
    async with db.write() as conn:
        await conn.execute(
            update(activities).where(activities.c.series_id == series_id).values(status="cancelled")
        )
    assert await run_materialise(db, NOW) == 0


async def test_materialise_in_each_centers_local_date(db):
    async with db.read() as conn:
        known = await centers_by_external_id(conn)
    # Daily at 09:00 local: at 09:00 UTC it is 19:00 in Vladivostok, today's has passed.
    vvo = await series_at(
        db, center_id=known["vvo-1"][0], weekdays="1,2,3,4,5,6,7", local_time="09:00",
        first_date=date(2026, 11, 22),
    )  # fmt: skip
    msk = await series_at(
        db, center_id=known["msk-1"][0], weekdays="1,2,3,4,5,6,7", local_time="13:00",
        first_date=date(2026, 11, 22),
    )  # fmt: skip
    assert await run_materialise(db, NOW, weeks_ahead=1, series_ids=[vvo]) == 7  # 23..29 Nov
    assert await run_materialise(db, NOW, weeks_ahead=1, series_ids=[msk]) == 8  # 22..29 Nov
    assert await run_materialise(db, NOW, series_ids=[]) == 0


def test_row_values_need_a_series_for_a_rule():
    row_ = ActivityRow(
        line=2, external_id="x", center_external_id="msk-1", timezone="Europe/Moscow",
        title="T", category="other", date=date(2026, 11, 25), start=time(18), duration_minutes=60,
        description="", place_note=None, capacity=None, max_companions=0, volunteer_role=None,
        volunteer_places=0, repeat_weekdays=None, every_weeks=1, until=None,
    )  # fmt: skip
    with pytest.raises(ValueError):
        row_.rule()


# ---- the command line -------------------------------------------------------------------


def test_command_line_import(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db/bot.db")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "import-activities" in run("--help").stdout
    assert run("demo-data").returncode == 0
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    good = tmp_path / "good.csv"
    good.write_text(
        HEADER + row("cli-1", "demo-msk-1", date=future) + row("cli-2", "demo-kyiv-1", date=future),
        encoding="utf-8",
    )
    result = run("import-activities", str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 imported (2 new, 0 updated), 0 rejected" in result.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + row("cli-3", "demo-msk-1", date=future) + row("cli-4", "nowhere", date=future),
        encoding="utf-8",
    )
    result = run("import-activities", str(bad))
    assert result.returncode == 1
    assert "line 3: unknown center 'nowhere'" in result.stdout
    assert "1 imported" in result.stdout

    missing = run("import-activities", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert "Traceback" not in missing.stdout + missing.stderr
