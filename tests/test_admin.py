"""/admin: the chain's counts, figures by region as CSV, importing centers by upload, and
finding a center to act as its coordinator; and who may not."""

import csv
import io

import pytest
from sqlalchemy import select

from handlers.callbacks import AdminAction, AdminCb
from storage.audit import entries
from storage.centers import upsert_centers
from storage.coordinators import appoint
from storage.schema import centers
from tests.helpers import consenting_user, coordinating_user, eventually
from tests.stats_helpers import build_month

ADMIN = 4242
pytestmark = [pytest.mark.settings(admin_ids=str(ADMIN)), pytest.mark.empty]

HEADER = "external_id,name,address,city,latitude,longitude,region,timezone\n"


def center(external_id, name, region, latitude=56.80, longitude=60.55):
    return {
        "external_id": external_id,
        "name": name,
        "address": "ул. Тихая, 1",
        "city": "Екатеринбург",
        "region": region,
        "latitude": latitude,
        "longitude": longitude,
        "timezone": "Asia/Yekaterinburg",
        "opening_hours": None,
        "phone": None,
    }


async def three_centers(env) -> dict[str, int]:
    async with env.db.write() as conn:
        await upsert_centers(
            conn,
            [
                center("ekb", "Тихий центр", "Свердловская область"),
                center("chel", "Соседи Челябинск", "Челябинская область", 55.16, 61.40),
                center("nowhere", "Без региона", None, 57.0, 61.0),
            ],
            now=env.clock(),
        )
        rows = await conn.execute(select(centers.c.external_id, centers.c.id))
        return dict(rows.all())


async def consenting_admin(env):
    user = await env.tg.new_user(id=ADMIN, first_name="Admin", language_code="en")
    await user.send("/start")
    consent = await user.last_bot_message()
    await user.press(consent.buttons[0][0])
    return user


async def admin_with_data(env):
    ids = await three_centers(env)
    await build_month(env, ids["ekb"], ids["chel"])
    admin = await consenting_admin(env)
    coordinator = await coordinating_user(env, ids["ekb"], language_code="en")
    return admin, coordinator, ids


async def test_the_chains_counts(bot_env):
    env = bot_env
    admin, _coordinator, _ids = await admin_with_data(env)
    [answer] = await admin.send("/admin")
    assert answer.text.split("\n") == [
        "🛠 The chain",
        "Centers: 3 (with a coordinator: 1)",
        "Coordinators: 1",
        "Residents: 8",  # six built, the admin and the coordinator
        "Subscriptions: 4",
        "Upcoming activities: 1",
        "",
        "The last 4 weeks",
        "Sign-ups: 6",
        "Attendance: 80%",
        "Volunteer hours: 2",
    ]
    assert answer.buttons == [
        ["📄 Stats by region (CSV)"],
        ["📥 Import centers"],
        ["🔎 Find a center"],
    ]


async def test_figures_by_region_as_csv(bot_env):
    env = bot_env
    admin, _coordinator, _ids = await admin_with_data(env)
    [menu] = await admin.send("/admin")
    [document] = await admin.press("📄 Stats by region (CSV)", message_id=menu.message_id)
    assert document.document["file_name"].startswith("regions-")
    data = await env.tg.file_bytes(document.document["file_id"])
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        [
            "region",
            "centers",
            "subscribers",
            "activities held",
            "sign-ups",
            "attended",
            "no-show rate, %",
            "volunteer hours",
            "average rating",
        ],
        ["Свердловская область", "1", "3", "2", "5", "4", "20.0", "2.0", "4.50"],
        ["Челябинская область", "1", "1", "1", "1", "0", "", "0.0", ""],
        ["(no region)", "1", "0", "0", "0", "0", "", "0.0", ""],
    ]


async def start_import(env, admin):
    [menu] = await admin.send("/admin")
    [prompt] = await admin.press("📥 Import centers", message_id=menu.message_id)
    assert prompt.text.startswith("Send the centers as a CSV file")
    assert "external_id, name, address, city, latitude, longitude" in prompt.text


async def test_import_by_upload_reports_rows_and_refreshes_the_nearest_index(bot_env):
    env = bot_env
    ids = await three_centers(env)
    admin = await consenting_admin(env)
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    # Far from the new center, the nearest are the old ones (and the index is built).
    [nearby] = await resident.send_location(56.9001, 60.7001)
    assert "Соседи на Новой" not in nearby.text

    await start_import(env, admin)
    [hint] = await admin.send_document(b"just notes", "notes.txt", mime_type="text/plain")
    assert hint.text == "This is not a CSV file. Please send a .csv file."
    [hint] = await admin.send("here it comes")
    assert hint.text == "Please send the CSV file as a document (📎 → File)."

    content = (
        HEADER
        + "new-1,Соседи на Новой,ул. Новая 1,Екатеринбург,56.9000,60.7000,Свердловская область,\n"
        + "ekb,Тихий центр (обновлён),ул. Тихая 1,Екатеринбург,56.80,60.55,,\n"
        + "bad-1,,ул. Пустая,Екатеринбург,56.9,60.6,,\n"
        + "bad-2,Плохой,ул. Кривая,Екатеринбург,abc,60.6,,\n"
    )
    [report] = await admin.send_document(content.encode(), "centers.csv")
    assert report.text.split("\n") == [
        "Import finished: 1 new, 1 updated, 2 rejected.",
        "",
        "Line 4: missing name",
        "Line 5: latitude 'abc' is not a number",
    ]
    async with env.db.read() as conn:
        names = dict((await conn.execute(select(centers.c.external_id, centers.c.name))).all())
        [entry] = await entries(conn)
    assert names["ekb"] == "Тихий центр (обновлён)"
    assert names["new-1"] == "Соседи на Новой"
    assert len(names) == len(ids) + 1
    assert (entry.actor_id, entry.action) == (ADMIN, "centers.import")
    assert entry.details == {"file": "centers.csv", "inserted": 1, "updated": 1, "rejected": 2}

    [nearby] = await resident.send_location(56.9001, 60.7001)
    assert nearby.text.split("\n")[2].startswith("1. Соседи на Новой"), nearby.text

    [again] = await admin.send_document(content.encode(), "centers.csv")
    assert not again.text.startswith("Import finished"), "the dialog has ended"


async def test_a_long_list_of_rejected_rows_comes_as_a_file(bot_env):
    env = bot_env
    admin = await consenting_admin(env)
    await start_import(env, admin)
    bad = "".join(f"bad-{n},,ул. Пустая,Екатеринбург,56.9,60.6,,\n" for n in range(25))
    report, document = await admin.send_document((HEADER + bad).encode(), "bad.csv")
    lines = report.text.split("\n")
    assert lines[0] == "Import finished: 0 new, 0 updated, 25 rejected."
    assert len(lines) == 2 + 20 + 1 and lines[-1] == "… and 5 more, in the file below."
    assert document.document["file_name"] == "rejected-rows.csv"
    data = (await env.tg.file_bytes(document.document["file_id"])).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data)))
    assert rows[0] == ["line", "reason"] and len(rows) == 26
    assert rows[-1] == ["26", "missing name"]
    async with env.db.read() as conn:
        assert await entries(conn) == [], "nothing written, nothing to audit"


async def test_unreadable_and_oversized_files_import_nothing(bot_env):
    env = bot_env
    admin = await consenting_admin(env)
    await start_import(env, admin)
    before = await env.rows()
    [answer] = await admin.send_document(b"foo,bar\n1,2\n", "odd.csv")
    assert answer.text.startswith("The file could not be read: odd.csv: missing required column")
    assert answer.text.endswith("Nothing was imported.")
    await start_import(env, admin)
    [answer] = await admin.send_document(b"\xff\xfe" + b"x" * 100, "utf16.csv")
    assert "is not UTF-8 text" in answer.text
    await start_import(env, admin)
    [answer] = await admin.send_document(b"a" * (20 * 1024 * 1024 + 1), "huge.csv")
    assert answer.text == "The file is larger than 20 MB. Please split it in parts."
    assert await env.rows() == before


async def test_the_admin_finds_a_center_and_runs_it(bot_env):
    env = bot_env
    await three_centers(env)
    admin = await consenting_admin(env)
    [menu] = await admin.send("/admin")
    [prompt] = await admin.press("🔎 Find a center", message_id=menu.message_id)
    assert prompt.text == "Type a word of the center's name, city or street."
    [none] = await admin.send("Владивосток")
    assert none.text == "No center found. Try another word."
    [found] = await admin.send("тихий")
    assert found.buttons == [["Тихий центр — Екатеринбург"]]
    [center_menu] = await admin.press("Тихий центр — Екатеринбург")
    assert center_menu.text.startswith("Тихий центр\nул. Тихая, 1")
    shown, photo = await admin.press("📊 Figures", message_id=center_menu.message_id)
    assert shown.text.startswith("📊 Figures: Тихий центр") and photo.photo
    [other] = await admin.send("тихий")
    assert "Centers matching" not in (other.text or ""), "the search dialog has ended"


async def test_who_is_not_an_admin_is_refused(bot_env):
    env = bot_env
    ids = await three_centers(env)
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    coordinator = await coordinating_user(env, ids["ekb"], language_code="en")
    async with env.db.write() as conn:
        await appoint(conn, coordinator.id, ids["chel"], by=0, now=env.clock())
    before = await env.rows()
    for user in (resident, coordinator):
        [answer] = await user.send("/admin")
        assert answer.text == "This is for the chain's administrators only."
        for action in AdminAction:
            data = AdminCb(action=action).pack()
            await user.callback(answer.message_id, data)
            answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(user.id)}
            assert answers[data]["text"] == "This is for the chain's administrators only."
        await user.send_document((HEADER + "x,X,a,c,56.9,60.7,,\n").encode(), "centers.csv")
        await user.send("Тихий")
        messages = await user.messages()
        assert not [m for m in messages if m.from_bot and m.document], "no CSV, no report"
        assert not [m for m in messages if "Import finished" in (m.text or "")]

    async def unchanged():
        return await env.rows() == before

    assert await eventually(unchanged)


async def test_a_menu_button_or_a_command_leaves_the_import_dialog(bot_env):
    admin = await consenting_admin(bot_env)
    await admin.send("/admin")
    menu = await admin.last_bot_message()
    await admin.press("📥 Import centers", message_id=menu.message_id)
    # A resident's menu button: the dialog ends and the button does its usual job.
    [schedule] = await admin.press("📋 My schedule")
    assert "📎" not in schedule.text
    [answer] = await admin.send("Moscow")  # a search again, not an answer to the import
    assert "📎" not in answer.text
