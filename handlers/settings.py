"""Settings (for now: the language) and help."""

from __future__ import annotations

import contextlib

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.commands import commands_for
from bot.config import SUPPORTED_LOCALES
from bot.middlewares import LOCALE_KEY
from handlers.callbacks import LanguageCb
from handlers.ui import HELP, SETTINGS, MenuButton, main_menu, remove_buttons
from storage.database import Database
from storage.users import User, set_language

router = Router(name=__name__)

# Each language is offered under its own name, the way people look for it; not translated.
LANGUAGE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=("✓ " if code == current else "") + LANGUAGE_NAMES[code],
            callback_data=LanguageCb(code=code).pack(),
        )
        for code in SUPPORTED_LOCALES
    ]
    return InlineKeyboardMarkup(inline_keyboard=[[button] for button in buttons])


@router.message(Command("language", "settings"))
@router.message(MenuButton(SETTINGS))
async def choose_language(message: Message, i18n: I18n) -> None:
    await message.answer(
        _("<b>Settings</b>\n\nLanguage of the bot:"),
        reply_markup=language_keyboard(i18n.current_locale),
    )


@router.callback_query(LanguageCb.filter())
async def set_language_choice(
    query: CallbackQuery,
    callback_data: LanguageCb,
    account: User | None,
    db: Database,
    state: FSMContext,
    i18n: I18n,
) -> None:
    code = callback_data.code
    if code not in SUPPORTED_LOCALES:
        await query.answer(_("This button is out of date."))
        return
    if account is not None:
        async with db.write() as conn:
            await set_language(conn, account.id, code)
    else:
        await state.update_data({LOCALE_KEY: code})
    with contextlib.suppress(TelegramAPIError):
        # The command menu follows the chosen language too, for this chat only.
        await query.bot.set_my_commands(
            commands_for(i18n, code), scope=BotCommandScopeChat(chat_id=query.from_user.id)
        )
    with i18n.use_locale(code):
        await query.answer(LANGUAGE_NAMES[code])
        await remove_buttons(query)
        await query.bot.send_message(
            query.from_user.id,
            _("Done: I will speak English from now on."),
            reply_markup=main_menu(),
        )


@router.message(Command("help"))
@router.message(MenuButton(HELP))
async def show_help(message: Message) -> None:
    await message.answer(
        _(
            "<b>What I can do</b>\n\n"
            "📍 <b>Nearest center</b>: tap the button and share your location, and I will list "
            "the closest community centers with the distance to each.\n"
            "🔎 Or just type a city or street, for example <i>Yekaterinburg</i>.\n"
            "Open a center to see its address and opening hours on a map, and subscribe to get "
            "its news. ⭐ <b>My centers</b> lists your subscriptions.\n"
            "🗓 <b>Activities</b>: what is on at your centers; sign up, alone or with family.\n"
            "📋 <b>My schedule</b>: your sign-ups and waitlist places, and a calendar file.\n"
            "🙋 <b>Volunteering</b>: shifts where help is needed, and your hours.\n\n"
            "/start: start again\n"
            "/schedule: my sign-ups\n"
            "/language: change the language\n"
            "/privacy: what is stored and why\n"
            "/mydata: download everything stored about you\n"
            "/forget: delete everything stored about you"
        )
    )
