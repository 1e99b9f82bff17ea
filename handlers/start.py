"""/start: the greeting, a deep link from a store's QR poster, then consent or the menu."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from domain.deeplinks import parse_center_payload
from handlers.centers import send_center_card
from handlers.consent import is_consented, send_consent_screen
from handlers.ui import main_menu
from storage.centers import Center, get_center
from storage.database import Database
from storage.subscriptions import is_subscribed
from storage.users import User

router = Router(name=__name__)


@router.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    bot: Bot,
    account: User | None,
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime],
    state: FSMContext,
) -> None:
    await state.set_state(None)  # /start leaves any half-finished dialog
    name = escape(message.from_user.first_name)
    center, subscribed = await _linked_center(command.args, account, db)
    if command.args and center is None:
        await message.answer(_("This link is out of date or mistyped, so here is the usual start."))
    consented = is_consented(account, settings)
    if consented:
        await message.answer(_("Welcome back, {name}!").format(name=name), reply_markup=main_menu())
    else:
        greeting = _(
            "Hello, {name}! I am Sosedi, the bot of the community centers in your "
            "neighbourhood stores. I will help you find the nearest center and follow its news.\n\n"
            "Language: /language. Help: /help."
        ).format(name=name)
        await message.answer(greeting, reply_markup=ReplyKeyboardRemove())
    if center is not None:
        await send_center_card(bot, message.chat.id, center, subscribed=subscribed, now=clock())
    if not consented:
        await send_consent_screen(bot, message.chat.id, settings)


async def _linked_center(
    payload: str | None, account: User | None, db: Database
) -> tuple[Center | None, bool]:
    center_id = parse_center_payload(payload)
    if center_id is None:
        return None, False
    async with db.read() as conn:
        center = await get_center(conn, center_id)
        subscribed = bool(center and account and await is_subscribed(conn, account.id, center.id))
    return center, subscribed
