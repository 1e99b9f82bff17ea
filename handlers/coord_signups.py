"""Who is coming to an activity, for its coordinators: the sign-ups page by page, and all of
them as a CSV file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from domain.activities import Role, Status
from domain.roster import split_pages
from domain.roster_csv import roster_csv
from handlers.access import CenterAccess
from handlers.activity_views import local, when
from handlers.callbacks import CoordActivityAction, CoordActivityCb, CoordSignupsCb
from handlers.roster_views import back_to_card, party
from handlers.ui import show_in_place
from storage.activities import Activity
from storage.audit import record
from storage.database import Database
from storage.roster import GUEST, RosterEntry, roster

router = Router(name=__name__)

# Telegram takes 4096 characters a message; the heading and the page line need the rest.
_PAGE_BUDGET = 3300


def _section(heading: str, entries: list[RosterEntry], *, numbered_by_position: bool) -> list[str]:
    if not entries:
        return []
    lines = ["", f"<b>{heading}</b>"]
    for number, entry in enumerate(entries, start=1):
        shown = entry.position if numbered_by_position and entry.position else number
        volunteer = "🙋 " if entry.role is Role.VOLUNTEER else ""
        lines.append(f"{shown}. {volunteer}{party(entry.name, entry.party_size)}")
    return lines


def roster_lines(activity: Activity, entries: list[RosterEntry]) -> list[str]:
    def of(role: Role, status: str) -> list[RosterEntry]:
        return [e for e in entries if not e.guest and e.role is role and e.status == status]

    P, V = Role.PARTICIPANT, Role.VOLUNTEER
    confirmed = of(P, Status.CONFIRMED)
    people = sum(e.party_size for e in confirmed)
    heading = ngettext("Signed up: {people} person", "Signed up: {people} people", people)
    lines = _section(heading.format(people=people), confirmed, numbered_by_position=False)
    offered = of(P, Status.OFFERED) + of(V, Status.OFFERED)
    lines += _section(_("Offered a place, no answer yet"), offered, numbered_by_position=False)
    lines += _section(_("Waitlist"), of(P, Status.WAITLISTED), numbered_by_position=True)
    role = escape(activity.volunteer_role or "")
    lines += _section(
        _("Volunteers: {role}").format(role=role),
        of(V, Status.CONFIRMED),
        numbered_by_position=False,
    )
    lines += _section(
        _("Volunteers' waitlist"), of(V, Status.WAITLISTED), numbered_by_position=True
    )
    guests = [e for e in entries if e.guest]
    people = sum(e.party_size for e in guests)
    heading = ngettext(
        "Registered at the desk: {people} person", "Registered at the desk: {people} people", people
    )
    lines += _section(heading.format(people=people), guests, numbered_by_position=False)
    return lines


async def _show(
    query: CallbackQuery, activity: Activity, page: int, db: Database, locale: str
) -> None:
    async with db.read() as conn:
        entries = await roster(conn, activity.id)
    heading = _("<b>Sign-ups: {title}</b>").format(title=escape(activity.title))
    heading += "\n" + when(activity, locale, None)
    lines = roster_lines(activity, entries)
    if not lines:
        lines = ["", _("Nobody has signed up yet.")]
    pages = split_pages(lines, _PAGE_BUDGET)
    page = min(page, len(pages) - 1)  # the list may have got shorter since the button
    text = heading + "\n\n" + "\n".join(pages[page]).strip("\n")
    if len(pages) > 1:
        text += "\n\n" + _("Page {page} of {pages}").format(page=page + 1, pages=len(pages))
    paging = []
    if page > 0:
        back = CoordSignupsCb(activity_id=activity.id, page=page - 1)
        paging.append(InlineKeyboardButton(text=_("◀️ Back"), callback_data=back.pack()))
    if page + 1 < len(pages):
        more = CoordSignupsCb(activity_id=activity.id, page=page + 1)
        paging.append(InlineKeyboardButton(text=_("More ▶️"), callback_data=more.pack()))
    rows = [paging] if paging else []
    rows.append([back_to_card(activity.id)])
    await show_in_place(query, text, InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(
    CoordActivityCb.filter(F.action == CoordActivityAction.SIGNUPS), CenterAccess()
)
async def signups(query: CallbackQuery, activity: Activity, db: Database, i18n: I18n) -> None:
    await _show(query, activity, 0, db, i18n.current_locale)
    await query.answer()


@router.callback_query(CoordSignupsCb.filter(), CenterAccess())
async def signups_page(
    query: CallbackQuery,
    callback_data: CoordSignupsCb,
    activity: Activity,
    db: Database,
    i18n: I18n,
) -> None:
    await _show(query, activity, callback_data.page, db, i18n.current_locale)
    await query.answer()


def _csv_rows(activity: Activity, entries: list[RosterEntry]) -> list[list[object]]:
    roles = {Role.PARTICIPANT: _("participant"), Role.VOLUNTEER: _("volunteer")}
    statuses = {
        Status.CONFIRMED: _("confirmed"),
        Status.OFFERED: _("offered a place"),
        Status.WAITLISTED: _("on the waitlist"),
        GUEST: _("confirmed"),
    }
    attended = {True: _("present"), False: _("absent"), None: ""}
    yes, no = _("yes"), _("no")
    return [
        [
            entry.name,
            roles[entry.role],
            entry.party_size,
            statuses[entry.status],
            entry.position or "",
            attended[entry.attended],
            f"{local(entry.created_at, activity.timezone):%Y-%m-%d %H:%M}",
            yes if entry.guest else no,
        ]
        for entry in entries
    ]


@router.callback_query(
    CoordActivityCb.filter(F.action == CoordActivityAction.EXPORT), CenterAccess()
)
async def export(
    query: CallbackQuery,
    activity: Activity,
    bot: Bot,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    """Names as the people gave them and nothing else about them: no ids, no phone numbers.
    The export is recorded, as it takes personal data out of the bot."""
    async with db.write() as conn:
        entries = await roster(conn, activity.id)
        await record(
            conn,
            query.from_user.id,
            "participants.export",
            now=clock(),
            center_id=activity.center_id,
            activity_id=activity.id,
            rows=len(entries),
        )
    header = [
        _("Name"),
        _("Role"),
        _("Party size"),
        _("Status"),
        _("Waitlist position"),
        _("Attended"),
        _("Signed up at"),
        _("Guest"),
    ]
    content = roster_csv(header, _csv_rows(activity, entries), locale=i18n.current_locale)
    day = local(activity.starts_at, activity.timezone)
    await query.answer()
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(content, filename=f"participants-{activity.id}-{day:%Y-%m-%d}.csv"),
        caption=_("Participants of {title}").format(title=escape(activity.title)),
    )
