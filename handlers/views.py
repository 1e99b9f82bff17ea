"""How centers look in a chat: list entries, the card and their buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal

from handlers.callbacks import CenterAction, CenterCb, IdeaCb
from storage.centers import Center

PAGE_SIZE = 5
_BUTTON_NAME_CHARS = 40


def format_distance(metres: float, locale: str) -> str:
    """Metres rounded the way people say them: 350 m, 2.4 km, 37 km."""
    rounded = max(10, round(metres / 10) * 10)
    if rounded < 1_000:
        return _("{distance} m").format(distance=rounded)
    kilometres = metres / 1_000
    if kilometres < 10:
        return _("{distance} km").format(
            distance=format_decimal(round(kilometres, 1), locale=locale)
        )
    return _("{distance} km").format(distance=format_decimal(round(kilometres), locale=locale))


def utc_offset_label(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def center_summary(number: int, center: Center, metres: float | None) -> str:
    """A list entry. Fields are cut short so that a page stays well within Telegram's 4096
    characters whatever an import put in them; the card shows them whole."""
    title = f"<b>{number}. {escape(shorten(center.name, 80))}</b>"
    if metres is not None:
        title += " — " + format_distance(metres, get_i18n().current_locale)
    lines = [title, escape(shorten(f"{center.address}, {center.city}", 160))]
    if center.opening_hours:
        lines.append("🕘 " + escape(shorten(center.opening_hours, 80)))
    return "\n".join(lines)


def center_list_keyboard(
    centers: Sequence[Center],
    first_number: int,
    previous_page: CallbackData | None,
    next_page: CallbackData | None,
) -> InlineKeyboardMarkup:
    rows = []
    for number, center in enumerate(centers, start=first_number):
        name = shorten(center.name, _BUTTON_NAME_CHARS)
        callback = CenterCb(action=CenterAction.OPEN, center_id=center.id).pack()
        rows.append([InlineKeyboardButton(text=f"{number}. {name}", callback_data=callback)])
    paging = []
    if previous_page is not None:
        paging.append(InlineKeyboardButton(text=_("◀️ Back"), callback_data=previous_page.pack()))
    if next_page is not None:
        paging.append(InlineKeyboardButton(text=_("More ▶️"), callback_data=next_page.pack()))
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def center_card(center: Center, *, subscribed: bool, now: datetime) -> str:
    lines = [f"<b>{escape(center.name)}</b>", ""]
    place = f"{center.address}, {center.city}"
    if center.region and center.region != center.city:
        place += f", {center.region}"
    lines.append("📍 " + escape(place))
    if center.opening_hours:
        lines.append("🕘 " + _("Opening hours: {hours}").format(hours=escape(center.opening_hours)))
    if center.phone:
        lines.append("📞 " + escape(center.phone))
    local = now.astimezone(ZoneInfo(center.timezone))
    lines.append(
        "🕒 "
        + _("Local time there: {time} ({offset})").format(
            time=local.strftime("%H:%M"), offset=utc_offset_label(local)
        )
    )
    lines.append("")
    if subscribed:
        lines.append(_("⭐ You are subscribed: the center's news will come here."))
    else:
        lines.append(_("Subscribe to get the center's news and announcements."))
    return "\n".join(lines)


def center_card_keyboard(center: Center, *, subscribed: bool) -> InlineKeyboardMarkup:
    if not subscribed:
        button = InlineKeyboardButton(
            text=_("⭐ Subscribe"),
            callback_data=CenterCb(action=CenterAction.SUBSCRIBE, center_id=center.id).pack(),
        )
        return InlineKeyboardMarkup(inline_keyboard=[[button]])
    button = InlineKeyboardButton(
        text=_("🔕 Unsubscribe"),
        callback_data=CenterCb(action=CenterAction.UNSUBSCRIBE, center_id=center.id).pack(),
    )
    # Ideas are for the center's followers: the coordinators hear from their own residents.
    idea = InlineKeyboardButton(
        text=_("💡 Propose an idea"), callback_data=IdeaCb(center_id=center.id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button], [idea]])
