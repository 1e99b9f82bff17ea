"""💡 A resident's idea for a center they follow: a text, whether they can help, and the
center's coordinators are told. Their answer, or the activity the idea becomes, comes back
as a push (handlers.idea_notices)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Final

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Settings
from bot.sender import Sender
from domain.activity_form import Problem, clean_text
from handlers.callbacks import IdeaCb, IdeaHelpCb
from handlers.consent import ask_for_consent, is_consented
from handlers.idea_notices import queue_new_idea
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    NOT_LEAVING,
    Match,
    MenuButton,
    end_dialog,
    remove_buttons,
)
from storage.centers import Center, get_center
from storage.database import Database
from storage.ideas import MAX_IDEA, add_idea, ideas_since
from storage.subscriptions import is_subscribed
from storage.users import User

router = Router(name=__name__)

# Ideas one person may give one center in a day: enough for anyone with ideas, too few to
# flood the coordinators.
DAILY_LIMIT: Final = 5
DAY: Final = timedelta(days=1)


class IdeaForm(StatesGroup):
    text = State()
    help = State()


async def _center_refusal(
    conn: AsyncConnection, user_id: int, center_id: int, now: datetime
) -> Center | str:
    """The center, when the user may propose an idea to it now; otherwise why not."""
    center = await get_center(conn, center_id)
    if center is None:
        return _("This center is no longer in the list.")
    if not await is_subscribed(conn, user_id, center_id):
        return _("Ideas are for the center's subscribers: subscribe to it first.")
    if (
        await ideas_since(conn, user_id=user_id, center_id=center_id, since=now - DAY)
        >= DAILY_LIMIT
    ):
        return _(
            "You have sent this center {n} ideas today. Thank you! Please send the next one "
            "tomorrow."
        ).format(n=DAILY_LIMIT)
    return center


@router.callback_query(IdeaCb.filter())
async def propose(
    query: CallbackQuery,
    callback_data: IdeaCb,
    account: User | None,
    settings: Settings,
    db: Database,
    bot: Bot,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    if not is_consented(account, settings):
        await ask_for_consent(query, settings)
        return
    async with db.read() as conn:
        found = await _center_refusal(conn, account.id, callback_data.center_id, clock())
    if isinstance(found, str):
        await query.answer(found, show_alert=True)
        return
    await query.answer()
    await state.set_state(IdeaForm.text)
    await state.set_data({"idea_center_id": found.id})
    await bot.send_message(
        query.from_user.id,
        _(
            "💡 Your idea for <b>{center}</b>: what would you like to see or do there? "
            "Describe it in one message, up to {limit} characters. The center's coordinators "
            "will read it."
        ).format(center=escape(found.name), limit=MAX_IDEA),
    )


router.message(StateFilter(IdeaForm), MenuButton(*EVERY_MENU_BUTTON))(end_dialog)
router.message(StateFilter(IdeaForm), Match(F.text.startswith("/")))(end_dialog)


@router.message(StateFilter(IdeaForm.text), *DIALOG_ANSWER)
async def idea_text(message: Message, state: FSMContext) -> None:
    text = clean_text(message.text, MAX_IDEA)
    if isinstance(text, Problem):
        await message.answer(
            _("Please keep it within {limit} characters and send it again.").format(limit=MAX_IDEA)
        )
        return
    await state.update_data(idea_text=text)
    await state.set_state(IdeaForm.help)

    def choice(label: str, can_help: bool) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=label, callback_data=IdeaHelpCb(can_help=can_help).pack())

    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[choice(_("🙋 Yes, I can help"), True), choice(_("No"), False)]]
    )
    await message.answer(_("Could you help to make it happen?"), reply_markup=keyboard)


@router.message(StateFilter(IdeaForm.help), *NOT_LEAVING)
async def use_the_buttons(message: Message) -> None:
    await message.answer(_("Please answer with the buttons above."))


@router.message(StateFilter(IdeaForm.text), *NOT_LEAVING)
async def needs_text(message: Message) -> None:
    await message.answer(_("Please send your idea as text."))


@router.callback_query(IdeaHelpCb.filter())
async def can_help(
    query: CallbackQuery,
    callback_data: IdeaHelpCb,
    account: User | None,
    settings: Settings,
    db: Database,
    bot: Bot,
    i18n: I18n,
    sender: Sender,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    data = await state.get_data()
    center_id, text = data.get("idea_center_id"), data.get("idea_text")
    if await state.get_state() != IdeaForm.help.state or not center_id or not text:
        await query.answer(_("This form is closed."))
        return
    if not is_consented(account, settings):
        await state.clear()
        await ask_for_consent(query, settings)
        return
    await state.clear()
    now = clock()
    async with db.write() as conn:
        # Checked again: the limit must hold when two ideas are sent at once.
        found = await _center_refusal(conn, account.id, center_id, now)
        if not isinstance(found, str):
            idea_id = await add_idea(
                conn,
                center_id=found.id,
                user_id=account.id,
                text=text,
                can_help=callback_data.can_help,
                now=now,
            )
            told = await queue_new_idea(
                conn, i18n, idea_id, found, now=now, quiet=settings.quiet_hours()
            )
    if isinstance(found, str):
        await query.answer(found, show_alert=True)
        return
    if told:
        sender.notify()
    await query.answer()
    await remove_buttons(query)
    await bot.send_message(
        query.from_user.id,
        _(
            "Thank you! Your idea has gone to the coordinators of {center}. Their answer will "
            "come here."
        ).format(center=escape(found.name)),
    )
