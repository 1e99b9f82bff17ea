"""News from one's centers in Settings: the weekly digest on or off, and the categories of
new activities to be told about. Shown under the language and reminders, edited in place."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import time

from aiogram import Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import get_day_names

from bot.config import Settings
from domain.activities import Category
from domain.announcements import ALL_CATEGORIES, format_categories, parse_categories
from handlers.activity_views import CATEGORY_NAMES
from handlers.callbacks import NewsCb, NewsChoice
from handlers.consent import ask_for_consent, is_consented
from handlers.ui import show_in_place
from storage.announcements import set_announce_categories, set_weekly_digest
from storage.database import Database
from storage.users import User, get_user

router = Router(name=__name__)

_PER_ROW = 2  # eight categories in four rows keep the screen short


def _when(weekday: int, at: time, locale: str) -> str:
    # babel numbers days from Monday = 0; ours are ISO, Monday = 1.
    return f"{get_day_names('wide', locale=locale)[weekday - 1]}, {at:%H:%M}"


def news_text(
    digest: bool, categories: AbstractSet[Category], settings: Settings, locale: str
) -> str:
    if digest:
        digest_status = _(
            "📰 Weekly digest: on. Every week ({when}, the center's local time) I send what is "
            "on that week at each of your centers."
        ).format(when=_when(settings.digest_weekday, settings.digest_hour, locale))
    else:
        digest_status = _("📰 Weekly digest: off.")
    if categories >= ALL_CATEGORIES:
        news_status = _("🆕 New activities: I tell you when your centers add any activity.")
    elif categories:
        chosen = "\n".join(
            f"• {_(label)}" for category, label in CATEGORY_NAMES.items() if category in categories
        )
        news_status = _(
            "🆕 New activities: I tell you when your centers add activities in these "
            "categories:\n{chosen}"
        ).format(chosen=chosen)
    else:
        news_status = _("🆕 New activities: off.")
    return "\n\n".join(
        [
            _("<b>News from your centers</b>"),
            digest_status,
            news_status,
            _("Tap a button to turn something on or off."),
        ]
    )


def news_keyboard(digest: bool, categories: AbstractSet[Category]) -> InlineKeyboardMarkup:
    def button(text: str, choice: NewsChoice) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=NewsCb(choice=choice).pack())

    rows = [[button(("✓ " if digest else "") + _("📰 Weekly digest"), NewsChoice.DIGEST)]]
    toggles = [
        button(("✓ " if category in categories else "") + _(label), NewsChoice(category.value))
        for category, label in CATEGORY_NAMES.items()
    ]
    rows += [toggles[i : i + _PER_ROW] for i in range(0, len(toggles), _PER_ROW)]
    rows.append(
        [
            button(_("All categories"), NewsChoice.ALL),
            button(_("🔕 No new activities"), NewsChoice.NONE),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def send_news_choice(
    message: Message, account: User | None, settings: Settings, locale: str
) -> None:
    # Someone without consent sees the defaults: pressing a button asks for consent first.
    digest = account.weekly_digest if account is not None else True
    categories = parse_categories(account.announce_categories if account is not None else None)
    await message.answer(
        news_text(digest, categories, settings, locale),
        reply_markup=news_keyboard(digest, categories),
    )


@router.callback_query(NewsCb.filter())
async def set_news_choice(
    query: CallbackQuery,
    callback_data: NewsCb,
    account: User | None,
    settings: Settings,
    db: Database,
    i18n: I18n,
) -> None:
    if not is_consented(account, settings):
        await ask_for_consent(query, settings)
        return
    choice = callback_data.choice
    # Read again inside the write: two quick taps must toggle twice, not both from one state.
    async with db.write() as conn:
        current = await get_user(conn, account.id)
        digest = current.weekly_digest if current is not None else True
        categories = parse_categories(current.announce_categories if current else None)
        if choice is NewsChoice.DIGEST:
            digest = not digest
            await set_weekly_digest(conn, account.id, digest)
            confirmation = _("Weekly digest: on.") if digest else _("Weekly digest: off.")
        else:
            if choice is NewsChoice.ALL:
                categories = ALL_CATEGORIES
                confirmation = _("New activities: every category.")
            elif choice is NewsChoice.NONE:
                categories = frozenset()
                confirmation = _("New activities: off.")
            else:
                category = Category(choice.value)
                turned_on = category not in categories
                categories = categories | {category} if turned_on else categories - {category}
                confirmation = (_("On: {category}") if turned_on else _("Off: {category}")).format(
                    category=_(CATEGORY_NAMES[category])
                )
            await set_announce_categories(conn, account.id, format_categories(categories))
    await query.answer(confirmation)
    await show_in_place(
        query,
        news_text(digest, categories, settings, i18n.current_locale),
        news_keyboard(digest, categories),
    )
