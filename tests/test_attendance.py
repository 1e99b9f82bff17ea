"""Roll call end to end (who came, and the volunteer hours it confirms) and the participants'
CSV export."""

import csv
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select

from domain.roster import Mark
from handlers.callbacks import CoordActivityAction, CoordActivityCb, CoordRollCallCb
from handlers.callbacks import RollCallAction as Roll
from storage.schema import guest_signups, signups
from tests.activity_helpers import add_activity, add_quiet_center, subscribed_user
from tests.helpers import center_id_by_external, coordinating_user
from tests.test_coord_roster import add_guest_row, audit_actions, open_coord_card


async def volunteers_sign_up(env, center, *names):
    users = []
    for name in names:
        user = await subscribed_user(env, center, name=name)
        [shifts] = await user.press("🙋 Volunteering")
        label = next(row[0] for row in shifts.buttons if "Клуб проверки" in row[0])
        await user.press(label)
        [card] = await user.press("🙋 Sign up as a volunteer")
        assert "✅ You are signed up." in card.text
        users.append((user, shifts))
    return users


async def marks(env):
    async with env.db.read() as conn:
        residents = await conn.execute(select(signups.c.user_id, signups.c.attended))
        guests = await conn.execute(select(guest_signups.c.name, guest_signups.c.attended))
        return dict(residents.all()) | dict(guests.all())


async def test_roll_call_marks_people_and_confirms_volunteer_hours(bot_env):
    env = bot_env
    center = await add_quiet_center(env)
    center_id = await center_id_by_external(env, center)
    activity_id = await add_activity(
        env, center, capacity=5, volunteer_role="Столы", volunteer_places=2, in_hours=3
    )
    [(ivan, ivan_shifts), (petr, petr_shifts)] = await volunteers_sign_up(
        env, center, "Ivan", "Petr"
    )
    anna = await subscribed_user(env, center, name="Anna")
    [listing] = await anna.press("🗓 Activities")
    await anna.press(next(row[0] for row in listing.buttons if "Клуб проверки" in row[0]))
    await anna.press("✅ Sign up")
    await add_guest_row(env, activity_id, name="Гость Гостев")
    coord = await coordinating_user(env, center_id, first_name="Olga", language_code="en")

    # Before the start there is no roll call, and a forged button is refused.
    _listing, card = await open_coord_card(coord)
    assert ["✅ Roll call"] not in card.buttons
    before = await env.rows()
    data = CoordActivityCb(action=CoordActivityAction.ROLL_CALL, activity_id=activity_id).pack()
    await coord.callback(card.message_id, data)
    [answer] = [c["answer"]["text"] for c in await env.tg.callbacks(coord.id) if c["data"] == data]
    assert answer == "The roll call opens when the activity starts."
    assert await env.rows() == before

    env.clock.advance(hours=3, minutes=30)  # under way
    _listing, card = await open_coord_card(coord)
    assert "▶️ Under way" in card.text
    assert card.buttons == [["👥 Sign-ups", "📄 Export CSV"], ["✅ Roll call"], ["‹ Activities"]]
    [roll] = await coord.press("✅ Roll call")
    assert roll.text.startswith("Roll call: Клуб проверки")
    assert "✅ 0  ❌ 0  ⬜ 4" in roll.text
    assert roll.buttons == [
        ["⬜ Anna"],
        ["⬜ 🙋 Ivan"],
        ["⬜ 🙋 Petr"],
        ["⬜ Гость Гостев · guest"],
        ["✅ Everyone present"],
        ["‹ Back"],
    ]
    [roll] = await coord.press("⬜ 🙋 Petr")
    assert ["✅ 🙋 Petr"] in roll.buttons
    [roll] = await coord.press("✅ 🙋 Petr")
    assert ["❌ 🙋 Petr"] in roll.buttons and ["✅ Everyone else present"] in roll.buttons
    [roll] = await coord.press("✅ Everyone else present")
    assert roll.message_id == card.message_id  # one message, edited in place
    assert "✅ 3  ❌ 1  ⬜ 0" in roll.text
    assert roll.buttons[:4] == [
        ["✅ Anna"],
        ["✅ 🙋 Ivan"],
        ["❌ 🙋 Petr"],
        ["✅ Гость Гостев · guest"],
    ]
    assert await marks(env) == {
        ivan.id: True,
        petr.id: False,
        anna.id: True,
        "Гость Гостев": True,
    }
    audited = [d for a, d in await audit_actions(env, center_id) if a == "attendance.mark"]
    assert len(audited) == 3 and audited[-1]["rows"] == 3
    # A double tap sets the same mark again: nothing changes, nothing more is recorded.
    stale = roll.callback_data["✅ Anna"]
    await coord.callback(roll.message_id, stale)
    await coord.callback(roll.message_id, stale)
    assert await marks(env) == {ivan.id: True, petr.id: False, anna.id: False, "Гость Гостев": True}
    assert len([a for a, _ in await audit_actions(env, center_id) if a == "attendance.mark"]) == 4

    env.clock.advance(hours=2)  # the shift is over
    [hours] = await ivan.press("⏱ My hours", message_id=ivan_shifts.message_id)
    assert "Total: 2 h" in hours.text
    assert "✅ Confirmed at roll call: 2 h" in hours.text
    assert "⏳ Not confirmed yet: 0 h" in hours.text
    [none] = await petr.press("⏱ My hours", message_id=petr_shifts.message_id)
    assert none.text.startswith("No hours yet")  # marked absent: no hours for the shift

    # Taken back to "not marked" the next day: the hours count again, not yet confirmed.
    env.clock.advance(days=1)
    [card] = await coord.press("‹ Back", message_id=roll.message_id)
    assert "✔️ Over" in card.text
    [roll] = await coord.press("✅ Roll call")
    [roll] = await coord.press("❌ 🙋 Petr")
    assert ["⬜ 🙋 Petr"] in roll.buttons
    [hours] = await petr.press("⏱ My hours", message_id=petr_shifts.message_id)
    assert "Total: 2 h" in hours.text and "⏳ Not confirmed yet: 2 h" in hours.text

    # A week after the start the roll call is closed.
    env.clock.advance(days=6)
    before = await env.rows()
    await coord.press("⬜ 🙋 Petr")
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(coord.id)]
    assert answers[-1] == "The roll call closed a week after the start."
    assert await env.rows() == before


async def test_a_long_roll_call_pages_and_everyone_present_covers_all_pages(bot_env):
    env = bot_env
    center = await add_quiet_center(env)
    center_id = await center_id_by_external(env, center)
    activity_id = await add_activity(env, center, capacity=None, in_hours=1)
    for number in range(1, 26):
        await add_guest_row(env, activity_id, name=f"Гость {number:02}")
    coord = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    env.clock.advance(hours=1)
    _listing, _card = await open_coord_card(coord)
    [roll] = await coord.press("✅ Roll call")
    assert "Page 1 of 2" in roll.text
    assert len([row for row in roll.buttons if "Гость" in row[0]]) == 20
    [roll] = await coord.press("More ▶️")
    assert "Page 2 of 2" in roll.text and roll.buttons[0] == ["⬜ Гость 21 · guest"]
    [roll] = await coord.press("⬜ Гость 25 · guest")
    assert "Page 2 of 2" in roll.text and ["✅ Гость 25 · guest"] in roll.buttons
    [roll] = await coord.press("✅ Everyone else present")
    assert "✅ 25  ❌ 0  ⬜ 0" in roll.text
    assert set((await marks(env)).values()) == {True}


def parse_csv(content: bytes, delimiter: str) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # Excel reads it as UTF-8 only with a BOM
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


async def test_export_lists_everyone_as_csv(bot_env):
    env = bot_env
    center = await add_quiet_center(env)
    center_id = await center_id_by_external(env, center)
    activity_id = await add_activity(
        env,
        center,
        capacity=4,
        max_companions=1,
        volunteer_role="Столы",
        volunteer_places=1,
        in_hours=48,
    )
    await add_guest_row(env, activity_id, name="=HYPERLINK(1)", party_size=1)
    anna = await subscribed_user(env, center, name="Anna")
    boris = await subscribed_user(env, center, name="Boris")
    for user in (anna, boris):
        [listing] = await user.press("🗓 Activities")
        await user.press(next(row[0] for row in listing.buttons if "Клуб проверки" in row[0]))
        await user.press("👨‍👧 Sign up with companions")
        await user.press("Me + 1")
    [(ivan, _shifts)] = await volunteers_sign_up(env, center, "Ivan")
    coord = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    await open_coord_card(coord)
    [document] = await coord.press("📄 Export CSV")
    assert document.caption == "Participants of Клуб проверки"
    assert document.document["file_name"].startswith(f"participants-{activity_id}-")
    assert document.document["file_name"].endswith(".csv")
    content = await env.tg.file_bytes(document.document["file_id"])
    rows = parse_csv(content, ",")
    assert rows[0] == [
        "Name",
        "Role",
        "Party size",
        "Status",
        "Waitlist position",
        "Attended",
        "Signed up at",
        "Guest",
    ]
    body = {row[0]: row[1:6] + row[7:] for row in rows[1:]}
    assert body == {
        "Anna": ["participant", "2", "confirmed", "", "", "no"],
        "Boris": ["participant", "2", "on the waitlist", "1", "", "no"],
        "Ivan": ["volunteer", "1", "confirmed", "", "", "no"],
        "'=HYPERLINK(1)": ["participant", "1", "confirmed", "", "", "yes"],
    }
    signed_up_at = {row[0]: row[6] for row in rows[1:]}
    local = env.clock().astimezone(ZoneInfo("Asia/Yekaterinburg"))
    assert signed_up_at["Anna"] == f"{local:%Y-%m-%d %H:%M}"
    text = content.decode("utf-8-sig")
    for user in (anna, boris, ivan):
        assert str(user.id) not in text  # names only: no Telegram ids
    [(_action, details)] = await audit_actions(env, center_id)
    assert details == {"activity_id": activity_id, "rows": 4}

    # In Russian: translated, and semicolons, which Excel with a Russian locale splits on.
    ru = await coordinating_user(env, center_id, first_name="Ольга", language_code="ru")
    await ru.send("/coord")
    [listing] = await ru.press("🗓 Занятия и записи")
    await ru.press(next(row[0] for row in listing.buttons if "Клуб проверки" in row[0]))
    [document] = await ru.press("📄 Выгрузить CSV")
    rows = parse_csv(await env.tg.file_bytes(document.document["file_id"]), ";")
    assert rows[0][:4] == ["Имя", "Роль", "Человек", "Статус"]
    assert ["Boris", "участник", "2", "в листе ожидания", "1", "", rows[2][6], "нет"] in rows


async def test_roll_call_buttons_carry_the_mark_they_set(bot_env):
    """The mark is in the button: a forged one sets exactly that, for a row of this roll call
    only."""
    env = bot_env
    center = await add_quiet_center(env)
    center_id = await center_id_by_external(env, center)
    activity_id = await add_activity(env, center, capacity=None, in_hours=1)
    guest = await add_guest_row(env, activity_id, name="Гость")
    coord = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    env.clock.advance(hours=2)
    message_id = (await coord.last_bot_message()).message_id
    for mark, expected in ((Mark.ABSENT, False), (Mark.PRESENT, True), (Mark.UNMARKED, None)):
        data = CoordRollCallCb(
            action=Roll.GUEST, activity_id=activity_id, row_id=guest, mark=mark
        ).pack()
        await coord.callback(message_id, data)
        assert await marks(env) == {"Гость": expected}
