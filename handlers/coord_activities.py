"""The coordinator's list of a center's activities and the card of one of them, the way to
its sign-ups, guests, roll call and export (each in a module of its own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Role
from handlers.access import CenterAccess
from handlers.activity_views import button_label
from handlers.callbacks import (
    CoordActivitiesCb,
    CoordActivityAction,
    CoordActivityCb,
    CoordMenuCb,
    CoordSection,
)
from handlers.coord import back_to_menu
from handlers.roster_views import activities_text, card_keyboard, card_text
from handlers.ui import show_in_place
from storage.activities import Activity, waitlist_lengths
from storage.centers import Center
from storage.database import Database
from storage.guests import guest_seats
from storage.roster import center_activities

router = Router(name=__name__)

PAGE_SIZE = 8


async def render_card(
    conn: AsyncConnection, activity: Activity, *, now: datetime, locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The coordinator's card of an activity, with the figures read now."""
    ids = [activity.id]
    text = card_text(
        activity,
        now=now,
        locale=locale,
        guest_seats=(await guest_seats(conn, ids)).get(activity.id, 0),
        waitlist=(await waitlist_lengths(conn, ids, Role.PARTICIPANT)).get(activity.id, 0),
        volunteer_waitlist=(await waitlist_lengths(conn, ids, Role.VOLUNTEER)).get(activity.id, 0),
    )
    return text, card_keyboard(activity, now=now)


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.ACTIVITIES), CenterAccess())
@router.callback_query(CoordActivitiesCb.filter(), CenterAccess())
async def activities_page(
    query: CallbackQuery,
    callback_data: CoordMenuCb | CoordActivitiesCb,
    center: Center,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    await state.clear()  # leaving whatever dialog was half-way for the list
    page = (
        callback_data
        if isinstance(callback_data, CoordActivitiesCb)
        else CoordActivitiesCb(center_id=center.id)
    )
    now = clock()
    async with db.read() as conn:
        found = await center_activities(
            conn, center.id, now=now, past=page.past, limit=PAGE_SIZE + 1, offset=page.offset
        )
        items = found[:PAGE_SIZE]
        ids = [a.id for a in items]
        waitlists = await waitlist_lengths(conn, ids, Role.PARTICIPANT)
        volunteer_waitlists = await waitlist_lengths(conn, ids, Role.VOLUNTEER)
    if page.past:
        title = _("<b>{center}: the past week</b>").format(center=escape(center.name))
    else:
        title = _("<b>{center}: activities</b>").format(center=escape(center.name))
    if items:
        text = activities_text(
            title,
            items,
            now=now,
            waitlists=waitlists,
            volunteer_waitlists=volunteer_waitlists,
            locale=i18n.current_locale,
        )
    elif page.past:
        text = title + "\n\n" + _("Nothing took place here in the past week.")
    else:
        text = title + "\n\n" + _("Nothing planned yet.")
    await show_in_place(
        query, text, _list_keyboard(page, items, more=len(found) > PAGE_SIZE, i18n=i18n)
    )
    await query.answer()


def _list_keyboard(
    page: CoordActivitiesCb, items: list[Activity], *, more: bool, i18n: I18n
) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=button_label(activity, i18n.current_locale),
                callback_data=CoordActivityCb(
                    action=CoordActivityAction.OPEN, activity_id=activity.id
                ).pack(),
            )
        ]
        for activity in items
    ]
    paging = []
    if page.offset:
        earlier = page.model_copy(update={"offset": max(0, page.offset - PAGE_SIZE)})
        paging.append(InlineKeyboardButton(text=_("◀️ Back"), callback_data=earlier.pack()))
    if more:
        later = page.model_copy(update={"offset": page.offset + PAGE_SIZE})
        paging.append(InlineKeyboardButton(text=_("More ▶️"), callback_data=later.pack()))
    if paging:
        rows.append(paging)
    other = CoordActivitiesCb(center_id=page.center_id, past=not page.past)
    label = _("🗓 Upcoming") if page.past else _("🕘 The past week")
    rows.append([InlineKeyboardButton(text=label, callback_data=other.pack())])
    rows.append([back_to_menu(page.center_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(CoordActivityCb.filter(F.action == CoordActivityAction.OPEN), CenterAccess())
async def open_card(
    query: CallbackQuery,
    activity: Activity,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    await state.clear()
    async with db.read() as conn:
        text, keyboard = await render_card(conn, activity, now=clock(), locale=i18n.current_locale)
    await show_in_place(query, text, keyboard)
    await query.answer()
