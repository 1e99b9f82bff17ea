"""Reminders before an activity or a shift, and the two buttons on them.

The every-minute job (``queue_due_reminders``) asks ``domain.reminders`` which reminder is due
for each confirmed sign-up starting within a day, and queues it for the sender with the key
``reminder:<sign-up>:<kind>``: whatever happens (a restart, two runs at once), a reminder is
queued once. Nothing is kept in the scheduler per sign-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.activities import Refusal, Role, Status
from domain.reminders import QuietHours, ReminderKind, parse_reminders, reminder_to_send
from handlers.activity_views import when
from handlers.callbacks import ReminderAction, ReminderCb
from handlers.notify import queue_promotions, refusal_text
from handlers.ui import show_in_place, shown_text
from storage.activities import Activity, get_activities, get_activity
from storage.database import Database
from storage.deliveries import enqueue
from storage.reminders import confirm_coming, confirmed_starting, queued_keys
from storage.signups import cancel, get_signup
from storage.users import User

router = Router(name=__name__)

# The earliest reminder is 24 h before the start ("morning" is later than that).
LOOKAHEAD = timedelta(hours=24)


def reminder_key(signup_id: int, kind: ReminderKind) -> str:
    return f"reminder:{signup_id}:{kind}"


async def queue_due_reminders(
    db: Database, i18n: I18n, sender: Sender | None, *, now: datetime, quiet: QuietHours
) -> int:
    """Queue every reminder that is due now and not queued yet; how many were queued."""
    async with db.read() as conn:
        upcoming = await confirmed_starting(conn, now=now, within=LOOKAHEAD)
    due = {}
    for item in upcoming:
        planned = reminder_to_send(
            parse_reminders(item.reminders),
            item.starts_at,
            item.timezone,
            now,
            quiet,
            signed_up_at=item.signed_up_at,
        )
        if planned is not None:
            due[reminder_key(item.signup_id, planned.kind)] = item
    if not due:
        return 0
    async with db.read() as conn:
        queued_before = await queued_keys(conn, due)
        fresh = {key: item for key, item in due.items() if key not in queued_before}
        wanted = list({item.activity_id for item in fresh.values()})
        activities = {activity.id: activity for activity in await get_activities(conn, wanted)}
    queued = 0
    async with db.write() as conn:
        for key, item in fresh.items():
            activity = activities.get(item.activity_id)
            signup = await get_signup(conn, item.signup_id)
            if activity is None or signup is None or signup.status != Status.CONFIRMED:
                continue
            with i18n.context(), i18n.use_locale(item.language):
                text, keyboard = reminder_message(
                    activity, signup.id, Role(signup.role), item.language
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
    if queued and sender is not None:
        sender.notify()
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
    now = clock()
    rules = settings.signup_rules()
    async with db.write() as conn:
        outcome = await cancel(
            conn, signup_id=callback_data.signup_id, user_id=account.id, now=now, rules=rules
        )
        await queue_promotions(conn, i18n, outcome.promotions, rules=rules, now=now)
    sender.notify()
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
