"""💡 Residents' ideas, for a center's coordinators: the open ones page by page, and for each
a reply to its author, "Turn into an activity" (the new-activity dialog, prefilled) or
"Mark as done"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from bot.config import Settings
from bot.sender import Sender
from domain.activity_form import Problem, clean_text, idea_title
from handlers.access import CenterAccess, CoordinatorStates
from handlers.callbacks import (
    CoordIdeaCb,
    CoordIdeasCb,
    CoordMenuCb,
    CoordSection,
    IdeaAction,
)
from handlers.coord import back_to_menu
from handlers.coord_new import start_activity_form
from handlers.idea_notices import queue_idea_reply
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    NOT_LEAVING,
    Match,
    MenuButton,
    end_dialog,
    show_in_place,
)
from handlers.views import shorten
from storage.audit import record
from storage.centers import Center
from storage.database import Database
from storage.ideas import (
    MAX_IDEA,
    OPEN,
    Idea,
    IdeaStatus,
    close_idea,
    get_idea,
    open_ideas,
    save_reply,
)
from storage.users import User

router = Router(name=__name__)

PAGE: Final = 5


class IdeaReply(CoordinatorStates):
    text = State()


def _button(text: str, center_id: int, idea_id: int, action: IdeaAction) -> InlineKeyboardButton:
    callback = CoordIdeaCb(center_id=center_id, idea_id=idea_id, action=action)
    return InlineKeyboardButton(text=text, callback_data=callback.pack())


def _when(idea: Idea, center: Center, locale: str) -> str:
    return format_date(
        idea.created_at.astimezone(ZoneInfo(center.timezone)), "d MMM", locale=locale
    )


async def _page(
    db: Database, center: Center, offset: int, locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    async with db.read() as conn:
        ideas, total = await open_ideas(conn, center.id, limit=PAGE, offset=offset)
    lines = [_("💡 <b>Residents' ideas</b> — {center}").format(center=escape(center.name))]
    rows: list[list[InlineKeyboardButton]] = []
    if not ideas:
        lines.append(_("No open ideas. Residents propose them from the center's card in the bot."))
    for number, idea in enumerate(ideas, start=offset + 1):
        mark = "🆕" if idea.status == IdeaStatus.NEW else "💬"
        lines.append(
            f"{number}. {mark} «{escape(shorten(idea.text, 100))}» — "
            f"{escape(idea.author_name)}, {_when(idea, center, locale)}"
        )
        label = f"{number}. {shorten(idea.text, 40)}"
        rows.append([_button(label, center.id, idea.id, IdeaAction.OPEN)])
    paging = []
    if offset:
        back = CoordIdeasCb(center_id=center.id, offset=max(0, offset - PAGE)).pack()
        paging.append(InlineKeyboardButton(text=_("◀️ Back"), callback_data=back))
    if offset + PAGE < total:
        more = CoordIdeasCb(center_id=center.id, offset=offset + PAGE).pack()
        paging.append(InlineKeyboardButton(text=_("More ▶️"), callback_data=more))
    if paging:
        rows.append(paging)
    rows.append([back_to_menu(center.id)])
    return "\n\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.IDEAS), CenterAccess())
@router.callback_query(CoordIdeasCb.filter(), CenterAccess())
async def ideas_page(
    query: CallbackQuery,
    callback_data: CoordMenuCb | CoordIdeasCb,
    center: Center,
    db: Database,
    i18n: I18n,
) -> None:
    offset = callback_data.offset if isinstance(callback_data, CoordIdeasCb) else 0
    text, keyboard = await _page(db, center, offset, i18n.current_locale)
    await query.answer()
    await show_in_place(query, text, keyboard)


async def _open_idea(
    query: CallbackQuery, callback_data: CoordIdeaCb, db: Database, *, still_open: bool
) -> Idea | None:
    """The idea of the button, when it belongs to the button's center (and is still open,
    if asked); otherwise the press is answered and None returned."""
    async with db.read() as conn:
        idea = await get_idea(conn, callback_data.idea_id)
    if idea is None or idea.center_id != callback_data.center_id:
        await query.answer(_("This idea is no longer in the list."))
        return None
    if still_open and idea.status not in OPEN:
        await query.answer(_("This idea is already done."))
        return None
    return idea


def idea_card(idea: Idea, center: Center, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        _("💡 <b>Idea</b> from {name}, {date}").format(
            name=escape(idea.author_name), date=_when(idea, center, locale)
        )
    ]
    if idea.can_help:
        lines.append(_("🙋 Ready to help with it."))
    lines += ["", escape(idea.text)]
    if idea.reply:
        lines += ["", _("💬 Your answer: {reply}").format(reply=escape(idea.reply))]
    if idea.status == IdeaStatus.DONE:
        lines += ["", _("✔️ Done.")]
    rows = []
    if idea.status in OPEN:
        rows += [
            [_button(_("💬 Answer"), center.id, idea.id, IdeaAction.REPLY)],
            [_button(_("🗓 Turn into an activity"), center.id, idea.id, IdeaAction.ACTIVITY)],
            [_button(_("✔️ Mark as done"), center.id, idea.id, IdeaAction.DONE)],
        ]
    back = CoordIdeasCb(center_id=center.id).pack()
    rows.append([InlineKeyboardButton(text=_("‹ Ideas"), callback_data=back)])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(CoordIdeaCb.filter(F.action == IdeaAction.OPEN), CenterAccess())
async def open_card(
    query: CallbackQuery, callback_data: CoordIdeaCb, center: Center, db: Database, i18n: I18n
) -> None:
    idea = await _open_idea(query, callback_data, db, still_open=False)
    if idea is None:
        return
    await query.answer()
    await show_in_place(query, *idea_card(idea, center, i18n.current_locale))


@router.callback_query(CoordIdeaCb.filter(F.action == IdeaAction.REPLY), CenterAccess())
async def ask_reply(
    query: CallbackQuery,
    callback_data: CoordIdeaCb,
    db: Database,
    bot: Bot,
    state: FSMContext,
) -> None:
    idea = await _open_idea(query, callback_data, db, still_open=True)
    if idea is None:
        return
    await query.answer()
    await state.set_state(IdeaReply.text)
    await state.set_data({"center_id": idea.center_id, "idea_id": idea.id})
    await bot.send_message(
        query.from_user.id,
        _(
            "Write your answer to {name} in one message, up to {limit} characters. The bot "
            "will send it to them."
        ).format(name=escape(idea.author_name), limit=MAX_IDEA),
    )


router.message(StateFilter(IdeaReply), MenuButton(*EVERY_MENU_BUTTON), CenterAccess())(end_dialog)
router.message(StateFilter(IdeaReply), Match(F.text.startswith("/")), CenterAccess())(end_dialog)


@router.message(StateFilter(IdeaReply.text), *DIALOG_ANSWER, CenterAccess())
async def reply_text(
    message: Message,
    state: FSMContext,
    center: Center,
    account: User,
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    reply = clean_text(message.text, MAX_IDEA)
    if isinstance(reply, Problem):
        await message.answer(
            _("Please keep it within {limit} characters and send it again.").format(limit=MAX_IDEA)
        )
        return
    idea_id = (await state.get_data()).get("idea_id")
    await state.clear()
    now = clock()
    async with db.write() as conn:
        idea = await get_idea(conn, idea_id or 0)
        saved = (
            idea is not None
            and idea.center_id == center.id
            and await save_reply(conn, idea.id, reply, now=now)
        )
        if saved:
            await record(
                conn, account.id, "idea.reply", now=now, center_id=center.id, idea_id=idea.id
            )
            told = await queue_idea_reply(
                conn, i18n, idea, center, reply, now=now, quiet=settings.quiet_hours()
            )
    if not saved:
        await message.answer(_("This idea is no longer open."))
        return
    if told:
        sender.notify()
    back = CoordIdeasCb(center_id=center.id).pack()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("‹ Ideas"), callback_data=back)]]
    )
    await message.answer(
        _("✅ Your answer is on its way to {name}.").format(name=escape(idea.author_name)),
        reply_markup=keyboard,
    )


@router.message(StateFilter(IdeaReply), *NOT_LEAVING, CenterAccess())
async def reply_not_text(message: Message) -> None:
    await message.answer(_("Please send your answer as text."))


@router.callback_query(CoordIdeaCb.filter(F.action == IdeaAction.ACTIVITY), CenterAccess())
async def into_activity(
    query: CallbackQuery,
    callback_data: CoordIdeaCb,
    center: Center,
    db: Database,
    bot: Bot,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    idea = await _open_idea(query, callback_data, db, still_open=True)
    if idea is None:
        return
    await query.answer()
    await start_activity_form(
        bot,
        query.from_user.id,
        state,
        center,
        now=clock(),
        locale=i18n.current_locale,
        title=idea_title(idea.text),
        description=idea.text,
        idea_id=idea.id,
    )


@router.callback_query(CoordIdeaCb.filter(F.action == IdeaAction.DONE), CenterAccess())
async def mark_done(
    query: CallbackQuery,
    callback_data: CoordIdeaCb,
    center: Center,
    account: User,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        idea = await get_idea(conn, callback_data.idea_id)
        closed = (
            idea is not None
            and idea.center_id == center.id
            and await close_idea(conn, idea.id, now=now)
        )
        if closed:
            await record(
                conn, account.id, "idea.done", now=now, center_id=center.id, idea_id=idea.id
            )
    if not closed:
        await query.answer(_("This idea is no longer open."))
        return
    await query.answer(_("Marked as done."))
    text, keyboard = await _page(db, center, 0, i18n.current_locale)
    await show_in_place(query, text, keyboard)
