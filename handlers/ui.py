"""Shared pieces of the chat interface: the main menu and button housekeeping."""

from __future__ import annotations

import contextlib
from typing import Any

from aiogram import F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    TelegramObject,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.magic_filter import MagicFilter

from handlers.callbacks import SignupAction, SignupCb


def N_(message: str) -> str:
    """Marks a message id for extraction; it is translated where it is shown."""
    return message


NEAREST = N_("📍 Nearest center")
ACTIVITIES = N_("🗓 Activities")
SCHEDULE = N_("📋 My schedule")
VOLUNTEERING = N_("🙋 Volunteering")
FIND = N_("🔎 Find by city or street")
MY_CENTERS = N_("⭐ My centers")
SETTINGS = N_("⚙️ Settings")
HELP = N_("❓ Help")


EVERY_MENU_BUTTON = (NEAREST, ACTIVITIES, SCHEDULE, VOLUNTEERING, FIND, MY_CENTERS, SETTINGS, HELP)


def main_menu() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(NEAREST), request_location=True)],
            [KeyboardButton(text=_(ACTIVITIES)), KeyboardButton(text=_(SCHEDULE))],
            [KeyboardButton(text=_(VOLUNTEERING)), KeyboardButton(text=_(MY_CENTERS))],
            [KeyboardButton(text=_(FIND))],
            [KeyboardButton(text=_(SETTINGS)), KeyboardButton(text=_(HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=_("City, street or a menu button"),
    )


class Match(Filter):
    """An ``F`` expression checked on the event loop.

    aiogram calls a filter that is not a coroutine through ``asyncio.to_thread``, and a bare
    ``F`` expression is not one: each check of each such filter on each update was a trip to
    a worker thread, which cost more than all the routing around it.
    """

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)


class MenuButton(Filter):
    """Matches a menu label in any language: after a language switch the old keyboard may
    still be on screen until the new one arrives."""

    def __init__(self, *msgids: str) -> None:
        self.msgids = msgids

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        return message.text is not None and any(
            message.text == i18n.gettext(msgid, locale=locale)
            for msgid in self.msgids
            for locale in i18n.available_locales
        )


# Text that is neither a command nor a menu label: an answer in a dialog (the volunteer
# profile, a comment on a rating). A command or a menu label ends the dialog: end_dialog.
DIALOG_ANSWER = (Match(F.text & ~F.text.startswith("/")), ~MenuButton(*EVERY_MENU_BUTTON))


# Anything else, text or not: what a dialog's last handler ("please use the buttons") may
# answer. A command or a menu label passes end_dialog on to later handlers, this one's too.
NOT_LEAVING = (Match(~F.text.startswith("/")), ~MenuButton(*EVERY_MENU_BUTTON))


async def end_dialog(message: Message, state: FSMContext) -> None:
    """For a dialog's states, on a menu button or a command: the person moved on, so the
    dialog ends and the button or command does what it always does."""
    await state.clear()
    raise SkipHandler


async def remove_buttons(query: CallbackQuery) -> None:
    """Take the inline buttons off the message that was pressed. A double tap arrives twice:
    the second edit finds nothing to change, and that is fine."""
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


async def show_in_place(
    query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None
) -> None:
    """Replace the pressed message with new content (paging, a toggled button), or send it
    anew when the message is too old to edit. Pressing twice yields "message is not
    modified" from Telegram: the screen already shows what was asked for."""
    if not isinstance(query.message, Message):
        if text:
            await query.bot.send_message(query.from_user.id, text, reply_markup=keyboard)
        return
    try:
        await query.message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "message is not modified" not in error.message:
            raise


def shown_text(query: CallbackQuery) -> str:
    """The text of the pressed message, to keep it while only its buttons change. A message
    too old for Telegram to show us has none."""
    return query.message.html_text if isinstance(query.message, Message) else ""


def signup_button(text: str, action: SignupAction, signup_id: int) -> InlineKeyboardButton:
    """A button that acts on one sign-up: cancel or keep it, accept or decline an offer."""
    return InlineKeyboardButton(
        text=text, callback_data=SignupCb(action=action, signup_id=signup_id).pack()
    )
