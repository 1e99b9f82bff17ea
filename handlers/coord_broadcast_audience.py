"""📣 Announcement: who gets it. The center's subscribers, the people of one of its upcoming
activities (picked from a list) or its volunteers; then the preview, the message exactly as
they will get it, and their number, people who blocked the bot left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.broadcasts import Audience
from handlers.access import CenterAccess
from handlers.activity_views import button_label
from handlers.broadcast_views import audience_line, recipient_keyboard
from handlers.callbacks import BroadcastStep, CoordBroadcastCb
from handlers.coord_broadcast import (
    BroadcastForm,
    activity_problem,
    audience_keyboard,
    draft_of,
    gone,
    step_button,
)
from handlers.ui import show_in_place
from storage.activities import Activity, get_activities
from storage.broadcasts import count_recipients, upcoming_activity_ids
from storage.centers import Center
from storage.database import Database

router = Router(name=__name__)

ACTIVITY_CHOICES = 20


@router.callback_query(CoordBroadcastCb.filter(F.step == BroadcastStep.AUDIENCE), CenterAccess())
async def choose_again(query: CallbackQuery, center: Center, state: FSMContext) -> None:
    if await draft_of(state, center) is None:
        await query.answer(gone(), show_alert=True)
        return
    await state.set_state(BroadcastForm.audience)
    await query.answer()
    await show_in_place(query, _("Who should get it?"), audience_keyboard(center.id))


@router.callback_query(CoordBroadcastCb.filter(F.step == BroadcastStep.ACTIVITIES), CenterAccess())
async def list_activities(
    query: CallbackQuery,
    center: Center,
    state: FSMContext,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    if await draft_of(state, center) is None:
        await query.answer(gone(), show_alert=True)
        return
    async with db.read() as conn:
        ids = await upcoming_activity_ids(conn, center.id, now=clock(), limit=ACTIVITY_CHOICES)
        found = await get_activities(conn, ids)
    if not found:
        await query.answer(_("The center has no upcoming activities."), show_alert=True)
        return
    await query.answer()
    rows = [
        [step_button(button_label(a, i18n.current_locale), BroadcastStep.ACTIVITY, center.id, a.id)]
        for a in found
    ]
    rows.append([step_button(_("‹ Back"), BroadcastStep.AUDIENCE, center.id)])
    await show_in_place(
        query,
        _("Whose activity? Everyone signed up for it gets the announcement, the waitlist too."),
        InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(
    CoordBroadcastCb.filter(
        F.step.in_({BroadcastStep.SUBSCRIBERS, BroadcastStep.VOLUNTEERS, BroadcastStep.ACTIVITY})
    ),
    CenterAccess(),
)
async def choose(
    query: CallbackQuery,
    callback_data: CoordBroadcastCb,
    center: Center,
    activity: Activity | None,
    state: FSMContext,
    db: Database,
    bot: Bot,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    draft = await draft_of(state, center)
    if draft is None:
        await query.answer(gone(), show_alert=True)
        return
    now = clock()
    audience = {
        BroadcastStep.SUBSCRIBERS: Audience.SUBSCRIBERS,
        BroadcastStep.VOLUNTEERS: Audience.VOLUNTEERS,
        BroadcastStep.ACTIVITY: Audience.ACTIVITY,
    }[callback_data.step]
    if audience is Audience.ACTIVITY:
        problem = activity_problem(activity, center, now)
        if problem is not None:
            await query.answer(problem, show_alert=True)
            return
    else:
        activity = None
    activity_id = activity.id if activity else None
    async with db.read() as conn:
        count = await count_recipients(conn, audience, center.id, activity_id, now=now)
    await state.update_data(bc_audience=audience.value, bc_activity_id=activity_id)
    await state.set_state(BroadcastForm.audience)
    await query.answer()
    who = audience_line(audience, center, activity, i18n.current_locale)
    await show_in_place(query, _("To: {audience}").format(audience=who), None)
    chat = query.from_user.id
    keyboard = recipient_keyboard(center)
    if draft.photo is not None:
        await bot.send_photo(chat, draft.photo, caption=draft.text, reply_markup=keyboard)
    else:
        await bot.send_message(chat, draft.text, reply_markup=keyboard)
    await bot.send_message(chat, summary(who, count), reply_markup=confirm_keyboard(center, count))


def summary(who: str, count: int) -> str:
    lines = [
        _("☝️ This is the announcement exactly as people will get it."),
        "",
        _("To: {audience}").format(audience=who),
        _("Recipients: {count}").format(count=count),
        _("(People who have blocked the bot are not counted: they would not get it.)"),
    ]
    if not count:
        lines += ["", _("Nobody would get it: choose another audience.")]
    return "\n".join(lines)


def confirm_keyboard(center: Center, count: int) -> InlineKeyboardMarkup:
    rows = []
    if count:
        rows.append(
            [
                step_button(_("📤 Send now"), BroadcastStep.NOW, center.id),
                step_button(_("🕒 Send later"), BroadcastStep.LATER, center.id),
            ]
        )
    rows.append([step_button(_("👥 Another audience"), BroadcastStep.AUDIENCE, center.id)])
    rows.append([step_button(_("✖ Cancel"), BroadcastStep.QUIT, center.id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
