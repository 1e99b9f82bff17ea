"""➕ New activity or shift: a dialog step by step, a preview as residents will see it, then
the activity, or a weekly series and its first occurrences, saved.

The answers so far live in the dialog's state as a ``domain.activity_form.Draft``; every
answer is read and checked there. Once the preview has been shown, each step leads back to
it, so "Edit a field" is the same dialog entered at one step. ``start_activity_form`` starts
it prefilled (a resident's idea turned into an activity: the idea is closed when it saves).
New activities are left unannounced: the daily news job tells the center's subscribers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.activities import Category
from domain.activity_form import (
    MAX_CAPACITY,
    MAX_VOLUNTEERS,
    Draft,
    Problem,
    parse_count,
    parse_duration,
    weeks_end,
)
from domain.form_steps import FIELD_STEPS, TEXT_STEPS, next_step, read_answer
from handlers.access import CenterAccess, CoordinatorStates
from handlers.activity_form import (
    NO_END,
    UNLIMITED,
    VOLUNTEERS_ONLY,
    days_prompt,
    fields_keyboard,
    preview,
    problem_text,
    prompt,
)
from handlers.callbacks import CoordFormCb, CoordMenuCb, CoordSection, FormAction
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    NOT_LEAVING,
    Match,
    MenuButton,
    end_dialog,
    remove_buttons,
    show_in_place,
)
from storage.centers import Center

router = Router(name=__name__)


class NewActivity(CoordinatorStates):
    title = State()
    category = State()
    day = State()
    time = State()
    duration = State()
    capacity = State()
    role = State()
    places = State()
    place = State()
    description = State()
    repeat = State()
    days = State()
    end = State()
    preview = State()


# Which step each button belongs to; a button pressed at another step is out of date.
BUTTON_STEPS = {
    FormAction.CATEGORY: {"category"},
    FormAction.DURATION: {"duration"},
    FormAction.CAPACITY: {"capacity"},
    FormAction.NO_VOLUNTEERS: {"role"},
    FormAction.PLACES: {"places"},
    FormAction.SKIP: {"place", "description"},
    FormAction.ONCE: {"repeat"},
    FormAction.WEEKLY: {"repeat"},
    FormAction.WEEKDAY: {"days"},
    FormAction.EVERY: {"days"},
    FormAction.DAYS_DONE: {"days"},
    FormAction.END: {"end"},
    FormAction.FIELDS: {"preview"},
    FormAction.FIELD: {"preview"},
}


async def start_activity_form(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    center: Center,
    *,
    now: datetime,
    locale: str,
    title: str = "",
    description: str = "",
    idea_id: int | None = None,
) -> None:
    """Open the dialog for ``center``, with a suggested title and description (kept with
    one button), for the idea ``idea_id`` if it comes from one."""
    draft = Draft(title=title, description=description)
    await state.set_state(None)
    await state.set_data(
        {"center_id": center.id, "form": draft.to_data(), "editing": False, "idea_id": idea_id}
    )
    await _ask(bot, chat_id, state, "title", draft, center, now=now, locale=locale)


async def _ask(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    step: str,
    draft: Draft,
    center: Center,
    *,
    now: datetime,
    locale: str,
) -> None:
    editing = step == "preview" or bool((await state.get_data()).get("editing"))
    await state.update_data(form=draft.to_data(), editing=editing)
    await state.set_state(getattr(NewActivity, step))
    if step == "preview":
        text, keyboard = preview(draft, center, now=now, locale=locale)
    else:
        text, keyboard = prompt(step, draft, center, editing=editing, now=now, locale=locale)
    await bot.send_message(chat_id, text, reply_markup=keyboard)


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.NEW_ACTIVITY), CenterAccess())
async def new_activity(
    query: CallbackQuery,
    center: Center,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await query.answer()
    await start_activity_form(
        bot, query.from_user.id, state, center, now=clock(), locale=i18n.current_locale
    )


# A menu button or a command leaves the dialog and does what it always does.
router.message(StateFilter(NewActivity), MenuButton(*EVERY_MENU_BUTTON), CenterAccess())(end_dialog)
router.message(StateFilter(NewActivity), Match(F.text.startswith("/")), CenterAccess())(end_dialog)


@router.message(
    StateFilter(*(getattr(NewActivity, step) for step in TEXT_STEPS)),
    *DIALOG_ANSWER,
    CenterAccess(),
)
async def typed_answer(
    message: Message,
    state: FSMContext,
    center: Center,
    bot: Bot,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    step = (await state.get_state() or "").split(":", 1)[1]
    data = await state.get_data()
    draft = Draft.from_data(data["form"])
    now = clock()
    problem = read_answer(step, message.text, draft, ZoneInfo(center.timezone), now)
    if problem is not None:
        await message.answer(problem_text(problem, step))
        return
    following = next_step(step, draft, editing=bool(data.get("editing")))
    await _ask(
        bot, message.chat.id, state, following, draft, center, now=now, locale=i18n.current_locale
    )


@router.message(StateFilter(NewActivity), *NOT_LEAVING, CenterAccess())
async def not_an_answer(message: Message, state: FSMContext) -> None:
    step = (await state.get_state() or "").split(":", 1)[1]
    if step in TEXT_STEPS:
        await message.answer(_("Please send your answer as text."))
    else:
        await message.answer(_("Please choose with the buttons above."))


async def form_at(
    query: CallbackQuery, callback_data: CoordFormCb, state: FSMContext, steps: set[str] | None
) -> tuple[str, dict, Draft] | None:
    """The dialog's step, state and draft when this button belongs to it; otherwise the
    press is answered and nothing happens."""
    current = await state.get_state() or ""
    data = await state.get_data()
    group, _sep, step = current.partition(":")
    if group != NewActivity.__full_group_name__ or data.get("center_id") != callback_data.center_id:
        await query.answer(_("This form is closed. Start again from /coord."))
        return None
    if steps is not None and step not in steps:
        await query.answer(_("This button is out of date."))
        return None
    return step, data, Draft.from_data(data["form"])


@router.callback_query(
    CoordFormCb.filter(~F.action.in_({FormAction.SAVE, FormAction.DISCARD})), CenterAccess()
)
async def form_button(
    query: CallbackQuery,
    callback_data: CoordFormCb,
    state: FSMContext,
    center: Center,
    bot: Bot,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    action, value = callback_data.action, callback_data.value
    found = await form_at(query, callback_data, state, BUTTON_STEPS.get(action))
    if found is None:
        return
    step, data, draft = found
    editing = bool(data.get("editing"))
    locale = i18n.current_locale
    if action is FormAction.WEEKDAY or action is FormAction.EVERY:
        number = int(value) if value.isdigit() else 0
        if action is FormAction.WEEKDAY and 1 <= number <= 7:
            draft.weekdays = draft.weekdays ^ {number}
        elif action is FormAction.EVERY and number in (1, 2):
            draft.every_weeks = number
        await state.update_data(form=draft.to_data())
        await query.answer()
        await show_in_place(query, *days_prompt(draft, center, locale))
        return
    if action is FormAction.FIELDS:
        await query.answer()
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramBadRequest):  # a double tap: already shown
                await query.message.edit_reply_markup(reply_markup=fields_keyboard(center.id))
        return
    if action is FormAction.DAYS_DONE and not draft.weekdays:
        await query.answer(_("Choose at least one day."))
        return
    choice = _choose(action, value, step, draft, editing)
    if choice is None:
        await query.answer(_("This button is out of date."))
        return
    await query.answer()
    await remove_buttons(query)
    following = choice or next_step(step, draft, editing=editing)
    await _ask(bot, query.from_user.id, state, following, draft, center, now=clock(), locale=locale)


def _choose(action: FormAction, value: str, step: str, draft: Draft, editing: bool) -> str | None:
    """Apply a button to the draft. Returns the step to go to ("" for the usual next one),
    or None for a value no button has."""
    if action is FormAction.KEEP:
        if editing:
            return "preview"
        kept = {"title": draft.title, "description": draft.description}.get(step)
        return "" if kept else None  # a suggestion to keep, before the preview
    if action is FormAction.FIELD:
        return value if value in FIELD_STEPS else None
    if action is FormAction.CATEGORY:
        if value not in set(Category):
            return None
        draft.category = value
    elif action is FormAction.DURATION:
        minutes = parse_duration(value)
        if isinstance(minutes, Problem):
            return None
        draft.duration = minutes
    elif action is FormAction.CAPACITY:
        if value == UNLIMITED:
            draft.capacity, draft.participants = None, True
        elif value == VOLUNTEERS_ONLY:
            draft.capacity, draft.participants = None, False
        elif isinstance(seats := parse_count(value, MAX_CAPACITY), int):
            draft.capacity, draft.participants = seats, True
        else:
            return None
    elif action is FormAction.NO_VOLUNTEERS:
        if not draft.participants:
            return None  # a shift for volunteers only cannot go without them
        draft.volunteer_role, draft.volunteer_places = None, 0
    elif action is FormAction.PLACES:
        places = parse_count(value, MAX_VOLUNTEERS)
        if isinstance(places, Problem):
            return None
        draft.volunteer_places = places
    elif action is FormAction.SKIP:
        if step == "place":
            draft.place_note = None
        else:
            draft.description = ""
    elif action is FormAction.ONCE:
        draft.weekdays, draft.last_date = frozenset(), None
    elif action is FormAction.WEEKLY:
        assert draft.day is not None
        draft.weekdays = draft.weekdays or frozenset({draft.day.isoweekday()})
    elif action is FormAction.END:
        assert draft.day is not None
        if value == NO_END:
            draft.last_date = None
        elif value.isdigit() and 1 <= int(value) <= 52:
            draft.last_date = weeks_end(draft.day, int(value))
        else:
            return None
    return ""
