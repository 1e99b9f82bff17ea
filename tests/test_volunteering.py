"""Volunteers end to end: shifts, signing up by role, hours once a shift is over, the PDF."""

import re

from tests.activity_helpers import add_activity, add_quiet_center, subscribed_user


async def test_shift_sign_up_hours_and_certificate(bot_env):
    center = await add_quiet_center(bot_env)
    await add_activity(
        bot_env,
        center,
        title="Подготовка зала",
        accepts_participants=False,
        capacity=None,
        volunteer_role="Расставить столы",
        volunteer_places=2,
        in_hours=3,
    )
    user = await subscribed_user(bot_env, center, name="Ivan")
    [shifts] = await user.press("🙋 Volunteering")
    assert shifts.text.startswith("Volunteer shifts")
    assert (
        "Подготовка зала (Расставить столы)" in shifts.text and "2 places left of 2" in shifts.text
    )
    label = next(row[0] for row in shifts.buttons if "Подготовка зала" in row[0])
    [card] = await user.press(label)
    assert "Volunteers: Расставить столы" in card.text
    assert card.buttons[0] == ["🙋 Sign up as a volunteer"]
    [card] = await user.press("🙋 Sign up as a volunteer")
    assert "✅ You are signed up." in card.text and "1 place left of 2" in card.text

    [none_yet] = await user.press("⏱ My hours", message_id=shifts.message_id)
    assert none_yet.text.startswith("No hours yet")

    bot_env.clock.advance(hours=6)  # the two-hour shift is over
    [hours] = await user.press("⏱ My hours", message_id=shifts.message_id)
    assert "Total: 2 h" in hours.text and "Тихий центр (Екатеринбург) — 2 h" in hours.text
    assert re.search(r"(January|February|March|April|May|June|July|August|September|"
                     r"October|November|December) \d{4} — 2 h", hours.text)  # fmt: skip
    [document] = await user.press("📄 Certificate (PDF)")
    pdf = await bot_env.tg.file_bytes(document.document["file_id"])
    assert pdf.startswith(b"%PDF") and document.document["file_name"] == "volunteer-hours.pdf"


async def in_profile_dialog(bot_env):
    """A subscribed resident who has opened the volunteer profile dialog, and its question."""
    center = await add_quiet_center(bot_env)
    user = await subscribed_user(bot_env, center, name="Ivan")
    await user.press("🙋 Volunteering")
    replies = await user.press("👤 Volunteer profile")
    return user, replies[-1]


async def test_volunteer_profile_is_optional_and_saved(bot_env):
    user, question = await in_profile_dialog(bot_env)
    assert question.text.startswith("How should the coordinators call you?")
    [ask_skills] = await user.send("Иван Петрович")
    assert ask_skills.text.startswith("What can you help with?")
    [saved] = await user.send("Готовлю, чиню компьютеры")
    assert saved.text == "Saved. Thank you for helping!"
    [document] = await user.send("/mydata")
    exported = (await bot_env.tg.file_bytes(document.document["file_id"])).decode()
    assert "Иван Петрович" in exported and "чиню компьютеры" in exported
    # The dialog is over: free text is a search again.
    [search] = await user.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")


async def test_shifts_need_a_subscription_or_a_location(bot_env):
    user = await bot_env.tg.new_user(language_code="uk")
    [reply] = await user.send("🙋 Волонтерство")
    assert reply.text.startswith("Тут будуть волонтерські зміни")
    assert reply.buttons == [["⏱ Мої години", "👤 Профіль волонтера"]]
    [answer] = await user.press("⏱ Мої години")
    assert answer.text.startswith("Годин поки немає")


async def test_a_menu_button_ends_the_profile_dialog(bot_env):
    user, _question = await in_profile_dialog(bot_env)
    [mine] = await user.press("⭐ My centers")
    assert mine.text.startswith("Your centers")
    [search] = await user.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")
    [document] = await user.send("/mydata")
    exported = (await bot_env.tg.file_bytes(document.document["file_id"])).decode()
    assert '"volunteer_profile": null' in exported


async def test_help_and_settings_end_the_profile_dialog_too(bot_env):
    user, _question = await in_profile_dialog(bot_env)
    [help_] = await user.send("/help")
    assert help_.text.startswith("What I can do")
    await user.press("👤 Volunteer profile")
    settings = await user.send("⚙️ Settings")
    assert len(settings) == 3  # language, reminders, news: the settings as always
    [search] = await user.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")
