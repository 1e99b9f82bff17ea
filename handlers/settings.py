"""Settings (the language, reminders and news from one's centers) and help."""

from __future__ import annotations

import contextlib
from collections.abc import Set as AbstractSet
from datetime import time

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

from bot.commands import commands_for, refresh_personal_commands
from bot.config import SUPPORTED_LOCALES, Settings
from bot.middlewares import LOCALE_KEY
from domain.reminders import (
    MORNING_AT,
    QuietHours,
    ReminderKind,
    format_reminders,
    parse_reminders,
)
from handlers.callbacks import LanguageCb, ReminderChoice, RemindersCb
from handlers.consent import ask_for_consent, is_consented
from handlers.news_settings import send_news_choice
from handlers.ui import HELP, N_, SETTINGS, MenuButton, main_menu, remove_buttons, show_in_place
from storage.database import Database
from storage.users import User, get_user, set_language, set_reminders

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


# Buttons in the order people think of them: from the earliest reminder to the latest.
REMINDER_LABELS = {
    ReminderKind.H24: N_("24 hours before"),
    ReminderKind.H2: N_("2 hours before"),
    ReminderKind.H1: N_("1 hour before"),
    ReminderKind.MORNING: N_("On the morning of the day ({time})"),
}


def _clock(moment: time) -> str:
    return moment.strftime("%H:%M")


def reminder_label(kind: ReminderKind) -> str:
    return _(REMINDER_LABELS[kind]).format(time=_clock(MORNING_AT))


def reminders_text(kinds: AbstractSet[ReminderKind], quiet: QuietHours) -> str:
    if kinds:
        chosen = "\n".join(f"• {reminder_label(kind)}" for kind in REMINDER_LABELS if kind in kinds)
        status = _("I remind you before your activities and volunteer shifts:\n{chosen}").format(
            chosen=chosen
        )
    else:
        status = _("Off: I do not remind you before your activities and volunteer shifts.")
    # The quiet hours the jobs use (QUIET_HOURS_*), so the text cannot drift from them.
    parts = [_("<b>Reminders</b>"), status]
    if quiet.start != quiet.end:
        parts.append(
            _(
                "Times are the center's local time. At night ({start}–{end}) a reminder waits "
                "until {end}, unless the activity or shift starts before then."
            ).format(start=_clock(quiet.start), end=_clock(quiet.end))
        )
    else:
        parts.append(_("Times are the center's local time."))
    parts.append(_("Tap a button to turn a reminder on or off."))
    return "\n\n".join(parts)


def reminders_keyboard(kinds: AbstractSet[ReminderKind]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=("✓ " if kind in kinds else "") + reminder_label(kind),
                callback_data=RemindersCb(choice=ReminderChoice(kind.value)).pack(),
            )
        ]
        for kind in REMINDER_LABELS
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("🔕 No reminders"),
                callback_data=RemindersCb(choice=ReminderChoice.OFF).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def send_language_choice(message: Message, i18n: I18n) -> None:
    await message.answer(
        _("<b>Settings</b>\n\nLanguage of the bot:"),
        reply_markup=language_keyboard(i18n.current_locale),
    )


async def send_reminders_choice(message: Message, account: User | None, settings: Settings) -> None:
    # Someone without consent sees the defaults: pressing a button asks for consent first.
    kinds = parse_reminders(account.reminders if account is not None else None)
    text = reminders_text(kinds, settings.quiet_hours())
    await message.answer(text, reply_markup=reminders_keyboard(kinds))


@router.message(Command("settings"))
@router.message(MenuButton(SETTINGS))
async def show_settings(
    message: Message, i18n: I18n, account: User | None, settings: Settings
) -> None:
    # Separate messages: choosing a language takes its buttons away, the others' stay.
    await send_language_choice(message, i18n)
    await send_reminders_choice(message, account, settings)
    await send_news_choice(message, account, settings, i18n.current_locale)


@router.message(Command("language"))
async def choose_language(message: Message, i18n: I18n) -> None:
    await send_language_choice(message, i18n)


@router.message(Command("reminders"))
async def choose_reminders(message: Message, account: User | None, settings: Settings) -> None:
    await send_reminders_choice(message, account, settings)


@router.callback_query(RemindersCb.filter())
async def set_reminders_choice(
    query: CallbackQuery,
    callback_data: RemindersCb,
    account: User | None,
    settings: Settings,
    db: Database,
) -> None:
    if not is_consented(account, settings):
        await ask_for_consent(query, settings)
        return
    choice = callback_data.choice
    # Read again inside the write: two quick taps must toggle twice, not both from one state.
    async with db.write() as conn:
        current = await get_user(conn, account.id)
        kinds = parse_reminders(current.reminders if current is not None else None)
        if choice is ReminderChoice.OFF:
            kinds = frozenset()
            confirmation = _("Reminders are off.")
        else:
            kind = ReminderKind(choice.value)
            turned_on = kind not in kinds
            kinds = kinds | {kind} if turned_on else kinds - {kind}
            confirmation = (_("On: {reminder}") if turned_on else _("Off: {reminder}")).format(
                reminder=reminder_label(kind)
            )
        await set_reminders(conn, account.id, format_reminders(kinds))
    await query.answer(confirmation)
    text = reminders_text(kinds, settings.quiet_hours())
    await show_in_place(query, text, reminders_keyboard(kinds))


@router.callback_query(LanguageCb.filter())
async def set_language_choice(
    query: CallbackQuery,
    callback_data: LanguageCb,
    account: User | None,
    db: Database,
    state: FSMContext,
    i18n: I18n,
    settings: Settings,
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
    # The command menu follows the chosen language too, for this chat only.
    if account is not None:
        admin = account.id in settings.admin_ids
        await refresh_personal_commands(query.bot, i18n, db, account.id, admin=admin)
    else:
        with contextlib.suppress(TelegramAPIError):
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
            "/reminders: reminders before activities\n"
            "/privacy: what is stored and why\n"
            "/mydata: download everything stored about you\n"
            "/forget: delete everything stored about you"
        )
    )
