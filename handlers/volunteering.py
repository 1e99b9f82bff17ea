"""Volunteers: hours served, a PDF certificate of them, and the optional profile."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date
from babel.numbers import format_decimal

from bot.config import Settings
from domain.hours import HoursSummary, Shift, summarise
from handlers.callbacks import ScheduleAction, ScheduleCb
from handlers.certificates import hours_certificate
from handlers.consent import ask_for_consent, is_consented
from handlers.ui import DIALOG_ANSWER, EVERY_MENU_BUTTON, Match, MenuButton, end_dialog
from storage.database import Database
from storage.signups import served_shifts_marked
from storage.users import User
from storage.volunteers import get_profile, save_profile

router = Router(name=__name__)

_MAX_NAME = 128
_MAX_SKILLS = 300


class ProfileForm(StatesGroup):
    name = State()
    skills = State()


def hours_text(hours: float, locale: str) -> str:
    return _("{hours} h").format(hours=format_decimal(round(hours, 1), locale=locale))


async def _summary(db: Database, user_id: int, now: datetime) -> HoursSummary:
    async with db.read() as conn:
        served = await served_shifts_marked(conn, user_id, now=now)
    return summarise(
        Shift(a.center_name, a.city, a.timezone, a.starts_at, a.ends_at, confirmed=present)
        for a, present in served
    )


def confirmation_lines(summary: HoursSummary, locale: str) -> list[str]:
    """How much of the total the centers' roll calls confirmed (a shift nobody has marked
    yet still counts; one marked absent does not count at all)."""
    return [
        "✅ "
        + _("Confirmed at roll call: {hours}").format(
            hours=hours_text(summary.confirmed_total, locale)
        ),
        "⏳ "
        + _("Not confirmed yet: {hours}").format(
            hours=hours_text(summary.unconfirmed_total, locale)
        ),
    ]


@router.callback_query(ScheduleCb.filter(F.action == ScheduleAction.HOURS))
async def my_hours(
    query: CallbackQuery,
    bot: Bot,
    account: User | None,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await query.answer()
    summary = await _summary(db, query.from_user.id, clock()) if account else None
    if summary is None or not summary.rows:
        text = _("No hours yet: a shift counts once it has ended.")
        await bot.send_message(query.from_user.id, text)
        return
    locale = i18n.current_locale
    lines = [
        _("<b>My volunteer hours</b>"),
        "",
        _("Total: {hours}").format(hours=hours_text(summary.total, locale)),
        *confirmation_lines(summary, locale),
        "",
        _("<b>By month</b>"),
    ]
    for month, hours in summary.by_month:
        month_name = format_date(month, "LLLL yyyy", locale=locale)
        month_name = month_name[:1].upper() + month_name[1:]
        lines.append(f"{month_name} — {hours_text(hours, locale)}")
    lines += ["", _("<b>By center</b>")]
    for center, city, hours in summary.by_center:
        lines.append(f"{escape(center)} ({escape(city)}) — {hours_text(hours, locale)}")
    pdf = ScheduleCb(action=ScheduleAction.HOURS_PDF).pack()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("📄 Certificate (PDF)"), callback_data=pdf)]]
    )
    await bot.send_message(query.from_user.id, "\n".join(lines), reply_markup=keyboard)


@router.callback_query(ScheduleCb.filter(F.action == ScheduleAction.HOURS_PDF))
async def certificate(
    query: CallbackQuery,
    bot: Bot,
    account: User | None,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    summary = await _summary(db, query.from_user.id, clock()) if account else None
    if summary is None or not summary.rows:
        await query.answer(_("No hours yet: a shift counts once it has ended."))
        return
    await query.answer()
    async with db.read() as conn:
        profile = await get_profile(conn, account.id)
    name = (profile and profile.display_name) or account.display_name
    content = hours_certificate(name, summary, issued=clock(), locale=i18n.current_locale)
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(content, filename="volunteer-hours.pdf"),
        caption=_("Your certificate of volunteer hours."),
    )


@router.callback_query(ScheduleCb.filter(F.action == ScheduleAction.PROFILE))
async def profile(
    query: CallbackQuery,
    bot: Bot,
    account: User | None,
    settings: Settings,
    db: Database,
    state: FSMContext,
) -> None:
    if not is_consented(account, settings):
        await ask_for_consent(query, settings)
        return
    await query.answer()
    async with db.read() as conn:
        current = await get_profile(conn, account.id)
    text = _(
        "<b>Volunteer profile</b> (optional)\n\nName for coordinators: {name}\nSkills: {skills}"
    )
    await bot.send_message(
        query.from_user.id,
        text.format(
            name=escape((current and current.display_name) or account.display_name),
            skills=escape((current and current.skills) or "—"),
        ),
    )
    await state.set_state(ProfileForm.name)
    await bot.send_message(
        query.from_user.id,
        _("How should the coordinators call you? Send a name, or /skip to keep it."),
    )


# /skip is an answer here; any other command, or a menu button, ends the dialog.
router.message(StateFilter(ProfileForm), MenuButton(*EVERY_MENU_BUTTON))(end_dialog)
router.message(StateFilter(ProfileForm), Match(F.text.startswith("/")), ~Command("skip"))(
    end_dialog
)


@router.message(StateFilter(ProfileForm.name), Command("skip"))
@router.message(StateFilter(ProfileForm.name), *DIALOG_ANSWER)
async def profile_name(message: Message, state: FSMContext) -> None:
    name = None if message.text == "/skip" else " ".join(message.text.split())[:_MAX_NAME]
    await state.update_data(profile_name=name)
    await state.set_state(ProfileForm.skills)
    await message.answer(
        _(
            "What can you help with? For example: cooking, crafts, computers, carrying heavy "
            "things. Send a short text, or /skip."
        )
    )


@router.message(StateFilter(ProfileForm.skills), Command("skip"))
@router.message(StateFilter(ProfileForm.skills), *DIALOG_ANSWER)
async def profile_skills(
    message: Message,
    state: FSMContext,
    account: User | None,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    data = await state.get_data()
    await state.clear()
    if account is None:
        return
    skills = None if message.text == "/skip" else " ".join(message.text.split())[:_MAX_SKILLS]
    async with db.write() as conn:
        current = await get_profile(conn, account.id)
        await save_profile(
            conn,
            account.id,
            display_name=data.get("profile_name") or (current and current.display_name),
            skills=skills or (current and current.skills),
            now=clock(),
        )
    await message.answer(_("Saved. Thank you for helping!"))


@router.message(StateFilter(ProfileForm), Match(~F.text))
async def profile_needs_text(message: Message) -> None:
    await message.answer(_("Please send it as text, or /skip."))
