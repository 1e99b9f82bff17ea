"""A new resident's first minutes, as the issue's "done when" describes them."""

import json

from sqlalchemy import func, select

from bot.demo import demo_rows
from domain.geo import brute_force_nearest
from storage.schema import subscriptions, users

EKATERINBURG = (56.8380, 60.5970)  # near the city center


def expected_nearest(latitude, longitude, k=5):
    rows = demo_rows()
    points = [(i, row["latitude"], row["longitude"]) for i, row in enumerate(rows)]
    return [rows[i]["name"] for _, i in brute_force_nearest(points, latitude, longitude, k)]


async def count(env, table, user_id):
    column = table.c.id if table is users else table.c.user_id
    async with env.db.read() as conn:
        return await conn.scalar(select(func.count()).select_from(table).where(column == user_id))


async def test_start_consent_nearest_subscribe_ukrainian_forget(bot_env):
    tg = bot_env.tg
    user = await tg.new_user(first_name="Анна", language_code="ru")

    greeting, consent = await user.send("/start")
    assert "Анна" in greeting.text and "Соседи" in greeting.text
    assert "Согласие" in consent.text and bot_env.settings.consent_version in consent.text
    assert await count(bot_env, users, user.id) == 0, "nothing is stored before consent"

    replies = await user.press("✅ Согласен(на)")
    menu = replies[-1]
    assert menu.reply_keyboard[0] == ["📍 Ближайший центр"]
    async with bot_env.db.read() as conn:
        row = (await conn.execute(select(users).where(users.c.id == user.id))).one()
    assert row.language == "ru" and row.consent_version == bot_env.settings.consent_version
    assert row.consent_at is not None

    [nearest] = await user.press(
        "📍 Ближайший центр", latitude=EKATERINBURG[0], longitude=EKATERINBURG[1]
    )
    names = [label.split(". ", 1)[1] for [label] in nearest.buttons[:5]]
    assert names == expected_nearest(*EKATERINBURG)
    assert nearest.buttons[5] == ["Ещё ▶️"]
    assert " м" in nearest.text or " км" in nearest.text
    assert (
        nearest.text.index(names[0]) < nearest.text.index(names[1]) < nearest.text.index(names[4])
    )

    venue, card = await user.press(nearest.buttons[0][0])
    assert venue.venue["title"] == names[0]
    assert names[0] in card.text and "Часы работы" in card.text and "+7" in card.text
    assert card.buttons == [["⭐ Подписаться"]]

    [edited] = await user.press("⭐ Подписаться")
    assert edited.message_id == card.message_id and edited.buttons == [
        ["🔕 Отписаться"],
        ["💡 Предложить идею"],
    ]
    assert await count(bot_env, subscriptions, user.id) == 1

    await user.press("⚙️ Настройки")
    done = (await user.press("Українська"))[-1]
    assert done.text == "Готово: тепер я розмовляю українською."
    assert done.reply_keyboard[0] == ["📍 Найближчий центр"]

    [help_text] = await user.send("/help")
    assert help_text.text.startswith("Що я вмію")
    [nearest_uk] = await user.press(
        "📍 Найближчий центр", latitude=EKATERINBURG[0], longitude=EKATERINBURG[1]
    )
    assert nearest_uk.text.startswith("Найближчі центри") and nearest_uk.buttons[5] == ["Ще ▶️"]
    [mine] = await user.press("⭐ Мої центри")
    assert mine.text.startswith("Ваші центри") and names[0] in mine.text
    [unknown] = await user.send("/nonsense")
    assert unknown.text == "Я не знаю такої команди. /help — що я вмію."

    [document] = await user.send("/mydata")
    exported = json.loads(await tg.file_bytes(document.document["file_id"]))
    assert exported["telegram_id"] == user.id and exported["language"] == "uk"
    assert [s["center"] for s in exported["subscriptions"]] == [names[0]]

    [confirm] = await user.send("/forget")
    assert confirm.buttons == [["🗑 Так, видалити все"], ["Не видаляти"]]
    replies = await user.press("🗑 Так, видалити все")
    assert replies[-1].text.startswith("Готово: усе, що стосувалося вас, видалено")
    assert replies[-1].removes_keyboard
    tables = await bot_env.rows()
    assert not any(user.id in row for rows in tables.values() for row in rows)

    # A stranger again: the greeting and consent come back, in Telegram's language.
    greeting, consent = await user.send("/start")
    assert "Согласие" in consent.text


async def test_commands_are_registered_in_every_language(bot_env):
    commands = await bot_env.tg.commands()
    by_language = {entry.get("language_code") or "": entry["commands"] for entry in commands}
    assert set(by_language) >= {"", "ru", "uk", "en"}
    assert [c["command"] for c in by_language["en"]][:2] == ["start", "help"]
    assert by_language["uk"][0]["description"] == "Почати: знайти центр"
    assert by_language[""] == by_language["ru"]


async def test_the_command_menu_follows_a_language_switch(bot_env):
    user = await bot_env.tg.new_user(language_code="ru")
    await user.send("/language")
    await user.press("English")
    chat_menus = [
        entry for entry in await bot_env.tg.commands() if str(user.id) in str(entry.get("scope"))
    ]
    assert chat_menus and chat_menus[0]["commands"][1]["description"] == "What the bot can do"
