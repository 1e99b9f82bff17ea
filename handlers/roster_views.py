"""How activities and the people in them look to a center's coordinators: the list, the
card with its buttons, party sizes and statuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.roster import RosterRefusal, guest_refusal, roll_call_open
from handlers.activity_views import day_heading, local, when
from handlers.callbacks import (
    CoordActivitiesCb,
    CoordActivityAction,
    CoordActivityCb,
    CoordGuestCb,
    GuestAction,
)
from handlers.ui import N_
from handlers.views import shorten
from storage.activities import Activity
from storage.guests import Guest

NAME_CHARS = 64  # a name in a list; the CSV has them whole
# Guests listed, each with a button that takes them off the list (Telegram caps buttons and
# text); the rest are counted, and come up once some before them are gone.
_REMOVE_BUTTONS = 30

_PHASES = {
    "cancelled": N_("❌ Cancelled"),
    "open": N_("🟢 Taking sign-ups"),
    "under_way": N_("▶️ Under way"),
    "over": N_("✔️ Over"),
}
_MARKERS = {"cancelled": "❌ ", "under_way": "▶️ ", "over": "✔️ ", "open": ""}


def phase(activity: Activity, now: datetime) -> str:
    if activity.status != "scheduled":
        return "cancelled"
    if now < activity.starts_at:
        return "open"
    return "under_way" if now < activity.ends_at else "over"


def party(name: str, size: int) -> str:
    """ "Анна +2": a name and the people who come with them."""
    text = escape(shorten(name, NAME_CHARS))
    return text + (f" +{size - 1}" if size > 1 else "")


def _counts(activity: Activity, waitlist: int, volunteer_waitlist: int) -> str:
    parts = []
    if activity.accepts_participants:
        limit = "∞" if activity.capacity is None else str(activity.capacity)
        parts.append(f"👥 {activity.seats_taken}/{limit}")
        if waitlist:
            parts.append(f"⏳ {waitlist}")
    if activity.volunteer_places:
        volunteers = f"🙋 {activity.volunteers_taken}/{activity.volunteer_places}"
        parts.append(volunteers + (f" ⏳ {volunteer_waitlist}" if volunteer_waitlist else ""))
    return " · ".join(parts)


def activities_text(
    title: str,
    items: Sequence[Activity],
    *,
    now: datetime,
    waitlists: dict[int, int],
    volunteer_waitlists: dict[int, int],
    locale: str,
) -> str:
    blocks = [title]
    current_day = None
    for activity in items:
        start = local(activity.starts_at, activity.timezone)
        if start.date() != current_day:
            current_day = start.date()
            blocks.append(f"\n<b>{day_heading(start, locale)}</b>")
        counts = _counts(
            activity, waitlists.get(activity.id, 0), volunteer_waitlists.get(activity.id, 0)
        )
        blocks.append(
            f"{_MARKERS[phase(activity, now)]}{start:%H:%M} "
            f"{escape(shorten(activity.title, 60))} — {counts}"
        )
    return "\n".join(blocks)


def card_text(
    activity: Activity,
    *,
    now: datetime,
    locale: str,
    guest_seats: int,
    waitlist: int,
    volunteer_waitlist: int,
) -> str:
    lines = [f"<b>{escape(activity.title)}</b>", "🗓 " + when(activity, locale, None)]
    if activity.place_note:
        lines.append("📍 " + escape(activity.place_note))
    if activity.accepts_participants:
        if activity.capacity is None:
            seats = _("👥 Places taken: {taken} (no limit)").format(taken=activity.seats_taken)
        else:
            seats = _("👥 Places taken: {taken} of {capacity}").format(
                taken=activity.seats_taken, capacity=activity.capacity
            )
        if guest_seats:
            seats += " " + _("(guests: {seats})").format(seats=guest_seats)
        lines += [seats, "⏳ " + _("Waitlist: {count}").format(count=waitlist)]
    else:
        lines.append("👥 " + _("Volunteers only, no participants"))
    if activity.volunteer_places:
        volunteers = _("🙋 Volunteers ({role}): {taken} of {places}").format(
            role=escape(activity.volunteer_role or ""),
            taken=activity.volunteers_taken,
            places=activity.volunteer_places,
        )
        if volunteer_waitlist:
            volunteers += " · " + _("waitlist: {count}").format(count=volunteer_waitlist)
        lines.append(volunteers)
    lines += ["", _(_PHASES[phase(activity, now)])]
    return "\n".join(lines)


def card_keyboard(activity: Activity, *, now: datetime) -> InlineKeyboardMarkup:
    def button(text: str, action: CoordActivityAction) -> InlineKeyboardButton:
        callback = CoordActivityCb(action=action, activity_id=activity.id)
        return InlineKeyboardButton(text=text, callback_data=callback.pack())

    rows = [
        [
            button(_("👥 Sign-ups"), CoordActivityAction.SIGNUPS),
            button(_("📄 Export CSV"), CoordActivityAction.EXPORT),
        ]
    ]
    guests_welcome = guest_refusal(
        status=activity.status,
        starts_at=activity.starts_at,
        accepts_participants=activity.accepts_participants,
        now=now,
    )
    if guests_welcome is None:
        rows.append([button(_("➕ Add a guest"), CoordActivityAction.GUEST)])
    if roll_call_open(status=activity.status, starts_at=activity.starts_at, now=now):
        rows.append([button(_("✅ Roll call"), CoordActivityAction.ROLL_CALL)])
    if activity.status == "scheduled" and now < activity.starts_at:
        rows.append(
            [
                button(_("✏️ Edit"), CoordActivityAction.EDIT),
                button(_("🚫 Cancel the activity"), CoordActivityAction.CANCEL),
            ]
        )
    back = CoordActivitiesCb(center_id=activity.center_id, past=activity.ends_at <= now)
    rows.append([InlineKeyboardButton(text=_("‹ Activities"), callback_data=back.pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def guests_screen(
    activity: Activity, guests: Sequence[Guest]
) -> tuple[list[str], list[list[InlineKeyboardButton]]]:
    """The guests registered at the desk, each with a button that takes them off the list."""
    lines = [_("<b>Guests at the desk: {title}</b>").format(title=escape(activity.title))]
    shown = guests[:_REMOVE_BUTTONS]
    lines += [f"{n}. {party(g.name, g.party_size)}" for n, g in enumerate(shown, start=1)]
    if len(guests) > len(shown):
        lines.append(_("…and {count} more.").format(count=len(guests) - len(shown)))
    rows = [
        [
            InlineKeyboardButton(
                text="✖ " + party(g.name, g.party_size),
                callback_data=CoordGuestCb(
                    action=GuestAction.ASK_REMOVE, activity_id=activity.id, guest_id=g.id
                ).pack(),
            )
        ]
        for g in shown
    ]
    rows.append([back_to_card(activity.id)])
    return lines, rows


def back_to_card(activity_id: int) -> InlineKeyboardButton:
    callback = CoordActivityCb(action=CoordActivityAction.OPEN, activity_id=activity_id)
    return InlineKeyboardButton(text=_("‹ Back"), callback_data=callback.pack())


def refusal_text(refusal: RosterRefusal) -> str:
    return {
        RosterRefusal.CANCELLED: _("This activity was cancelled."),
        RosterRefusal.STARTED: _("This activity has already started."),
        RosterRefusal.NOT_STARTED: _("The roll call opens when the activity starts."),
        RosterRefusal.ROLL_CALL_CLOSED: _("The roll call closed a week after the start."),
        RosterRefusal.NO_PARTICIPANTS: _("This is a shift for volunteers: it has no places."),
        RosterRefusal.FULL: _("No places left: a guest can come in when someone cancels."),
        RosterRefusal.GONE: _("This is no longer on the list."),
    }[refusal]
