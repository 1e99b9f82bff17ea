"""The end of the new-activity dialog: Save (the activity, or the series and the occurrences
of its first weeks) or Cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.activity_form import Draft
from handlers.access import CenterAccess
from handlers.activity_form import problem_text
from handlers.callbacks import CoordFormCb, CoordMenuCb, CoordSection, FormAction
from handlers.coord import back_to_menu
from handlers.coord_new import form_at
from handlers.idea_notices import idea_became_activity
from handlers.ui import remove_buttons
from storage.activities import insert_activity
from storage.audit import record
from storage.centers import Center
from storage.database import Database
from storage.series import first_occurrence, insert_series, materialise
from storage.users import User

router = Router(name=__name__)


@router.callback_query(CoordFormCb.filter(F.action == FormAction.SAVE), CenterAccess())
async def save(
    query: CallbackQuery,
    callback_data: CoordFormCb,
    state: FSMContext,
    center: Center,
    account: User,
    bot: Bot,
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    found = await form_at(query, callback_data, state, {"preview"})
    if found is None:
        return
    _step, data, draft = found
    now = clock()
    zone = ZoneInfo(center.timezone)
    problem = draft.problem(zone, now)
    if problem is not None:
        # Still in the preview: "Edit a field" mends it.
        await query.answer(problem_text(problem, "preview"), show_alert=True)
        return
    # Cleared first: a second tap on Save finds the form closed instead of saving twice.
    await state.clear()
    idea_id = data.get("idea_id")
    async with db.write() as conn:
        series_id, created = None, 1
        if draft.repeats:
            series_id = await insert_series(conn, **draft.series_row(center.id, now))
            created = await materialise(conn, today_utc=now, series_ids=[series_id])
            activity_id = await first_occurrence(conn, series_id)
        else:
            activity_id = await insert_activity(conn, **draft.activity_row(center.id, zone, now))
        await record(
            conn,
            account.id,
            "activity.create",
            now=now,
            center_id=center.id,
            activity_id=activity_id,
            series_id=series_id,
            title=draft.title,
            idea_id=idea_id,
        )
        told = isinstance(idea_id, int) and await idea_became_activity(
            conn,
            i18n,
            idea_id,
            center=center,
            activity_id=activity_id,
            actor_id=account.id,
            now=now,
            quiet=settings.quiet_hours(),
        )
    if told:
        sender.notify()
    await query.answer(_("Saved."))
    await remove_buttons(query)
    await bot.send_message(
        query.from_user.id, _saved_text(draft, created), reply_markup=_after_keyboard(center.id)
    )


def _saved_text(draft: Draft, created: int) -> str:
    lines = [
        _(
            "✅ Saved: <b>{title}</b>. It is in 🗓 Activities now; subscribers of the center "
            "will hear of it with the next news of new activities."
        ).format(title=escape(draft.title))
    ]
    if draft.repeats:
        lines.append(
            ngettext(
                "{n} date of the series is on the calendar; later weeks are added as they come.",
                "{n} dates of the series are on the calendar; later weeks are added as they come.",
                created,
            ).format(n=created)
        )
    return "\n\n".join(lines)


def _after_keyboard(center_id: int) -> InlineKeyboardMarkup:
    another = CoordMenuCb(section=CoordSection.NEW_ACTIVITY, center_id=center_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("➕ Another one"), callback_data=another)],
            [back_to_menu(center_id)],
        ]
    )


@router.callback_query(CoordFormCb.filter(F.action == FormAction.DISCARD), CenterAccess())
async def discard(
    query: CallbackQuery, callback_data: CoordFormCb, state: FSMContext, bot: Bot
) -> None:
    if await form_at(query, callback_data, state, None) is None:
        return
    await state.clear()
    await query.answer()
    await remove_buttons(query)
    await bot.send_message(
        query.from_user.id,
        _("Cancelled: nothing was saved."),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[back_to_menu(callback_data.center_id)]]
        ),
    )
