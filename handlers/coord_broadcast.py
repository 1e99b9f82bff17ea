"""📣 Announcement, the section of the /coord menu: the dialog's states and its first step.

The coordinator sends a text, a photo with a caption, or a photo and then its text; picks
the audience (``coord_broadcast_audience``) and sees the message exactly as the recipients
will get it, with their number; and sends it now or at a time (``coord_broadcast_send``).
The draft lives in the dialog's state; callback data only says which step was pressed, and
everything is checked again at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.broadcasts import MAX_CAPTION, MAX_TEXT, Audience, TextProblem, check_text, is_blank
from domain.broadcasts import telegram_length as length
from handlers.access import CenterAccess, CoordinatorStates
from handlers.broadcast_views import (
    scheduled_buttons,
    scheduled_list,
)
from handlers.callbacks import BroadcastStep, CoordBroadcastCb, CoordMenuCb, CoordSection
from handlers.coord import back_to_menu
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    Match,
    MenuButton,
    end_dialog,
    show_in_place,
)
from storage.activities import Activity
from storage.broadcasts import (
    Broadcast,
    scheduled_broadcasts,
)
from storage.centers import Center
from storage.database import Database

router = Router(name=__name__)


class BroadcastForm(CoordinatorStates):
    text = State()  # the text, or a photo with or without its caption
    caption = State()  # a photo came alone: its text
    audience = State()  # who gets it (buttons), then the preview and "send"
    send_at = State()  # the date and time to send it


@dataclass(frozen=True, slots=True)
class Draft:
    text: str  # HTML
    photo: str | None
    audience: Audience | None
    activity_id: int | None


async def draft_of(state: FSMContext, center: Center) -> Draft | None:
    """The announcement being composed for ``center`` in this chat, if one is."""
    current = await state.get_state()
    if current is None or current.split(":", 1)[0] != BroadcastForm.__full_group_name__:
        return None
    data = await state.get_data()
    if data.get("center_id") != center.id or "bc_text" not in data:
        return None
    audience = data.get("bc_audience")
    return Draft(
        data["bc_text"],
        data.get("bc_photo"),
        Audience(audience) if audience else None,
        data.get("bc_activity_id"),
    )


def gone() -> str:
    return _("This announcement is no longer being prepared. Start again from /coord.")


def activity_problem(activity: Activity | None, center: Center, now: datetime) -> str | None:
    """Why this activity's people cannot be the audience, if they cannot."""
    if activity is None or activity.center_id != center.id:
        return _("This activity is no longer in the list.")
    if activity.status != "scheduled":
        return _("This activity was cancelled.")
    if activity.starts_at <= now:
        return _("This activity has already started.")
    return None


# -- the text -------------------------------------------------------------------------------


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.BROADCAST), CenterAccess())
async def start(
    query: CallbackQuery,
    center: Center,
    state: FSMContext,
    db: Database,
    i18n: I18n,
) -> None:
    await state.clear()
    await state.set_state(BroadcastForm.text)
    await state.update_data(center_id=center.id)
    async with db.read() as conn:
        waiting = await scheduled_broadcasts(conn, center.id)
    await show_in_place(query, *compose_prompt(center, waiting, i18n.current_locale))
    await query.answer()


def compose_prompt(
    center: Center, waiting: list[Broadcast], locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The section's first screen: what to send, and the announcements still scheduled."""
    lines = [
        _("📣 <b>Announcement</b> from {center}").format(center=escape(center.name)),
        "",
        _(
            "Send the text in one message, up to {text_limit} characters. Or send a photo: "
            "with a photo the text is its caption, up to {caption_limit} characters."
        ).format(text_limit=MAX_TEXT, caption_limit=MAX_CAPTION),
        _("Before anything goes out you will see it exactly as people will get it."),
    ]
    if waiting:
        lines += ["", scheduled_list(waiting, center, locale)]
    rows = [*scheduled_buttons(waiting, center), [back_to_menu(center.id)]]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


# A command or a menu button leaves the dialog and does what it always does.
router.message(StateFilter(BroadcastForm), CenterAccess(), MenuButton(*EVERY_MENU_BUTTON))(
    end_dialog
)
router.message(StateFilter(BroadcastForm), CenterAccess(), Match(F.text.startswith("/")))(
    end_dialog
)


@router.message(
    StateFilter(BroadcastForm.text, BroadcastForm.caption), CenterAccess(), Match(F.photo)
)
async def photo(message: Message, center: Center, state: FSMContext) -> None:
    file_id = message.photo[-1].file_id  # the largest size
    # Kept at once: a caption that is too long is sent again as text, for this photo.
    await state.update_data(bc_photo=file_id)
    await state.set_state(BroadcastForm.caption)
    caption = message.caption or ""
    if is_blank(caption):
        await message.answer(
            _("Now send the text to go with the photo, up to {limit} characters.").format(
                limit=MAX_CAPTION
            )
        )
        return
    await _take_text(message, center, state, caption, file_id)


@router.message(
    StateFilter(BroadcastForm.text, BroadcastForm.caption), CenterAccess(), *DIALOG_ANSWER
)
async def text(message: Message, center: Center, state: FSMContext) -> None:
    photo_id = None
    if await state.get_state() == BroadcastForm.caption.state:
        photo_id = (await state.get_data()).get("bc_photo")
    await _take_text(message, center, state, message.text, photo_id)


@router.message(StateFilter(BroadcastForm.text, BroadcastForm.caption), CenterAccess())
async def neither(message: Message) -> None:
    await message.answer(_("Please send the announcement as text, or a photo with a caption."))


async def _take_text(
    message: Message, center: Center, state: FSMContext, text: str, photo_id: str | None
) -> None:
    problem = check_text(text, with_photo=photo_id is not None)
    if problem is TextProblem.EMPTY:
        await message.answer(_("The announcement needs some text. Please send it again."))
        return
    if problem is TextProblem.TOO_LONG:
        # Not cut short: the coordinator decides what to leave out. The dialog stays open.
        hint = (
            _("That is {length} characters; with a photo the text may have up to {limit}.")
            if photo_id
            else _("That is {length} characters; a message may have up to {limit}.")
        )
        limit = MAX_CAPTION if photo_id else MAX_TEXT
        await message.answer(
            hint.format(length=length(text.strip()), limit=limit)
            + " "
            + _("Please shorten it and send it again.")
        )
        return
    await state.update_data(
        bc_text=escape(text.strip(), quote=False),
        bc_photo=photo_id,
        bc_audience=None,
        bc_activity_id=None,
    )
    await state.set_state(BroadcastForm.audience)
    await message.answer(_("Who should get it?"), reply_markup=audience_keyboard(center.id))


# -- who gets it ----------------------------------------------------------------------------


def step_button(
    text: str, step: BroadcastStep, center_id: int, activity_id: int | None = None
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text,
        callback_data=CoordBroadcastCb(
            step=step, center_id=center_id, activity_id=activity_id
        ).pack(),
    )


def audience_keyboard(center_id: int) -> InlineKeyboardMarkup:
    rows = [
        [step_button(_("⭐ The center's subscribers"), BroadcastStep.SUBSCRIBERS, center_id)],
        [step_button(_("🗓 People signed up for an activity"), BroadcastStep.ACTIVITIES, center_id)],
        [step_button(_("🙋 The center's volunteers"), BroadcastStep.VOLUNTEERS, center_id)],
        [step_button(_("✖ Cancel"), BroadcastStep.QUIT, center_id)],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)
