"""/admin: the chain at a glance, its figures by region as CSV, and finding a center to
act on it as its coordinator. The import of centers lives in handlers.admin_import."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.stats import WEEKS, percent, total
from handlers.access import AdminAccess, CoordinatorStates
from handlers.callbacks import AdminAction, AdminCb, CoordMenuCb, CoordSection
from handlers.coord_stats import hours
from handlers.ui import DIALOG_ANSWER
from storage.centers import search_centers
from storage.database import Database
from storage.stats import RegionRow, chain_counts, region_rows

router = Router(name=__name__)

PERIOD = timedelta(weeks=WEEKS)
_FOUND = 10
_MAX_QUERY = 100


class AdminForm(CoordinatorStates):
    find = State()  # the text to look a center up by
    import_file = State()  # waiting for the CSV document


def admin_keyboard() -> InlineKeyboardMarkup:
    rows = [
        (_("📄 Stats by region (CSV)"), AdminAction.REGIONS),
        (_("📥 Import centers"), AdminAction.IMPORT),
        (_("🔎 Find a center"), AdminAction.FIND),
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=AdminCb(action=action).pack())]
            for text, action in rows
        ]
    )


@router.message(Command("admin"), AdminAccess())
async def admin(
    message: Message,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    await state.clear()
    now = clock()
    async with db.read() as conn:
        counts = await chain_counts(conn, now)
        regions = await region_rows(conn, now - PERIOD, now)
    recent = total(row.figures for row in regions)
    lines = [
        _("<b>🛠 The chain</b>"),
        _("Centers: {count} (with a coordinator: {covered})").format(
            count=counts.centers, covered=counts.centers_with_coordinator
        ),
        _("Coordinators: {count}").format(count=counts.coordinators),
        _("Residents: {count}").format(count=counts.residents),
        _("Subscriptions: {count}").format(count=counts.subscriptions),
        _("Upcoming activities: {count}").format(count=counts.upcoming_activities),
        "",
        _("<b>The last {weeks} weeks</b>").format(weeks=WEEKS),
        _("Sign-ups: {count}").format(count=recent.signups),
        _("Attendance: {rate}").format(rate=percent(recent.attendance_rate)),
        _("Volunteer hours: {hours}").format(
            hours=hours(recent.volunteer_hours, i18n.current_locale)
        ),
    ]
    await message.answer("\n".join(lines), reply_markup=admin_keyboard())


@router.callback_query(AdminCb.filter(F.action == AdminAction.REGIONS), AdminAccess())
async def regions_csv(
    query: CallbackQuery, bot: Bot, db: Database, clock: Callable[[], datetime]
) -> None:
    await query.answer()
    now = clock()
    async with db.read() as conn:
        rows = await region_rows(conn, now - PERIOD, now)
    start = (now - PERIOD).date()
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(regions_file(rows), filename=f"regions-{now:%Y-%m-%d}.csv"),
        caption=_("Figures by region, {start} – {end} (UTC).").format(
            start=start.isoformat(), end=now.date().isoformat()
        ),
    )


def regions_file(rows: list[RegionRow]) -> bytes:
    """CSV with a byte-order mark, so that spreadsheets open it as UTF-8. Numbers are plain
    (a dot for decimals, rates in per cent) for whatever builds the report from it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("region"),
            _("centers"),
            _("subscribers"),
            _("activities held"),
            _("sign-ups"),
            _("attended"),
            _("no-show rate, %"),
            _("volunteer hours"),
            _("average rating"),
        ]
    )
    for row in rows:
        figures = row.figures
        no_show = figures.no_show_rate
        writer.writerow(
            [
                row.region if row.region is not None else _("(no region)"),
                row.centers,
                row.subscribers,
                figures.activities,
                figures.signups,
                figures.present,
                "" if no_show is None else f"{no_show * 100:.1f}",
                f"{figures.volunteer_hours:.1f}",
                "" if row.rating_average is None else f"{row.rating_average:.2f}",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


@router.callback_query(AdminCb.filter(F.action == AdminAction.FIND), AdminAccess())
async def ask_for_center(query: CallbackQuery, bot: Bot, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(AdminForm.find)
    await bot.send_message(
        query.from_user.id,
        _("Type a word of the center's name, city or street."),
    )


@router.message(StateFilter(AdminForm.find), AdminAccess(), *DIALOG_ANSWER)
async def find_center(message: Message, db: Database, state: FSMContext) -> None:
    text = message.text.strip()[:_MAX_QUERY]
    async with db.read() as conn:
        found = await search_centers(conn, text, limit=_FOUND)
    if not found:
        await message.answer(_("No center found. Try another word."))
        return  # the dialog stays open for the next try
    await state.clear()
    rows = [
        [
            InlineKeyboardButton(
                text=f"{center.name} — {center.city}",
                callback_data=CoordMenuCb(section=CoordSection.MENU, center_id=center.id).pack(),
            )
        ]
        for center in found
    ]
    await message.answer(
        _("Centers matching <b>{query}</b>: open one to act as its coordinator.").format(
            query=escape(text)
        ),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )
