"""Activities and volunteer shifts: the list (by day, filters, pages) and the card."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from domain.activities import Category, Role
from domain.timezones import timezone_at
from handlers.activity_views import CATEGORY_NAMES, button_label, grouped_by_day
from handlers.callbacks import (
    ActivityAction,
    ActivityCb,
    ListCb,
    Period,
    ScheduleAction,
    ScheduleCb,
    Scope,
)
from handlers.consent import is_consented
from handlers.ui import ACTIVITIES, N_, VOLUNTEERING, MenuButton, show_in_place
from storage.activities import Activity, upcoming, waitlist_lengths
from storage.database import Database
from storage.nearest import NearestCenters
from storage.subscriptions import subscribed_centers
from storage.users import User

router = Router(name=__name__)

PAGE_SIZE = 8
NEARBY_CENTERS = 5
_PERIOD_LABELS = {Period.ALL: N_("All"), Period.TODAY: N_("Today"), Period.WEEK: N_("This week")}


class ListButton(MenuButton):
    """A menu button that opens a list: hands the handler the first page to show."""

    def __init__(self, msgid: str, page: ListCb) -> None:
        super().__init__(msgid)
        self.page = page

    async def __call__(self, message: Message, i18n: I18n) -> bool | dict[str, ListCb]:
        return await super().__call__(message, i18n) and {"page": self.page}


@router.message(ListButton(ACTIVITIES, ListCb()))
@router.message(ListButton(VOLUNTEERING, ListCb(volunteer=True)))
async def open_list(
    message: Message,
    page: ListCb,
    i18n: I18n,
    account: User | None,
    settings: Settings,
    db: Database,
    nearest_centers: NearestCenters,
    clock: Callable[[], datetime],
) -> None:
    text, keyboard = await render_list(
        page, account, settings, db, nearest_centers, clock(), i18n.current_locale
    )
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(ListCb.filter())
async def list_page(
    query: CallbackQuery,
    callback_data: ListCb,
    i18n: I18n,
    account: User | None,
    settings: Settings,
    db: Database,
    nearest_centers: NearestCenters,
    clock: Callable[[], datetime],
) -> None:
    page = callback_data
    if not _valid(page):
        await query.answer(_("This button is out of date."))
        return
    text, keyboard = await render_list(
        page, account, settings, db, nearest_centers, clock(), i18n.current_locale
    )
    await query.answer()
    await show_in_place(query, text, keyboard)


def _valid(page: ListCb) -> bool:
    # Coordinates and offset are bounded by the factory; the category is checked here.
    return page.category == "" or page.category in Category.__members__.values()


async def render_list(
    page: ListCb,
    account: User | None,
    settings: Settings,
    db: Database,
    nearest_centers: NearestCenters,
    now: datetime,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup | None]:
    role = Role.VOLUNTEER if page.volunteer else Role.PARTICIPANT
    center_ids, zone = await _centers_in_scope(page, account, settings, db, nearest_centers)
    if not center_ids:
        return (
            _(
                "Here you will see the volunteer shifts of the centers you subscribe to. Find "
                "a center (📍 button or type a city), open it and tap “Subscribe”, or share "
                "your location and tap “What's on nearby”."
            )
            if page.volunteer
            else _(
                "Here you will see what is on at the centers you subscribe to. Find a center "
                "(📍 button or type a city), open it and tap “Subscribe”, or share your "
                "location and tap “What's on nearby”."
            ),
            _volunteer_keyboard() if page.volunteer else None,
        )
    until = _period_end(page.period, now, zone)
    async with db.read() as conn:
        found = await upcoming(
            conn,
            center_ids,
            since=now,
            until=until,
            category=page.category or None,
            role=role,
            limit=PAGE_SIZE + 1,
            offset=page.offset,
        )
        items = found[:PAGE_SIZE]
        waitlists = await waitlist_lengths(conn, [a.id for a in items], role)
    title = _("<b>Volunteer shifts</b>") if page.volunteer else _("<b>Activities</b>")
    if page.category:
        title += " · " + _(CATEGORY_NAMES[Category(page.category)])
    if not items:
        body = _("Nothing planned for this choice yet. Try another day or category.")
    else:
        body = grouped_by_day(items, role, waitlists, locale)
    keyboard = _list_keyboard(page, items, more=len(found) > PAGE_SIZE, locale=locale)
    return f"{title}\n\n{body}", keyboard


async def _centers_in_scope(
    page: ListCb,
    account: User | None,
    settings: Settings,
    db: Database,
    nearest_centers: NearestCenters,
) -> tuple[list[int], ZoneInfo | None]:
    if page.scope is Scope.NEARBY:
        found, _more = await nearest_centers.find(
            page.latitude, page.longitude, limit=NEARBY_CENTERS
        )
        return [c.id for c, _m in found], ZoneInfo(timezone_at(page.latitude, page.longitude))
    if not is_consented(account, settings):
        return [], None
    async with db.read() as conn:
        centers = await subscribed_centers(conn, account.id)
    zone = ZoneInfo(centers[0].timezone) if centers else None
    return [c.id for c in centers], zone


def _period_end(period: Period, now: datetime, zone: ZoneInfo | None) -> datetime | None:
    if period is Period.ALL:
        return None
    if period is Period.WEEK:
        return now + timedelta(days=7)
    today = now.astimezone(zone) if zone else now
    return datetime.combine(today.date() + timedelta(days=1), time(), tzinfo=today.tzinfo)


def _list_keyboard(
    page: ListCb, items: list[Activity], *, more: bool, locale: str
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if page.pick:
        rows.append([_button(_("All categories"), page, category="", offset=0, pick=False)])
        for category, label in CATEGORY_NAMES.items():
            mark = "✓ " if page.category == category else ""
            rows.append([_button(mark + _(label), page, category=category, offset=0, pick=False)])
        return InlineKeyboardMarkup(inline_keyboard=rows)
    for activity in items:
        callback = ActivityCb(
            action=ActivityAction.OPEN, activity_id=activity.id, volunteer=page.volunteer
        )
        rows.append(
            [
                InlineKeyboardButton(
                    text=button_label(activity, locale), callback_data=callback.pack()
                )
            ]
        )
    rows.append(
        [
            _button(
                ("✓ " if page.period is period else "") + _(label), page, period=period, offset=0
            )
            for period, label in _PERIOD_LABELS.items()
        ]
    )
    rows.append([_button(_("🏷 Category"), page, pick=True)])
    paging = []
    if page.offset:
        paging.append(_button(_("◀️ Back"), page, offset=max(0, page.offset - PAGE_SIZE)))
    if more:
        paging.append(_button(_("More ▶️"), page, offset=page.offset + PAGE_SIZE))
    if paging:
        rows.append(paging)
    if page.volunteer:
        rows += _volunteer_keyboard().inline_keyboard
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _volunteer_keyboard() -> InlineKeyboardMarkup:
    hours = ScheduleCb(action=ScheduleAction.HOURS).pack()
    profile = ScheduleCb(action=ScheduleAction.PROFILE).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("⏱ My hours"), callback_data=hours),
                InlineKeyboardButton(text=_("👤 Volunteer profile"), callback_data=profile),
            ]
        ]
    )


def _button(text: str, page: ListCb, **changes: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=page.model_copy(update=changes).pack())
