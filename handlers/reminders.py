"""Reminders before an activity or a shift, and the two buttons on them.

The every-minute job (``queue_due_reminders``) reads the confirmed sign-ups it has work for
(``signups.reminder_due_at``), asks ``domain.reminders`` for their plan, queues what is due
with the key ``reminder:<sign-up>:<kind>:<start>`` (so a reminder is queued once, whatever
happens) and records when each sign-up next needs it. Nothing is kept in the scheduler per
sign-up, and a run reads only the sign-ups that have work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Settings
from bot.sender import Sender
from domain.activities import Refusal, Role, Status
from domain.reminders import (
    QuietHours,
    ReminderKind,
    parse_reminders,
    plan_reminders,
    still_worth_sending,
)
from handlers.activity_views import when
from handlers.callbacks import ReminderAction, ReminderCb
from handlers.notify import change_signup_and_tell, refusal_text
from handlers.ui import show_in_place, shown_text
from storage.activities import Activity, get_activities, get_activity
from storage.database import Database
from storage.deliveries import enqueue
from storage.reminders import (
    NEVER,
    Upcoming,
    confirm_coming,
    due_for_reminders,
    queued_keys,
    retire_past_reminders,
    set_reminder_due,
)
from storage.signups import cancel, get_signup
from storage.users import User

router = Router(name=__name__)

# Sign-ups per write transaction: statements run on the event loop, so a batch is short.
BATCH = 200


def reminder_key(signup_id: int, kind: ReminderKind, starts_at: datetime) -> str:
    # The start time is part of the key: an activity that moves gets its reminders again.
    return f"reminder:{signup_id}:{kind}:{int(starts_at.timestamp())}"


async def queue_due_reminders(
    db: Database, i18n: I18n, sender: Sender | None, *, now: datetime, quiet: QuietHours
) -> int:
    """Queue every reminder that is due now and plan when each sign-up next needs the job;
    how many reminders were queued."""
    queued = 0
    async with db.write() as conn:
        await retire_past_reminders(conn, now=now)
    while True:
        # Read, plan and record in one write transaction: a preference or a start time that
        # another process changes meanwhile is then planned again, not overwritten.
        async with db.write() as conn:
            batch = await due_for_reminders(conn, now=now, limit=BATCH)
            queued += await _remind(conn, i18n, batch, now=now, quiet=quiet)
        if len(batch) < BATCH:
            break
    if queued and sender is not None:
        sender.notify()
    return queued


async def _remind(
    conn: AsyncConnection,
    i18n: I18n,
    batch: list[Upcoming],
    *,
    now: datetime,
    quiet: QuietHours,
) -> int:
    next_due: dict[int, datetime] = {}
    due: dict[str, Upcoming] = {}
    for item in batch:
        plan = plan_reminders(
            parse_reminders(item.reminders),
            item.starts_at,
            item.timezone,
            quiet,
            signed_up_at=item.signed_up_at,
        )
        ready = [reminder for reminder in plan if reminder.send_at <= now]
        later = [reminder.send_at for reminder in plan if reminder.send_at > now]
        next_due[item.signup_id] = min(later, default=NEVER)
        if ready and still_worth_sending(item.starts_at, now):
            # After downtime several may be overdue: the latest says it best.
            due[reminder_key(item.signup_id, ready[-1].kind, item.starts_at)] = item
    already = await queued_keys(conn, due)
    wanted = list({item.activity_id for key, item in due.items() if key not in already})
    activities = {activity.id: activity for activity in await get_activities(conn, wanted)}
    queued = 0
    for key, item in due.items():
        activity = activities.get(item.activity_id)
        if key in already or activity is None:
            continue
        with i18n.context(), i18n.use_locale(item.language):
            text, keyboard = reminder_message(
                activity, item.signup_id, Role(item.role), item.language
            )
        added = await enqueue(
            conn,
            user_id=item.user_id,
            kind="reminder",
            dedup_key=key,
            text=text,
            reply_markup=keyboard,
            now=now,
        )
        queued += added is not None
    await set_reminder_due(conn, next_due)
    return queued


def reminder_message(
    activity: Activity, signup_id: int, role: Role, locale: str
) -> tuple[str, dict[str, Any]]:
    """The reminder in ``locale`` (also the current one): what, when in the center's time,
    where, and the two buttons."""
    place = escape(activity.center_name)
    if activity.place_note:
        place += ", " + escape(activity.place_note)
    lines = [
        _("⏰ Your shift is coming up: <b>{title}</b>").format(title=escape(activity.title))
        if role is Role.VOLUNTEER
        else _("⏰ Reminder: <b>{title}</b>").format(title=escape(activity.title)),
        when(activity, locale, None),
        "📍 " + place,
        "",
        _("Will you come?"),
    ]
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(_("✅ I'm coming"), ReminderAction.COMING, signup_id),
                _button(_("❌ Can't make it"), ReminderAction.CANT, signup_id),
            ]
        ]
    )
    return "\n".join(lines), keyboard.model_dump(mode="json", exclude_none=True)


def _button(text: str, action: ReminderAction, signup_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=ReminderCb(action=action, signup_id=signup_id).pack()
    )


@router.callback_query(ReminderCb.filter(F.action == ReminderAction.COMING))
async def coming(
    query: CallbackQuery,
    callback_data: ReminderCb,
    account: User | None,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        signup = await get_signup(conn, callback_data.signup_id)
        if signup is None or account is None or signup.user_id != account.id:
            refusal = refusal_text(Refusal.NOT_FOUND)
        elif signup.status != Status.CONFIRMED:
            refusal = _("This sign-up is no longer active.")
        elif (activity := await get_activity(conn, signup.activity_id)) is None:
            refusal = refusal_text(Refusal.NOT_FOUND)
        elif activity.status != "scheduled":
            refusal = refusal_text(Refusal.CANCELLED)
        elif activity.starts_at <= now:
            refusal = refusal_text(Refusal.STARTED)
        else:
            refusal = None
            await confirm_coming(conn, signup_id=signup.id, user_id=account.id, now=now)
    if refusal is not None:
        await query.answer(refusal)
        return
    await query.answer(_("Thank you! See you there."))
    await show_in_place(query, shown_text(query) + "\n\n" + _("✅ You said you are coming."), None)


@router.callback_query(ReminderCb.filter(F.action == ReminderAction.CANT))
async def cannot_come(
    query: CallbackQuery,
    callback_data: ReminderCb,
    sender: Sender,
    account: User | None,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    if account is None:
        await query.answer(refusal_text(Refusal.NOT_FOUND))
        return
    outcome = await change_signup_and_tell(
        db,
        i18n,
        sender,
        cancel,
        signup_id=callback_data.signup_id,
        user_id=account.id,
        now=clock(),
        rules=settings.signup_rules(),
    )
    if outcome.refusal is Refusal.ALREADY:
        await query.answer(_("This sign-up is already cancelled."))
        await show_in_place(query, shown_text(query), None)
        return
    if outcome.refusal is not None:
        await query.answer(refusal_text(outcome.refusal))
        return
    await query.answer(_("Cancelled. Thank you for freeing the place."))
    await show_in_place(
        query, shown_text(query) + "\n\n" + _("❌ Your sign-up is cancelled."), None
    )
