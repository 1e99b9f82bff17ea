"""Choosing reminders in Settings: what is shown, what is stored, and forged presses."""

from domain.reminders import ReminderKind, parse_reminders
from handlers.callbacks import ReminderChoice, RemindersCb
from storage.users import get_user
from tests.helpers import consenting_user

DEFAULT_BUTTONS = [
    ["✓ 24 hours before"],
    ["✓ 2 hours before"],
    ["1 hour before"],
    ["On the morning of the day (09:00)"],
    ["🔕 No reminders"],
]


async def stored(env, user_id):
    async with env.db.read() as conn:
        return (await get_user(conn, user_id)).reminders


async def answers(env, user):
    return [
        c["answer"]["text"] for c in await env.tg.callbacks(user.id) if c["data"].startswith("rset")
    ]


async def test_settings_show_the_default_reminders(bot_env):
    user = await consenting_user(bot_env, language_code="en")

    language, reminders, _news = await user.press("⚙️ Settings")
    assert ["✓ English"] in language.buttons
    assert reminders.buttons == DEFAULT_BUTTONS
    assert reminders.text.startswith("Reminders")
    assert "• 24 hours before\n• 2 hours before\n" in reminders.text
    assert "center's local time" in reminders.text and "(22:00–08:00)" in reminders.text
    assert await stored(bot_env, user.id) is None, "showing the screen stores nothing"

    [only] = await user.send("/reminders")
    assert only.text == reminders.text and only.buttons == DEFAULT_BUTTONS


async def test_toggling_reminders_is_stored_and_shown_in_place(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    [screen] = await user.send("/reminders")

    [edited] = await user.press("1 hour before")
    assert edited.message_id == screen.message_id
    assert edited.buttons[:3] == [["✓ 24 hours before"], ["✓ 2 hours before"], ["✓ 1 hour before"]]
    assert parse_reminders(await stored(bot_env, user.id)) == {
        ReminderKind.H24,
        ReminderKind.H2,
        ReminderKind.H1,
    }

    [edited] = await user.press("✓ 24 hours before")
    assert edited.message_id == screen.message_id
    assert edited.buttons[:3] == [["24 hours before"], ["✓ 2 hours before"], ["✓ 1 hour before"]]
    assert "• 2 hours before\n• 1 hour before\n" in edited.text
    assert "24 hours" not in edited.text
    assert parse_reminders(await stored(bot_env, user.id)) == {ReminderKind.H2, ReminderKind.H1}
    assert await answers(bot_env, user) == ["On: 1 hour before", "Off: 24 hours before"]


async def test_no_reminders_turns_them_all_off(bot_env):
    user = await consenting_user(bot_env)  # Russian, the default language
    _language, screen, _news = await user.press("⚙️ Настройки")
    assert screen.buttons[0] == ["✓ За 24 часа"]

    [edited] = await user.press("🔕 Без напоминаний")
    assert edited.message_id == screen.message_id
    assert await stored(bot_env, user.id) == ""
    assert not any(label.startswith("✓") for [label] in edited.buttons)
    assert "Выключены" in edited.text
    assert await answers(bot_env, user) == ["Напоминания выключены."]

    # From "off", one press turns a single reminder on, not the defaults back.
    await user.press("Утром в тот же день (09:00)")
    assert parse_reminders(await stored(bot_env, user.id)) == {ReminderKind.MORNING}


async def test_forged_reminder_presses_change_nothing(bot_env):
    stranger = await bot_env.tg.new_user(language_code="ru")
    await stranger.send("/start")
    message_id = (await stranger.last_bot_message()).message_id
    member = await consenting_user(bot_env, first_name="Борис")
    before = await bot_env.rows()

    replies = await stranger.callback(message_id, RemindersCb(choice=ReminderChoice.OFF).pack())
    assert "Согласие" in replies[-1].text, "without consent, the terms are shown"
    assert await answers(bot_env, stranger) == [
        "Сначала прочитайте и примите условия обработки данных."
    ]

    for data in ("rset:12h", "rset:", "rset:off:1", "rset:" + "z" * 60):
        await member.callback(message_id, data)
    assert await answers(bot_env, member) == ["Эта кнопка устарела."] * 4
    assert await bot_env.rows() == before
