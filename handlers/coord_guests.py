"""Registering at the desk someone who has no Telegram: their name and how many come. They
take places like any resident; taking one off gives the places to the waitlist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.roster import (
    MAX_GUEST_NAME,
    RosterRefusal,
    clean_name,
    guest_refusal,
    parse_party,
    party_limit,
)
from handlers.access import CenterAccess, CoordinatorStates
from handlers.callbacks import CoordActivityAction, CoordActivityCb, CoordGuestCb, GuestAction
from handlers.coord_activities import render_card
from handlers.roster_views import guests_screen, party, refusal_text
from handlers.ui import EVERY_MENU_BUTTON, Match, MenuButton, end_dialog, remove_buttons
from storage.activities import Activity, get_activity
from storage.audit import record
from storage.centers import Center
from storage.database import Database
from storage.guests import add_guest, guests_of

router = Router(name=__name__)

_PARTY_BUTTONS = 4


class GuestForm(CoordinatorStates):
    name = State()
    party = State()


def _refusal(activity: Activity, now: datetime) -> str | None:
    refusal = guest_refusal(
        status=activity.status,
        starts_at=activity.starts_at,
        accepts_participants=activity.accepts_participants,
        now=now,
    )
    return None if refusal is None else refusal_text(refusal)


@router.callback_query(
    CoordActivityCb.filter(F.action == CoordActivityAction.GUEST), CenterAccess()
)
async def start(
    query: CallbackQuery,
    activity: Activity,
    bot: Bot,
    db: Database,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    refusal = _refusal(activity, clock())
    if refusal is not None:
        await query.answer(refusal, show_alert=True)
        return
    await query.answer()
    async with db.read() as conn:
        guests = await guests_of(conn, activity.id)
    lines, rows = guests_screen(activity, guests)
    await state.clear()
    if party_limit(activity.seats_left) < 1:
        lines += ["", refusal_text(RosterRefusal.FULL)]
    else:
        await state.set_state(GuestForm.name)
        await state.update_data(center_id=activity.center_id, activity_id=activity.id)
        lines += [
            "",
            _(
                "Send the name of the person you are registering, as they will be called at "
                "the door. /cancel to stop."
            ),
        ]
    keyboard = InlineKeyboardMarkup(inline_keyboard=rows)
    await bot.send_message(query.from_user.id, "\n".join(lines), reply_markup=keyboard)


@router.message(StateFilter(GuestForm), Command("cancel"), CenterAccess())
async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Stopped: nobody was added."))


# A menu button or another command ends the dialog and does what it always does.
router.message(StateFilter(GuestForm), MenuButton(*EVERY_MENU_BUTTON), CenterAccess())(end_dialog)
router.message(StateFilter(GuestForm), Match(F.text.startswith("/")), CenterAccess())(end_dialog)
router.message(StateFilter(GuestForm), Match(F.location), CenterAccess())(end_dialog)


async def _dialog_activity(
    message: Message, state: FSMContext, center: Center, db: Database
) -> tuple[Activity, dict] | None:
    """The activity the dialog is about, with the dialog's data; None, the dialog ended and
    the coordinator told, when it is gone or not this center's."""
    data = await state.get_data()
    async with db.read() as conn:
        activity = await get_activity(conn, data.get("activity_id", 0))
    if activity is None or activity.center_id != center.id:
        await state.clear()
        await message.answer(refusal_text(RosterRefusal.GONE))
        return None
    return activity, data


@router.message(StateFilter(GuestForm.name), Match(F.text), CenterAccess())
async def name_given(
    message: Message,
    center: Center,
    db: Database,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    found = await _dialog_activity(message, state, center, db)
    if found is None:
        return
    activity, _data = found
    name = clean_name(message.text)
    if name is None:
        await message.answer(
            _("A name of 1 to {limit} characters, please. Send it again.").format(
                limit=MAX_GUEST_NAME
            )
        )
        return
    refusal = _refusal(activity, clock())
    limit = party_limit(activity.seats_left)
    if refusal is None and limit < 1:
        refusal = refusal_text(RosterRefusal.FULL)
    if refusal is not None:
        await state.clear()
        await message.answer(refusal)
        return
    await state.update_data(name=name)
    await state.set_state(GuestForm.party)
    buttons = [
        InlineKeyboardButton(
            text=str(size),
            callback_data=CoordGuestCb(
                action=GuestAction.PARTY, activity_id=activity.id, party=size
            ).pack(),
        )
        for size in range(1, min(_PARTY_BUTTONS, limit) + 1)
    ]
    await message.answer(
        _(
            "How many people come under the name {name}, counting them? Tap a number or send "
            "one (at most {limit})."
        ).format(name=f"<b>{escape(name)}</b>", limit=limit),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons]),
    )


@router.message(StateFilter(GuestForm.party), Match(F.text), CenterAccess())
async def party_typed(
    message: Message,
    center: Center,
    bot: Bot,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    found = await _dialog_activity(message, state, center, db)
    if found is None:
        return
    activity, data = found
    limit = max(1, party_limit(activity.seats_left))
    size = parse_party(message.text, limit)
    if size is None:
        await message.answer(_("Send a number from 1 to {limit}.").format(limit=limit))
        return
    await _register(message.from_user.id, activity, data["name"], size, bot, db, i18n, state, clock)


@router.callback_query(CoordGuestCb.filter(F.action == GuestAction.PARTY), CenterAccess())
async def party_pressed(
    query: CallbackQuery,
    callback_data: CoordGuestCb,
    activity: Activity,
    bot: Bot,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    data = await state.get_data()
    in_dialog = await state.get_state() == GuestForm.party.state
    if not in_dialog or data.get("activity_id") != activity.id or callback_data.party < 1:
        await query.answer(_("This button is out of date."))
        return
    await query.answer()
    await remove_buttons(query)
    await _register(
        query.from_user.id, activity, data["name"], callback_data.party, bot, db, i18n, state, clock
    )


async def _register(
    actor_id: int,
    activity: Activity,
    name: str,
    size: int,
    bot: Bot,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    await state.clear()
    now = clock()
    async with db.write() as conn:
        outcome = await add_guest(
            conn, activity_id=activity.id, name=name, party_size=size, by=actor_id, now=now
        )
        if outcome.guest is not None:
            await record(
                conn,
                actor_id,
                "guest.add",
                now=now,
                center_id=activity.center_id,
                activity_id=activity.id,
                guest_id=outcome.guest.id,
                party_size=size,
            )
    if outcome.refusal is not None:
        await bot.send_message(actor_id, refusal_text(outcome.refusal))
        return
    async with db.read() as conn:
        fresh = await get_activity(conn, activity.id)
        text, keyboard = await render_card(conn, fresh, now=now, locale=i18n.current_locale)
    done = _("✅ {guest} is on the list.").format(guest=f"<b>{party(name, size)}</b>")
    await bot.send_message(actor_id, f"{done}\n\n{text}", reply_markup=keyboard)


@router.message(StateFilter(GuestForm), CenterAccess())
async def needs_text(message: Message) -> None:
    await message.answer(_("Please send it as text, or /cancel."))
