"""Roll call: who came. One message, a button per person that cycles not marked → present →
absent, edited in place. It opens at the start and stays open a week. A volunteer marked
absent gets no hours for the shift; marked present, the hours are confirmed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Role
from domain.roster import Mark, RosterRefusal, attended_of, mark_of, next_mark, roll_call_refusal
from handlers.access import CenterAccess
from handlers.activity_views import when
from handlers.callbacks import (
    CoordActivityAction,
    CoordActivityCb,
    CoordRollCallCb,
    RollCallAction,
)
from handlers.roster_views import back_to_card, refusal_text
from handlers.ui import show_in_place
from handlers.views import shorten
from storage.activities import Activity
from storage.audit import record
from storage.database import Database
from storage.roster import (
    RosterEntry,
    mark_guest,
    mark_rest_present,
    mark_signup,
    on_roll_call,
    roster,
)

router = Router(name=__name__)

PAGE_SIZE = 20  # buttons a page; Telegram allows 100 on a message
_ICONS = {Mark.PRESENT: "✅", Mark.ABSENT: "❌", Mark.UNMARKED: "⬜"}


def _row_button(entry: RosterEntry, activity_id: int, page: int) -> InlineKeyboardButton:
    mark = mark_of(entry.attended)
    label = shorten(entry.name, 40) + (f" +{entry.party_size - 1}" if entry.party_size > 1 else "")
    if entry.guest:
        label += " · " + _("guest")
    elif entry.role is Role.VOLUNTEER:
        label = "🙋 " + label
    callback = CoordRollCallCb(
        action=RollCallAction.GUEST if entry.guest else RollCallAction.SIGNUP,
        activity_id=activity_id,
        page=page,
        row_id=entry.id,
        mark=next_mark(mark),
    )
    return InlineKeyboardButton(text=f"{_ICONS[mark]} {label}", callback_data=callback.pack())


async def _show(
    query: CallbackQuery, activity: Activity, page: int, db: Database, locale: str
) -> None:
    async with db.read() as conn:
        entries = on_roll_call(await roster(conn, activity.id))
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(page, pages - 1)
    marks = [mark_of(e.attended) for e in entries]
    lines = [
        _("<b>Roll call: {title}</b>").format(title=escape(activity.title)),
        when(activity, locale, None),
        "",
    ]
    if entries:
        lines.append(
            "  ".join(
                f"{_ICONS[m]} {marks.count(m)}" for m in (Mark.PRESENT, Mark.ABSENT, Mark.UNMARKED)
            )
        )
        lines.append(_("Tap a name: ⬜ not marked → ✅ present → ❌ absent."))
        if pages > 1:
            lines.append(_("Page {page} of {pages}").format(page=page + 1, pages=pages))
    else:
        lines.append(_("Nobody is expected: no confirmed sign-ups and no guests."))
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [[_row_button(entry, activity.id, page)] for entry in shown]
    if Mark.UNMARKED in marks:
        # The shortcut keeps the absences already marked: mark those, then the rest at once.
        label = (
            _("✅ Everyone present")
            if all(m is Mark.UNMARKED for m in marks)
            else _("✅ Everyone else present")
        )
        everyone = CoordRollCallCb(
            action=RollCallAction.EVERYONE, activity_id=activity.id, page=page
        )
        rows.append([InlineKeyboardButton(text=label, callback_data=everyone.pack())])
    paging = []
    if page > 0:
        back = CoordRollCallCb(action=RollCallAction.SHOW, activity_id=activity.id, page=page - 1)
        paging.append(InlineKeyboardButton(text=_("◀️ Back"), callback_data=back.pack()))
    if page + 1 < pages:
        more = CoordRollCallCb(action=RollCallAction.SHOW, activity_id=activity.id, page=page + 1)
        paging.append(InlineKeyboardButton(text=_("More ▶️"), callback_data=more.pack()))
    if paging:
        rows.append(paging)
    rows.append([back_to_card(activity.id)])
    await show_in_place(query, "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


async def _on_list(conn: AsyncConnection, activity_id: int, press: CoordRollCallCb) -> bool:
    """The pressed row is still on this roll call (a forged or stale id is not)."""
    guest = press.action is RollCallAction.GUEST
    entries = on_roll_call(await roster(conn, activity_id))
    return any(e.guest == guest and e.id == press.row_id for e in entries)


async def _mark(
    conn: AsyncConnection,
    actor_id: int,
    activity: Activity,
    press: CoordRollCallCb,
    now: datetime,
) -> bool:
    """Apply a press and record it when it changed something; False when the row pressed
    is not on this roll call."""
    if press.action is RollCallAction.EVERYONE:
        changed = await mark_rest_present(conn, activity.id)
        details = {"rest_present": True, "rows": changed}
    else:
        if not await _on_list(conn, activity.id, press):
            return False
        guest = press.action is RollCallAction.GUEST
        attended = attended_of(press.mark)
        mark = mark_guest if guest else mark_signup
        changed = await mark(conn, activity.id, press.row_id, attended)
        details = {"guest_id" if guest else "signup_id": press.row_id, "attended": attended}
    if changed:
        await record(
            conn,
            actor_id,
            "attendance.mark",
            now=now,
            center_id=activity.center_id,
            activity_id=activity.id,
            **details,
        )
    return True


async def _refused(query: CallbackQuery, activity: Activity, now: datetime) -> bool:
    refusal = roll_call_refusal(status=activity.status, starts_at=activity.starts_at, now=now)
    if refusal is not None:
        await query.answer(refusal_text(refusal), show_alert=True)
    return refusal is not None


@router.callback_query(
    CoordActivityCb.filter(F.action == CoordActivityAction.ROLL_CALL), CenterAccess()
)
async def open_roll_call(
    query: CallbackQuery,
    activity: Activity,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    if await _refused(query, activity, clock()):
        return
    await _show(query, activity, 0, db, i18n.current_locale)
    await query.answer()


@router.callback_query(CoordRollCallCb.filter(), CenterAccess())
async def roll_call_press(
    query: CallbackQuery,
    callback_data: CoordRollCallCb,
    activity: Activity,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    if await _refused(query, activity, now):
        return
    if callback_data.action is not RollCallAction.SHOW:
        async with db.write() as conn:
            on_list = await _mark(conn, query.from_user.id, activity, callback_data, now)
        if not on_list:  # answered after the commit: no transaction waits on Telegram
            await query.answer(refusal_text(RosterRefusal.GONE), show_alert=True)
            return
    await _show(query, activity, callback_data.page, db, i18n.current_locale)
    await query.answer()
