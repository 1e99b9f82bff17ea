"""How an announcement looks: to its recipients, and to its author while and after it goes out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from html import escape, unescape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.broadcasts import VOLUNTEER_WINDOW, Audience, BroadcastState, Progress
from handlers.activity_views import deadline, when
from handlers.callbacks import CenterAction, CenterCb, CoordBroadcastStopCb
from handlers.views import shorten
from storage.activities import Activity
from storage.broadcasts import Broadcast
from storage.centers import Center

_BUTTON_NAME_CHARS = 40
_SNIPPET_CHARS = 80


def recipient_keyboard(center: Center) -> InlineKeyboardMarkup:
    """Under every copy: the center's card, which says who is writing. A name needs no
    translation, so every recipient gets the very same message, whatever their language."""
    button = InlineKeyboardButton(
        text="📍 " + shorten(center.name, _BUTTON_NAME_CHARS),
        callback_data=CenterCb(action=CenterAction.OPEN, center_id=center.id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def recipient_markup_json(center: Center) -> str:
    """The keyboard as the Bot API JSON the ``deliveries`` queue stores."""
    markup = recipient_keyboard(center).model_dump(mode="json", exclude_none=True)
    return json.dumps(markup, ensure_ascii=False, separators=(",", ":"))


def audience_line(
    audience: Audience, center: Center, activity: Activity | None, locale: str
) -> str:
    if audience is Audience.SUBSCRIBERS:
        return _("Subscribers of {center}").format(center=escape(center.name))
    if audience is Audience.VOLUNTEERS:
        return _("Volunteers of {center}: shifts in the last {days} days or to come").format(
            center=escape(center.name), days=VOLUNTEER_WINDOW.days
        )
    if activity is None:
        return _("People signed up for an activity that is no longer in the list")
    return _("People signed up for {title}, {when}").format(
        title=f"<b>{escape(activity.title)}</b>", when=when(activity, locale, None)
    )


def snippet(text_html: str) -> str:
    """The start of the announcement, to tell one from another."""
    return "«" + escape(shorten(" ".join(unescape(text_html).split()), _SNIPPET_CHARS)) + "»"


def report_text(
    broadcast: Broadcast,
    progress: Progress | None,
    center: Center,
    activity: Activity | None,
    locale: str,
) -> str:
    """The author's message about one announcement, whatever its state. ``progress`` is
    None for one that has not started."""
    audience = audience_line(Audience(broadcast.audience), center, activity, locale)
    if broadcast.state == BroadcastState.SCHEDULED:
        at = deadline(broadcast.send_at, center.timezone, locale)
        head = _("🕒 <b>Announcement scheduled</b> for {time} (the center's time)").format(time=at)
    elif progress is None:
        head = _("✖ <b>Announcement cancelled</b>: nothing was sent.")
    elif broadcast.state == BroadcastState.CANCELLED:
        head = (
            _("⏹ <b>Announcement stopped</b>")
            if progress.finished
            else _("⏹ <b>Stopping the announcement</b>: messages already on their way finish")
        )
    elif progress.finished:
        head = _("✅ <b>Announcement sent</b>")
    else:
        head = _("📣 <b>Announcement going out</b>")
    lines = [head, snippet(broadcast.text), _("To: {audience}").format(audience=audience)]
    if progress is None:
        return "\n".join(lines)
    lines += [
        "",
        _("Recipients: {count}").format(count=progress.recipients),
        _("✅ Delivered: {count}").format(count=progress.sent),
        _("⚠️ Failed: {count}").format(count=progress.failed),
        _("🚫 Blocked the bot: {count}").format(count=progress.blocked),
    ]
    if progress.finished or progress.unknown:
        lines.append(
            _("❔ Unknown (on the way when the bot stopped): {count}").format(
                count=progress.unknown
            )
        )
    if progress.finished or progress.cancelled:
        lines.append(_("⏹ Cancelled: {count}").format(count=progress.cancelled))
    if not progress.finished:
        lines.append(_("⏳ Left: {count}").format(count=progress.left))
    return "\n".join(lines)


def report_keyboard(broadcast: Broadcast, progress: Progress | None) -> InlineKeyboardMarkup | None:
    """A stop button while there is something to stop."""
    if broadcast.state == BroadcastState.SCHEDULED:
        label = _("✖ Cancel the announcement")
    elif broadcast.state == BroadcastState.SENDING and progress is not None and progress.left:
        label = _("⏹ Stop sending")
    else:
        return None
    button = InlineKeyboardButton(
        text=label,
        callback_data=CoordBroadcastStopCb(
            center_id=broadcast.center_id, broadcast_id=broadcast.id
        ).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def scheduled_list(broadcasts: list[Broadcast], center: Center, locale: str) -> str:
    """The center's announcements waiting for their time, for the section's first screen."""
    if not broadcasts:
        return ""
    lines = [_("<b>Scheduled:</b>")]
    for broadcast in broadcasts:
        at = deadline(broadcast.send_at, center.timezone, locale)
        lines.append(f"• {at} {snippet(broadcast.text)}")
    return "\n".join(lines)


def scheduled_buttons(
    broadcasts: list[Broadcast], center: Center
) -> list[list[InlineKeyboardButton]]:
    rows = []
    for broadcast in broadcasts:
        at = broadcast.send_at.astimezone(ZoneInfo(center.timezone)).strftime("%d.%m %H:%M")
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("✖ Cancel the one of {time}").format(time=at),
                    callback_data=CoordBroadcastStopCb(
                        center_id=center.id, broadcast_id=broadcast.id
                    ).pack(),
                )
            ]
        )
    return rows


def local_now(now: datetime, center: Center) -> str:
    return f"{now.astimezone(ZoneInfo(center.timezone)):%d.%m %H:%M}"


def local_example(now: datetime, center: Center) -> str:
    """Tomorrow at 10:00 in the center's zone, written the way the dialog reads it."""
    tomorrow = now.astimezone(ZoneInfo(center.timezone)).date() + timedelta(days=1)
    return f"{tomorrow:%d.%m} 10:00"
