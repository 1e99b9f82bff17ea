"""❌ Cancelling an activity that has not started, after a confirmation: every sign-up is
cancelled with it (their queued reminders dropped, the seats freed) and everyone who was
signed up, waiting or offered a seat is told in their own language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.activities import Refusal
from handlers.access import CenterAccess
from handlers.activity_changes import heading, not_editable
from handlers.activity_notices import queue_cancelled
from handlers.callbacks import CoordActivityAction, CoordActivityCb, CoordCancelCb
from handlers.coord import back_to_menu
from handlers.notify import refusal_text
from handlers.ui import remove_buttons, show_in_place
from storage.activities import Activity, cancel_activity, get_activity
from storage.audit import record
from storage.database import Database
from storage.signups import signed_up
from storage.users import User

router = Router(name=__name__)


@router.callback_query(
    CoordActivityCb.filter(F.action == CoordActivityAction.CANCEL), CenterAccess()
)
async def ask_to_cancel(
    query: CallbackQuery,
    activity: Activity,
    bot: Bot,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    refusal = not_editable(activity, clock())
    if refusal:
        await query.answer(refusal)
        return
    async with db.read() as conn:
        people = len(await signed_up(conn, activity.id))
    await query.answer()
    lines = [_("Cancel this activity?"), "", heading(activity, i18n.current_locale), ""]
    lines.append(
        ngettext(
            "{n} person signed up will be told.", "{n} people signed up will be told.", people
        ).format(n=people)
        if people
        else _("Nobody has signed up yet.")
    )

    def choice(text: str, confirm: bool) -> InlineKeyboardButton:
        callback = CoordCancelCb(activity_id=activity.id, confirm=confirm)
        return InlineKeyboardButton(text=text, callback_data=callback.pack())

    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[choice(_("Yes, cancel it"), True), choice(_("No, keep it"), False)]]
    )
    await bot.send_message(query.from_user.id, "\n".join(lines), reply_markup=keyboard)


@router.callback_query(CoordCancelCb.filter(F.confirm.is_(False)), CenterAccess())
async def keep(query: CallbackQuery) -> None:
    await query.answer(_("Nothing was changed."))
    await remove_buttons(query)


@router.callback_query(CoordCancelCb.filter(F.confirm.is_(True)), CenterAccess())
async def cancel(
    query: CallbackQuery,
    callback_data: CoordCancelCb,
    account: User,
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        # Checked again under the write lock: a double tap, or a start in the meantime.
        activity = await get_activity(conn, callback_data.activity_id)
        refusal = refusal_text(Refusal.NOT_FOUND) if activity is None else None
        refusal = refusal or not_editable(activity, now)
        if refusal is None:
            people = await signed_up(conn, activity.id)
            await cancel_activity(conn, activity.id, now=now)
            told = await queue_cancelled(
                conn, i18n, activity, people, now=now, quiet=settings.quiet_hours()
            )
            await record(
                conn,
                account.id,
                "activity.cancel",
                now=now,
                center_id=activity.center_id,
                activity_id=activity.id,
                title=activity.title,
                signed_up=len(people),
            )
    if refusal:
        await query.answer(refusal)
        return
    if told:
        sender.notify()
    await query.answer(_("Cancelled."))
    text = _("❌ Cancelled.") + "\n\n" + heading(activity, i18n.current_locale)
    if people:
        text += "\n\n" + ngettext(
            "{n} person signed up is being told.", "{n} people signed up are being told.", told
        ).format(n=told)
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[back_to_menu(activity.center_id)]])
    await show_in_place(query, text, keyboard)
