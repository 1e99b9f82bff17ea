"""Taking a guest registered at the desk off an activity's list: the places go to the
waitlist at once, and whoever is offered one hears of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.roster import RosterRefusal, guest_refusal
from handlers.access import CenterAccess
from handlers.callbacks import CoordGuestCb, GuestAction
from handlers.coord_activities import render_card
from handlers.notify import queue_promotions
from handlers.roster_views import back_to_card, party, refusal_text
from handlers.ui import show_in_place
from storage.activities import Activity, get_activity
from storage.audit import record
from storage.database import Database
from storage.guests import get_guest, remove_guest

router = Router(name=__name__)


@router.callback_query(CoordGuestCb.filter(F.action == GuestAction.ASK_REMOVE), CenterAccess())
async def ask_remove(
    query: CallbackQuery,
    callback_data: CoordGuestCb,
    activity: Activity,
    db: Database,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        guest = await get_guest(conn, callback_data.guest_id)
    if guest is None or guest.activity_id != activity.id:
        await query.answer(refusal_text(RosterRefusal.GONE), show_alert=True)
        return
    refusal = guest_refusal(
        status=activity.status, starts_at=activity.starts_at, accepts_participants=True, now=clock()
    )
    if refusal is not None:
        await query.answer(refusal_text(refusal), show_alert=True)
        return
    await state.clear()  # the screen that asked for a new guest's name is replaced
    yes = CoordGuestCb(action=GuestAction.REMOVE, activity_id=activity.id, guest_id=guest.id)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("✖ Yes, take off the list"), callback_data=yes.pack())],
            [back_to_card(activity.id)],
        ]
    )
    text = _("Take {guest} off the list? Their places go to the waitlist.").format(
        guest=f"<b>{party(guest.name, guest.party_size)}</b>"
    )
    await show_in_place(query, text, keyboard)
    await query.answer()


@router.callback_query(CoordGuestCb.filter(F.action == GuestAction.REMOVE), CenterAccess())
async def remove(
    query: CallbackQuery,
    callback_data: CoordGuestCb,
    activity: Activity,
    db: Database,
    i18n: I18n,
    settings: Settings,
    sender: Sender,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    rules = settings.signup_rules()
    async with db.write() as conn:
        outcome = await remove_guest(
            conn, activity_id=activity.id, guest_id=callback_data.guest_id, now=now, rules=rules
        )
        if outcome.refusal is None:
            await record(
                conn,
                query.from_user.id,
                "guest.remove",
                now=now,
                center_id=activity.center_id,
                activity_id=activity.id,
                guest_id=outcome.guest.id,
                party_size=outcome.guest.party_size,
            )
            queued = await queue_promotions(conn, i18n, outcome.promotions, rules=rules, now=now)
    if outcome.refusal is not None:
        await query.answer(refusal_text(outcome.refusal), show_alert=True)
        return
    if queued:
        sender.notify()
    async with db.read() as conn:
        fresh = await get_activity(conn, activity.id)
        text, keyboard = await render_card(conn, fresh, now=now, locale=i18n.current_locale)
    await show_in_place(query, text, keyboard)
    await query.answer(_("Taken off the list."))
