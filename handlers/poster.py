"""/poster and the menu's "QR poster": a printable A4 PDF and a PNG for the store's wall,
with the center's QR code (its deep link) and the coming week's activities."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from domain.deeplinks import center_link
from domain.poster import Poster, PosterActivity, PosterLabels, render_pdf, render_png
from handlers.access import CenterAccess, CoordinatorAccess
from handlers.activity_views import local
from handlers.callbacks import CoordMenuCb, CoordSection
from storage.activities import count_upcoming, upcoming
from storage.centers import Center
from storage.database import Database

router = Router(name=__name__)

WEEK = timedelta(days=7)
# More than a page holds (it lists about twenty); the rest is counted, not read.
_FETCHED = 60


@router.message(Command("poster"), CoordinatorAccess())
async def poster_command(
    message: Message,
    centers: list[Center],
    bot: Bot,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    await state.clear()  # a command leaves any half-finished coordinator dialog
    if len(centers) == 1:
        await send_poster(bot, message.chat.id, centers[0], db, i18n, clock())
        return
    rows = [
        [
            InlineKeyboardButton(
                text=center.name,
                callback_data=CoordMenuCb(section=CoordSection.POSTER, center_id=center.id).pack(),
            )
        ]
        for center in centers
    ]
    await message.answer(
        _("Which center's poster?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.POSTER), CenterAccess())
async def poster_button(
    query: CallbackQuery,
    center: Center,
    bot: Bot,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await query.answer(_("Preparing the poster…"))
    await send_poster(bot, query.from_user.id, center, db, i18n, clock())


async def send_poster(
    bot: Bot, chat_id: int, center: Center, db: Database, i18n: I18n, now: datetime
) -> None:
    """The PDF and the PNG, as documents (a photo would be recompressed by Telegram and the
    QR code blurred)."""
    async with db.read() as conn:
        week = await upcoming(conn, [center.id], since=now, until=now + WEEK, limit=_FETCHED)
        total = await count_upcoming(conn, center.id, since=now, until=now + WEEK)
    me = await bot.me()
    poster = Poster(
        center_name=center.name,
        address=center.address,
        opening_hours=center.opening_hours,
        link=center_link(me.username or "", center.id),
        activities=[PosterActivity(local(a.starts_at, center.timezone), a.title) for a in week],
        total_activities=total,
    )
    # Centers have no language of their own: the poster speaks the language of the
    # coordinator who asks for it (the current locale), who knows the store's visitors.
    locale = i18n.current_locale
    labels = PosterLabels(
        call_to_action=_("Scan to find our activities"),
        opening_hours=_("Opening hours: {hours}"),
        this_week=_("This week"),
        nothing_this_week=_("New activities are announced in the bot: scan the code."),
        more=lambda count: ngettext("and {n} more", "and {n} more", count).format(n=count),
    )
    # Rendering takes a moment of CPU: off the event loop, so other chats are not held up.
    # (to_thread copies the context, the current locale included.)
    pdf = await asyncio.to_thread(render_pdf, poster, labels, locale)
    png = await asyncio.to_thread(render_png, poster, labels, locale)
    name = f"poster-{center.id}"
    await bot.send_document(
        chat_id,
        BufferedInputFile(pdf, filename=f"{name}.pdf"),
        caption=_("QR poster of {name}: print it on A4.").format(name=escape(center.name)),
    )
    await bot.send_document(
        chat_id,
        BufferedInputFile(png, filename=f"{name}.png"),
        caption=_("The same poster as a picture."),
    )
