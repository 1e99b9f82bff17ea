"""Centers CSV import: validation of every kind of bad row, dialects, idempotence."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.importer import REPORT_REJECTED_LIMIT, import_centers
from domain.center_rows import CenterFileError, CenterRow, RejectedRow, read_center_rows
from storage.centers import centers_revision, count_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import centers

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
HEADER = "external_id,name,address,city,region,latitude,longitude,timezone,opening_hours,phone\n"
GOOD = (
    HEADER + 'ekb-1,Соседи на Малышева,"ул. Малышева, 30",Екатеринбург,Свердловская область,'
    "56.8367,60.6052,Asia/Yekaterinburg,пн–вс 10:00–20:00,+7 (343) 371-20-45\n"
    'msk-1,Соседи на Тверской,"ул. Тверская, 12",Москва,,55.7616,37.6094,,,\n'
    'kholmsk-1,Соседи на Советской,"ул. Советская, 70",Холмск,,47.0432,142.0452,,,\n'
)


@pytest.fixture
async def db(tmp_path):
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await upgrade(database)
    yield database
    await database.close()


def write_csv(tmp_path: Path, text: str, name: str = "centers.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


async def run_import(db: Database, path: Path, now: datetime = NOW):
    out = io.StringIO()
    report = await import_centers(db, path, now=now, out=out)
    return report, out.getvalue()


async def all_centers(db: Database) -> dict[str, dict]:
    async with db.read() as conn:
        rows = await conn.execute(select(centers))
        return {row.external_id: row._asdict() for row in rows}


def validate(text: str) -> list[CenterRow | RejectedRow]:
    return list(read_center_rows(io.StringIO(text, newline="")))


def reasons(text: str) -> dict[int, str]:
    return {row.line: row.reason for row in validate(text) if isinstance(row, RejectedRow)}


# ---- validation -----------------------------------------------------------------------


async def test_good_file_imports(db, tmp_path):
    report, output = await run_import(db, write_csv(tmp_path, GOOD))

    assert report.ok
    assert (report.written, report.inserted, report.updated) == (3, 3, 0)
    assert report.rejected == []
    assert "3 imported (3 new, 0 updated), 0 rejected" in output
    stored = await all_centers(db)
    assert stored["ekb-1"]["address"] == "ул. Малышева, 30"
    assert stored["ekb-1"]["phone"] == "+7 (343) 371-20-45"
    assert stored["msk-1"]["region"] is None
    assert stored["msk-1"]["opening_hours"] is None
    assert stored["kholmsk-1"]["timezone"] == "Asia/Sakhalin"
    async with db.read() as conn:
        assert await centers_revision(conn) == 1


async def test_each_kind_of_bad_row_is_reported_with_its_line(db, tmp_path):
    long_name = "Я" * 201
    text = (
        "external_id,name,address,city,latitude,longitude,timezone\n"  # line 1
        "ok-1,Соседи,ул. Ленина 1,Омск,54.98,73.32,\n"  # 2
        "bad-1,,ул. Ленина 2,Омск,54.98,73.32,\n"  # 3
        "bad-2,Соседи,ул. Ленина 3,Омск,91,73.32,\n"  # 4
        "bad-3,Соседи,ул. Ленина 4,Омск,54.98,-180.5,\n"  # 5
        "bad-4,Соседи,ул. Ленина 5,Омск,north,73.32,\n"  # 6
        "bad-5,Соседи,ул. Ленина 6,Омск,nan,inf,\n"  # 7
        "bad-6,Соседи,ул. Ленина 7,Омск,54.98,73.32,Europe/Moskow\n"  # 8
        "ok-1,Соседи,ул. Ленина 8,Омск,54.98,73.32,\n"  # 9
        f"bad-7,{long_name},ул. Ленина 9,Омск,54.98,73.32,\n"  # 10
        "bad-8,Соседи,ул. Ленина 10,Омск,54.98\n"  # 11
        "\n"  # 12: blank lines are skipped
        'ok-2,"Соседи\nна два этажа",ул. Ленина 11,Омск,54.98,73.32,\n'  # 13-14
        "bad-9,Соседи,ул. Ленина 12,Омск,0,0,\n"  # 15
        "bad-10,Соседи,,,54.98,73.32,\n"  # 16
    )
    report, output = await run_import(db, write_csv(tmp_path, text))

    expected = {
        3: "missing name",
        4: "latitude 91 is outside -90..90",
        5: "longitude -180.5 is outside -180..180",
        6: "latitude 'north' is not a number",
        7: "latitude 'nan' is not a finite number; longitude 'inf' is not a finite number",
        8: "unknown time zone 'Europe/Moskow'",
        9: "duplicate external_id 'ok-1' (first on line 2)",
        10: "name is longer than 200 characters (201)",
        11: "expected 7 fields, found 5",
        15: "latitude and longitude are both 0",
        16: "missing address; missing city",
    }
    assert {row.line: row.reason for row in report.rejected} == expected
    assert not report.ok
    assert report.written == 2
    assert set(await all_centers(db)) == {"ok-1", "ok-2"}
    assert "2 imported (2 new, 0 updated), 11 rejected" in output
    for line, reason in expected.items():
        assert f"line {line}: {reason}\n" in output


LENGTH_HEADER = ("external_id", "name", "address", "city", "region", "latitude", "longitude",
                 "opening_hours", "phone")  # fmt: skip


def length_row(external_id: str, column: str, length: int) -> str:
    values = dict.fromkeys(LENGTH_HEADER, "x") | {"latitude": "1", "longitude": "2"}
    values["external_id"] = external_id
    values[column] = external_id[0] * length
    return ",".join(values[name] for name in LENGTH_HEADER) + "\n"


@pytest.mark.parametrize(
    "column", ["external_id", "name", "address", "city", "region", "opening_hours", "phone"]
)
def test_field_lengths_follow_the_schema(column):
    limit = centers.c[column].type.length
    text = ",".join(LENGTH_HEADER) + "\n" + length_row("a", column, limit)
    text += length_row("b", column, limit + 1)

    rows = validate(text)

    assert isinstance(rows[0], CenterRow)
    assert rows[1] == RejectedRow(3, f"{column} is longer than {limit} characters ({limit + 1})")


def test_timezone_longer_than_the_column_is_rejected():
    text = "external_id,name,address,city,latitude,longitude,timezone\n"
    text += f"a,n,a,c,1,2,Europe/{'x' * 60}\n"
    assert reasons(text) == {2: "timezone is longer than 64 characters (67)"}


def test_header_names_are_case_insensitive_and_unknown_columns_ignored():
    text = " External_ID ,NAME,Address,City,Latitude,Longitude,Manager\nA-1,N,Addr,C,1.5,2.5,Ivan\n"
    [row] = validate(text)
    assert isinstance(row, CenterRow)
    assert (row.external_id, row.latitude, row.longitude) == ("A-1", 1.5, 2.5)


def test_fields_are_trimmed():
    text = "external_id,name,address,city,latitude,longitude,phone\n  a  , N ,  A , C , 1 , 2 ,  \n"
    [row] = validate(text)
    assert isinstance(row, CenterRow)
    assert (row.external_id, row.name, row.address, row.city, row.phone) == (
        "a",
        "N",
        "A",
        "C",
        None,
    )


def test_python_only_number_spellings_are_not_numbers():
    text = HEADER.replace(",timezone,opening_hours,phone", "") + "a,n,a,c,,1_0,2\n"
    assert reasons(text) == {2: "latitude '1_0' is not a number"}


# ---- whole-file problems ----------------------------------------------------------------


async def test_missing_header_column_is_one_error_and_imports_nothing(db, tmp_path):
    text = "external_id,name,address,city,longitude\na,n,a,c,60\n"
    report, output = await run_import(db, write_csv(tmp_path, text))

    assert not report.ok
    assert report.error is not None
    assert "missing required column(s) latitude" in report.error
    assert output.count("\n") == 1
    assert output.startswith("error: ")
    assert "Traceback" not in output
    async with db.read() as conn:
        assert await count_centers(conn) == 0


async def test_missing_file_is_a_clear_error(db, tmp_path):
    report, output = await run_import(db, tmp_path / "nope.csv")
    assert not report.ok
    assert "cannot read the file" in output
    assert output.count("\n") == 1


async def test_not_utf8_names_the_line_and_rolls_back(db, tmp_path):
    path = tmp_path / "cp1251.csv"
    good = GOOD.encode("utf-8")
    path.write_bytes(good + "bad-1,Магазин,ул. Мира 1,Омск,54.9,73.3,,,,\n".encode("cp1251"))
    report, output = await run_import(db, path)

    assert report.error is not None
    assert "line 5 is not UTF-8" in report.error
    assert "nothing was imported" in output
    async with db.read() as conn:
        assert await count_centers(conn) == 0
        assert await centers_revision(conn) == 0


async def test_empty_file_is_an_error(db, tmp_path):
    report, _ = await run_import(db, write_csv(tmp_path, ""))
    assert report.error is not None
    assert "expected a header" in report.error


def test_duplicate_header_column_is_an_error():
    with pytest.raises(CenterFileError, match="column name appears more than once"):
        validate("external_id,name,address,city,latitude,longitude,Name\n")


# ---- spreadsheet dialects ---------------------------------------------------------------


async def test_bom_semicolons_and_decimal_comma(db, tmp_path):
    text = (
        "external_id;name;address;city;latitude;longitude\r\n"
        "ekb-1;Соседи;ул. Малышева, 30;Екатеринбург;56,8367;60,6052\r\n"
        "ekb-2;Соседи;ул. 8 Марта, 46;Екатеринбург;56.8268;60.6035\r\n"
        "ekb-3;Соседи;ул. Бардина, 40;Екатеринбург;56,79,61;60,5302\r\n"
    )
    report, _ = await run_import(db, write_csv(tmp_path, text, bom=True))

    assert [(row.line, row.reason) for row in report.rejected] == [
        (4, "latitude '56,79,61' is not a number")
    ]
    stored = await all_centers(db)
    assert (stored["ekb-1"]["latitude"], stored["ekb-1"]["longitude"]) == (56.8367, 60.6052)
    assert stored["ekb-1"]["address"] == "ул. Малышева, 30"
    assert stored["ekb-2"]["latitude"] == 56.8268


def test_decimal_comma_is_not_accepted_with_comma_delimiter():
    text = 'external_id,name,address,city,latitude,longitude\na,n,a,c,"56,8",60\n'
    assert reasons(text) == {2: "latitude '56,8' is not a number"}


def test_excel_separator_hint_line():
    text = "sep=;\nexternal_id;name;address;city;latitude;longitude\na;n;a;c;1,5;2\nb;n;a;c;x;2\n"
    rows = validate(text)
    assert isinstance(rows[0], CenterRow)
    assert rows[0].latitude == 1.5
    assert rows[1] == RejectedRow(4, "latitude 'x' is not a number")


def test_trailing_empty_rows_from_spreadsheets_are_skipped():
    text = "external_id;name;address;city;latitude;longitude\na;n;a;c;1;2\n;;;;;\n;;;;;\n"
    assert [type(row) for row in validate(text)] == [CenterRow]


# ---- time zones -------------------------------------------------------------------------


def test_timezone_derived_from_coordinates_when_absent():
    text = (
        "external_id,name,address,city,latitude,longitude,timezone\n"
        "ekb,n,a,Екатеринбург,56.8389,60.6057,\n"
        "sev,n,a,Севастополь,44.6166,33.5254,\n"
        "kyiv,n,a,Київ,50.4501,30.5234,\n"
        "given,n,a,Екатеринбург,56.8389,60.6057,Europe/Moscow\n"
    )
    zones = {row.external_id: row.timezone for row in validate(text)}
    assert zones == {
        "ekb": "Asia/Yekaterinburg",
        "sev": "Europe/Simferopol",
        "kyiv": "Europe/Kyiv",
        "given": "Europe/Moscow",
    }


def test_timezone_derived_without_timezone_column():
    text = "external_id,name,address,city,latitude,longitude\nekb,n,a,c,56.8389,60.6057\n"
    [row] = validate(text)
    assert isinstance(row, CenterRow)
    assert row.timezone == "Asia/Yekaterinburg"


# ---- re-import --------------------------------------------------------------------------


async def test_reimport_is_idempotent(db, tmp_path):
    path = write_csv(tmp_path, GOOD)
    await run_import(db, path)
    first = await all_centers(db)

    later = NOW + timedelta(hours=1)
    report, output = await run_import(db, path, now=later)

    assert (report.written, report.inserted, report.updated) == (3, 0, 3)
    assert "3 imported (0 new, 3 updated)" in output
    second = await all_centers(db)
    assert second.keys() == first.keys()
    for external_id, row in first.items():
        assert second[external_id]["updated_at"] == later
        assert {**second[external_id], "updated_at": NOW} == row


async def test_changed_row_updates_in_place(db, tmp_path):
    await run_import(db, write_csv(tmp_path, GOOD))
    before = await all_centers(db)

    changed = GOOD.replace("ул. Тверская, 12", "ул. Тверская, 14").replace(
        "55.7616,37.6094", "55.7625,37.6082"
    )
    added = "new-1,Соседи,ул. Мира 1,Омск,,54.98,73.32,,,\n"
    report, _ = await run_import(db, write_csv(tmp_path, changed + added, name="v2.csv"))

    assert (report.inserted, report.updated) == (1, 3)
    after = await all_centers(db)
    assert after["msk-1"]["id"] == before["msk-1"]["id"]
    assert after["msk-1"]["address"] == "ул. Тверская, 14"
    assert after["msk-1"]["latitude"] == 55.7625
    assert "tverska" in after["msk-1"]["search_key"]
    assert after["new-1"]["timezone"] == "Asia/Omsk"
    async with db.read() as conn:
        assert await count_centers(conn) == 4
        assert await centers_revision(conn) == 2


async def test_rejected_listing_is_capped(db, tmp_path):
    rows = "".join(f"id-{n},n,a,c,100,0\n" for n in range(REPORT_REJECTED_LIMIT + 25))
    path = write_csv(tmp_path, "external_id,name,address,city,latitude,longitude\n" + rows)
    report, output = await run_import(db, path)

    assert len(report.rejected) == REPORT_REJECTED_LIMIT + 25
    assert output.count("\nline ") == REPORT_REJECTED_LIMIT
    assert output.endswith("… and 25 more\n")


async def test_runaway_quote_is_a_file_error_and_rolls_back(db, tmp_path):
    # An unbalanced quote swallows the rest of the file into one field until csv gives up.
    text = GOOD + 'bad,"Соседи,a,c,1,2,,,,\n' + "x,n,a,c,,1,2,,,\n" * 20_000
    report, output = await run_import(db, write_csv(tmp_path, text))

    assert report.error is not None
    assert "unreadable CSV" in report.error
    assert output.count("\n") == 1
    async with db.read() as conn:
        assert await count_centers(conn) == 0
