"""Choosing the weekly digest and the categories of new activities in Settings."""

from domain.activities import Category
from domain.announcements import ALL_CATEGORIES, parse_categories
from handlers.callbacks import NewsCb, NewsChoice
from storage.users import get_user
from tests.helpers import consenting_user

DEFAULT_BUTTONS = [
    ["✓ 📰 Weekly digest"],
    ["✓ 👧 Children", "✓ 🧓 Seniors"],
    ["✓ 🧶 Crafts", "✓ 🏃 Sport"],
    ["✓ 🎓 Lectures and talks", "✓ 🌱 Ecology"],
    ["✓ 🤝 Charity and help", "✓ ✨ Other"],
    ["All categories", "🔕 No new activities"],
]


async def stored(env, user_id):
    async with env.db.read() as conn:
        user = await get_user(conn, user_id)
    return user.weekly_digest, user.announce_categories


async def answers(env, user):
    return [
        c["answer"]["text"] for c in await env.tg.callbacks(user.id) if c["data"].startswith("news")
    ]


def test_every_category_has_its_button():
    assert {category.value for category in Category} <= {choice.value for choice in NewsChoice}


async def test_settings_show_the_digest_and_every_category_by_default(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    _language, _reminders, news = await user.press("⚙️ Settings")
    assert news.text.startswith("News from your centers")
    assert "Weekly digest: on. Every week (Monday, 10:00, the center's local time)" in news.text
    assert "add any activity" in news.text
    assert news.buttons == DEFAULT_BUTTONS
    assert await stored(bot_env, user.id) == (True, None), "showing the screen stores nothing"


async def test_toggles_are_stored_and_shown_in_place(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    *_, screen = await user.send("/settings")

    [edited] = await user.press("✓ 📰 Weekly digest", message_id=screen.message_id)
    assert edited.message_id == screen.message_id and edited.buttons[0] == ["📰 Weekly digest"]
    assert "Weekly digest: off." in edited.text
    assert (await stored(bot_env, user.id))[0] is False

    [edited] = await user.press("✓ 🧓 Seniors", message_id=screen.message_id)
    assert edited.buttons[1] == ["✓ 👧 Children", "🧓 Seniors"]
    assert "in these categories:\n• 👧 Children\n• 🧶 Crafts" in edited.text
    _digest, categories = await stored(bot_env, user.id)
    assert parse_categories(categories) == ALL_CATEGORIES - {Category.SENIORS}

    [edited] = await user.press("🔕 No new activities", message_id=screen.message_id)
    assert await stored(bot_env, user.id) == (False, "")
    assert "New activities: off." in edited.text
    assert not any(label.startswith("✓") for row in edited.buttons for label in row)

    await user.press("🌱 Ecology", message_id=screen.message_id)
    assert await stored(bot_env, user.id) == (False, "ecology")
    [edited] = await user.press("All categories", message_id=screen.message_id)
    assert await stored(bot_env, user.id) == (False, None)
    await user.press("📰 Weekly digest", message_id=screen.message_id)
    assert await stored(bot_env, user.id) == (True, None)
    assert await answers(bot_env, user) == [
        "Weekly digest: off.",
        "Off: 🧓 Seniors",
        "New activities: off.",
        "On: 🌱 Ecology",
        "New activities: every category.",
        "Weekly digest: on.",
    ]


async def test_forged_news_presses_change_nothing(bot_env):
    stranger = await bot_env.tg.new_user(language_code="ru")
    await stranger.send("/start")
    message_id = (await stranger.last_bot_message()).message_id
    member = await consenting_user(bot_env, first_name="Борис")
    before = await bot_env.rows()

    replies = await stranger.callback(message_id, NewsCb(choice=NewsChoice.NONE).pack())
    assert "Согласие" in replies[-1].text, "without consent, the terms are shown"
    assert await answers(bot_env, stranger) == [
        "Сначала прочитайте и примите условия обработки данных."
    ]

    for data in ("news:music", "news:", "news:all:1", "news:" + "z" * 60):
        await member.callback(message_id, data)
    assert await answers(bot_env, member) == ["Эта кнопка устарела."] * 4
    assert await bot_env.rows() == before
