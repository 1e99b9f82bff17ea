"""How activities and sign-ups look in a chat: times in the center's zone, seats, status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_date, get_timezone_location

from domain.activities import Category, Role, Status
from handlers.ui import N_
from handlers.views import shorten, utc_offset_label
from storage.activities import Activity
from storage.signups import Signup

CATEGORY_NAMES = {
    Category.CHILDREN: N_("👧 Children"),
    Category.SENIORS: N_("🧓 Seniors"),
    Category.CRAFTS: N_("🧶 Crafts"),
    Category.SPORT: N_("🏃 Sport"),
    Category.LECTURES: N_("🎓 Lectures and talks"),
    Category.ECOLOGY: N_("🌱 Ecology"),
    Category.CHARITY: N_("🤝 Charity and help"),
    Category.OTHER: N_("✨ Other"),
}


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def day_heading(moment: datetime, locale: str) -> str:
    text = format_date(moment.date(), "EEEE, d MMMM", locale=locale)
    return text[:1].upper() + text[1:]


def when(activity: Activity, locale: str, viewer_zone: str | None) -> str:
    """ "Monday, 23 November, 10:00–11:30", plus the zone when the reader lives elsewhere."""
    start = local(activity.starts_at, activity.timezone)
    end = local(activity.ends_at, activity.timezone)
    text = f"{day_heading(start, locale)}, {start:%H:%M}–{end:%H:%M}"
    if viewer_zone is not None and viewer_zone != activity.timezone:
        city = get_timezone_location(activity.timezone, locale=locale, return_city=True)
        text += " " + _("({city} time, {offset})").format(city=city, offset=utc_offset_label(start))
    return text


def seats(activity: Activity, role: Role, waitlist: int) -> str:
    if role is Role.VOLUNTEER:
        left, total = activity.volunteer_places_left, activity.volunteer_places
    elif activity.capacity is None:
        return _("No limit on places")
    else:
        left, total = activity.seats_left, activity.capacity
    if left > 0 and not waitlist:
        return ngettext(
            "{left} place left of {total}", "{left} places left of {total}", left
        ).format(left=left, total=total)
    return _("Full — waitlist: {count}").format(count=waitlist)


def deadline(moment: datetime, timezone: str, locale: str) -> str:
    """ "23 November, 14:00" in the center's time: an offer can run past midnight."""
    at = local(moment, timezone)
    return f"{format_date(at.date(), 'd MMMM', locale=locale)}, {at:%H:%M}"


def status_line(signup: Signup, position: int | None, activity: Activity, locale: str) -> str:
    if signup.status == Status.CONFIRMED:
        if signup.party_size > 1:
            return _("✅ You are signed up: you and {n} more.").format(n=signup.party_size - 1)
        return _("✅ You are signed up.")
    if signup.status == Status.WAITLISTED:
        return _("⏳ You are number {position} on the waitlist.").format(position=position)
    if signup.status == Status.OFFERED and signup.offer_expires_at is not None:
        until = deadline(signup.offer_expires_at, activity.timezone, locale)
        return _("🎟 A place is held for you until {time}. Accept it below.").format(time=until)
    return ""


def activity_card(
    activity: Activity,
    *,
    role: Role,
    waitlist: int,
    signup: Signup | None,
    position: int | None,
    locale: str,
    viewer_zone: str | None,
) -> str:
    lines = [f"<b>{escape(activity.title)}</b>"]
    if role is Role.VOLUNTEER and activity.volunteer_role:
        lines.append("🙋 " + _("Volunteers: {role}").format(role=escape(activity.volunteer_role)))
    lines.append("🗓 " + when(activity, locale, viewer_zone))
    place = activity.center_name + (f" · {activity.place_note}" if activity.place_note else "")
    lines.append("📍 " + escape(place))
    lines.append("👥 " + seats(activity, role, waitlist))
    if activity.description:
        lines += ["", escape(activity.description)]
    if signup is not None and signup.status in (
        Status.CONFIRMED,
        Status.WAITLISTED,
        Status.OFFERED,
    ):
        lines += ["", status_line(signup, position, activity, locale)]
    return "\n".join(lines)


def activity_line(activity: Activity, role: Role, waitlist: int) -> str:
    start = local(activity.starts_at, activity.timezone)
    title = escape(shorten(activity.title, 60))
    if role is Role.VOLUNTEER and activity.volunteer_role:
        title += f" ({escape(shorten(activity.volunteer_role, 40))})"
    where = escape(shorten(activity.center_name, 60))
    return f"{start:%H:%M} {title} — {where} · {seats(activity, role, waitlist)}"


def grouped_by_day(
    items: Sequence[Activity], role: Role, waitlists: dict[int, int], locale: str
) -> str:
    blocks: list[str] = []
    current_day = None
    for activity in items:
        start = local(activity.starts_at, activity.timezone)
        if start.date() != current_day:
            current_day = start.date()
            blocks.append(f"\n<b>{day_heading(start, locale)}</b>")
        blocks.append(activity_line(activity, role, waitlists.get(activity.id, 0)))
    return "\n".join(blocks).strip()


def button_label(activity: Activity, locale: str) -> str:
    start = local(activity.starts_at, activity.timezone)
    day = format_date(start.date(), "EEE d MMM", locale=locale)
    title = shorten(activity.title, 32)
    return f"{day} {start:%H:%M} · {title}"
