"""✏️ Changing one field of an activity that has not started: title, description, place,
start, duration or the number of places (see handlers.activity_changes for what a change
does). Everyone signed up hears of a new time or place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.activities import Refusal
from domain.activity_form import (
    MAX_CAPACITY,
    MAX_DESCRIPTION,
    MAX_PLACE,
    MAX_TITLE,
    Problem,
    clean_line,
    clean_text,
    parse_count,
    parse_duration,
    parse_when,
    start_problem,
)
from domain.form_steps import UNLIMITED_WORDS
from domain.recurrence import local_to_utc
from handlers.access import CenterAccess, CoordinatorStates
from handlers.activity_changes import apply_change, heading, not_editable
from handlers.activity_form import duration_label, problem_text, rows_of
from handlers.callbacks import CoordActivityAction, CoordActivityCb, CoordEditCb, EditField
from handlers.coord import back_to_menu
from handlers.notify import refusal_text
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    N_,
    NOT_LEAVING,
    Match,
    MenuButton,
    end_dialog,
    remove_buttons,
)
from storage.activities import Activity, get_activity
from storage.centers import Center
from storage.database import Database
from storage.users import User

router = Router(name=__name__)

LABELS = {
    EditField.TITLE: N_("Title"),
    EditField.DESCRIPTION: N_("Description"),
    EditField.PLACE: N_("Place"),
    EditField.START: N_("Start time"),
    EditField.DURATION: N_("Duration"),
    EditField.CAPACITY: N_("Places"),
}
# Which form step's hints fit a field's wrong answers.
_HINT_STEPS = {
    EditField.TITLE: "title",
    EditField.DESCRIPTION: "description",
    EditField.PLACE: "place",
    EditField.START: "time",
    EditField.DURATION: "duration",
    EditField.CAPACITY: "capacity",
}


class EditActivity(CoordinatorStates):
    value = State()


def _edit_button(text: str, activity_id: int, field: EditField, clear: bool = False) -> Any:
    callback = CoordEditCb(activity_id=activity_id, field=field, clear=clear)
    return InlineKeyboardButton(text=text, callback_data=callback.pack())


@router.callback_query(CoordActivityCb.filter(F.action == CoordActivityAction.EDIT), CenterAccess())
async def edit_menu(
    query: CallbackQuery,
    activity: Activity,
    bot: Bot,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    refusal = not_editable(activity, clock())
    if refusal:
        await query.answer(refusal)
        return
    await query.answer()
    await state.clear()
    buttons = [_edit_button(_(label), activity.id, field) for field, label in LABELS.items()]
    rows = rows_of(buttons, 2)
    rows.append([back_to_menu(activity.center_id)])
    text = _("✏️ What would you like to change?") + "\n\n" + heading(activity, i18n.current_locale)
    await bot.send_message(
        query.from_user.id, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


def _current(activity: Activity, field: EditField) -> str:
    if field is EditField.TITLE:
        return escape(activity.title)
    if field is EditField.DESCRIPTION:
        return escape(activity.description) or "—"
    if field is EditField.PLACE:
        return escape(activity.place_note or "—")
    if field is EditField.DURATION:
        return duration_label(int((activity.ends_at - activity.starts_at) / timedelta(minutes=1)))
    if field is EditField.CAPACITY:
        return str(activity.capacity) if activity.capacity is not None else _("no limit")
    start = activity.starts_at.astimezone(ZoneInfo(activity.timezone))
    return start.strftime("%d.%m.%Y %H:%M")


def _question(activity: Activity, field: EditField) -> tuple[str, list[list[Any]]]:
    asks = {
        EditField.TITLE: _("Send the new title, up to {limit} characters.").format(limit=MAX_TITLE),
        EditField.DESCRIPTION: _("Send the new description, up to {limit} characters.").format(
            limit=MAX_DESCRIPTION
        ),
        EditField.PLACE: _("Send the new place in the center, e.g. <i>Hall 2</i>."),
        EditField.START: _(
            "Send the new date and time, like 25.12 18:30, or only the time, 18:30, to keep "
            "the day. The center's local time."
        ),
        EditField.DURATION: _("Send the new length in minutes (90) or hours and minutes (1:30)."),
        EditField.CAPACITY: _("Send the new number of places for participants."),
    }
    clear = {
        EditField.DESCRIPTION: _("🗑 No description"),
        EditField.PLACE: _("🗑 No place"),
        EditField.CAPACITY: _("♾ No limit"),
    }
    text = asks[field] + "\n\n" + _("Now: {value}").format(value=_current(activity, field))
    rows = []
    if field in clear:
        rows.append([_edit_button(clear[field], activity.id, field, clear=True)])
    return text, rows


@router.callback_query(CoordEditCb.filter(), CenterAccess())
async def choose_field(
    query: CallbackQuery,
    callback_data: CoordEditCb,
    activity: Activity,
    center: Center,
    account: User,
    bot: Bot,
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    field = callback_data.field
    refusal = not_editable(activity, clock())
    if refusal is None and field is EditField.CAPACITY and not activity.accepts_participants:
        refusal = _("This shift is for volunteers only: it has no places for participants.")
    if refusal is None and callback_data.clear and field not in _CLEARED:
        refusal = _("This button is out of date.")
    if refusal:
        await query.answer(refusal)
        return
    if callback_data.clear:
        await state.clear()
        outcome = await apply_change(
            db, i18n, settings, account, center, activity.id, field, _CLEARED[field], clock()
        )
        await query.answer()
        await remove_buttons(query)
        await _report(bot, query.from_user.id, activity, outcome, sender)
        return
    await query.answer()
    await state.set_state(EditActivity.value)
    await state.set_data(
        {"center_id": activity.center_id, "activity_id": activity.id, "field": field.value}
    )
    text, rows = _question(activity, field)
    rows.append([back_to_menu(activity.center_id)])
    await bot.send_message(
        query.from_user.id, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


# What "No description", "No place" and "No limit" set.
_CLEARED: dict[EditField, Any] = {
    EditField.DESCRIPTION: "",
    EditField.PLACE: None,
    EditField.CAPACITY: None,
}


router.message(StateFilter(EditActivity), MenuButton(*EVERY_MENU_BUTTON), CenterAccess())(
    end_dialog
)
router.message(StateFilter(EditActivity), Match(F.text.startswith("/")), CenterAccess())(end_dialog)


def _parse(field: EditField, text: str, activity: Activity, now: datetime) -> Any:
    """The new value typed for ``field``, or a Problem."""
    if field is EditField.TITLE:
        return clean_line(text, MAX_TITLE)
    if field is EditField.DESCRIPTION:
        return clean_text(text, MAX_DESCRIPTION)
    if field is EditField.PLACE:
        return clean_line(text, MAX_PLACE)
    if field is EditField.DURATION:
        return parse_duration(text)
    if field is EditField.CAPACITY:
        return None if text.strip().lower() in UNLIMITED_WORDS else parse_count(text, MAX_CAPACITY)
    zone = ZoneInfo(activity.timezone)
    found = parse_when(
        text, activity.starts_at.astimezone(zone).date(), now.astimezone(zone).date()
    )
    if isinstance(found, Problem):
        return found
    starts_at = local_to_utc(*found, zone)
    return start_problem(starts_at, now) or starts_at


@router.message(StateFilter(EditActivity.value), *DIALOG_ANSWER, CenterAccess())
async def typed_value(
    message: Message,
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
    data = await state.get_data()
    field = EditField(data["field"])
    now = clock()
    async with db.read() as conn:
        activity = await get_activity(conn, data["activity_id"])
    if activity is None or activity.center_id != center.id:
        await state.clear()
        await message.answer(refusal_text(Refusal.NOT_FOUND))
        return
    value = _parse(field, message.text, activity, now)
    if isinstance(value, Problem):
        if field is EditField.START and value in (Problem.BAD_DATE, Problem.BAD_TIME):
            hint = _("Send the new date and time like 25.12 18:30, or only the time, 18:30.")
        else:
            hint = problem_text(value, _HINT_STEPS[field])
        await message.answer(hint)
        return
    await state.clear()
    outcome = await apply_change(
        db, i18n, settings, account, center, activity.id, field, value, now
    )
    await _report(bot, message.chat.id, activity, outcome, sender)


@router.message(StateFilter(EditActivity), *NOT_LEAVING, CenterAccess())
async def not_text(message: Message) -> None:
    await message.answer(_("Please send your answer as text."))


async def _report(
    bot: Bot, chat_id: int, activity: Activity, outcome: tuple[str | None, int], sender: Sender
) -> None:
    refusal, queued = outcome
    if queued:
        sender.notify()
    if refusal:
        await bot.send_message(chat_id, refusal)
        return
    again = CoordActivityCb(action=CoordActivityAction.EDIT, activity_id=activity.id).pack()
    rows = [
        [InlineKeyboardButton(text=_("✏️ Change something else"), callback_data=again)],
        [back_to_menu(activity.center_id)],
    ]
    text = _("✅ Changed.")
    if queued:
        text += " " + _("People signed up will be told: {n}.").format(n=queued)
    await bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
