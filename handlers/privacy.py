"""/privacy, /mydata and /forget: see, download and erase what the bot stores."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from bot.config import Settings
from bot.sender import Sender
from handlers.callbacks import ConsentAction, ConsentCb, ForgetAction, ForgetCb
from handlers.consent import consent_text, is_consented
from handlers.notify import queue_promotions
from handlers.ui import remove_buttons
from storage.database import Database
from storage.signups import cancel_all
from storage.users import User, delete_user, export_user

router = Router(name=__name__)


@router.message(Command("privacy"))
async def privacy(message: Message, account: User | None, settings: Settings, i18n: I18n) -> None:
    text = consent_text(settings.consent_version)
    agree = InlineKeyboardButton(
        text=_("✅ I agree"), callback_data=ConsentCb(action=ConsentAction.ACCEPT).pack()
    )
    withdraw = InlineKeyboardButton(
        text=_("Withdraw consent and delete my data"),
        callback_data=ForgetCb(action=ForgetAction.ASK).pack(),
    )
    if account is None:
        text += "\n\n" + _("You have not agreed, so nothing about you is stored.")
        buttons = [[agree]]
    else:
        given = format_date(account.consent_at, format="long", locale=i18n.current_locale)
        if is_consented(account, settings):
            text += "\n\n" + _("✅ You agreed on {date}.").format(date=given)
            buttons = [[withdraw]]
        else:
            text += "\n\n" + _(
                "This text has changed since you agreed on {date}. Please agree to the new "
                "version, or delete your data."
            ).format(date=given)
            buttons = [[agree], [withdraw]]
    await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))


@router.message(Command("mydata"))
async def my_data(message: Message, db: Database) -> None:
    async with db.read() as conn:
        data = await export_user(conn, message.from_user.id)
    if data is None:
        await message.answer(_("Nothing about you is stored."))
        return
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    await message.answer_document(
        BufferedInputFile(content, filename="sosedi-my-data.json"),
        caption=_("Everything the bot stores about you."),
    )


@router.message(Command("forget"))
async def forget(message: Message, account: User | None) -> None:
    await _ask_to_confirm(message.bot, message.chat.id, account)


@router.callback_query(ForgetCb.filter(F.action == ForgetAction.ASK))
async def forget_from_privacy(query: CallbackQuery, account: User | None) -> None:
    await query.answer()
    await remove_buttons(query)
    await _ask_to_confirm(query.bot, query.from_user.id, account)


async def _ask_to_confirm(bot: Bot, chat_id: int, account: User | None) -> None:
    if account is None:
        await bot.send_message(
            chat_id, _("Nothing about you is stored, so there is nothing to delete.")
        )
        return
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("🗑 Yes, delete everything"),
                    callback_data=ForgetCb(action=ForgetAction.CONFIRM).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("Keep my data"), callback_data=ForgetCb(action=ForgetAction.KEEP).pack()
                )
            ],
        ]
    )
    text = _(
        "Delete everything the bot stores about you: your consent, language and subscriptions? "
        "This cannot be undone."
    )
    await bot.send_message(chat_id, text, reply_markup=keyboard)


@router.callback_query(ForgetCb.filter(F.action == ForgetAction.CONFIRM))
async def forget_confirmed(
    query: CallbackQuery,
    sender: Sender,
    db: Database,
    state: FSMContext,
    settings: Settings,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await erase_user(db, i18n, query.from_user.id, settings, clock())
    sender.notify()
    await state.clear()
    await query.answer()
    await remove_buttons(query)
    with contextlib.suppress(TelegramAPIError):
        # Telegram keeps a per-chat command menu set after a language switch.
        await query.bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=query.from_user.id))
    await query.bot.send_message(
        query.from_user.id,
        _("Done: everything about you has been deleted. To start again, send /start."),
        reply_markup=ReplyKeyboardRemove(),
    )


async def erase_user(
    db: Database, i18n: I18n, user_id: int, settings: Settings, now: datetime
) -> None:
    """Delete a user and everything that points to them; seats they held go to the waitlist
    first, and the news of them is queued. Tell the sender afterwards."""
    rules = settings.signup_rules()
    async with db.write() as conn:
        promotions = await cancel_all(conn, user_id, now=now, rules=rules)
        await delete_user(conn, user_id)
        await queue_promotions(conn, i18n, promotions, rules=rules, now=now)


@router.callback_query(ForgetCb.filter(F.action == ForgetAction.KEEP))
async def forget_cancelled(query: CallbackQuery) -> None:
    await query.answer(_("Nothing was deleted."))
    await remove_buttons(query)
