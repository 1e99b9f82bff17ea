"""Changing an activity that has not started, as a coordinator: checked again under the
write lock, audited, and told to everyone signed up when the time or place changed.

The change goes through ``storage.series.update_activity`` (reminders follow a new time,
and nobody loses a place already taken), or ``storage.signups.set_capacity`` for places (more
places go to the waitlist at once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from domain.activities import Refusal
from handlers.activity_notices import queue_changed
from handlers.activity_views import when
from handlers.callbacks import EditField
from handlers.notify import queue_promotions, refusal_text
from storage.activities import Activity, get_activity
from storage.audit import record
from storage.centers import Center
from storage.database import Database
from storage.series import update_activity
from storage.signups import set_capacity, signed_up
from storage.users import User


def heading(activity: Activity, locale: str) -> str:
    """The activity named at the top of a coordinator's question about it."""
    return f"<b>{escape(activity.title)}</b>\n🗓 {when(activity, locale, None)}"


def not_editable(activity: Activity, now: datetime) -> str | None:
    """Why a coordinator may no longer change or cancel it, or None."""
    if activity.status != "scheduled":
        return refusal_text(Refusal.CANCELLED)
    if activity.starts_at <= now:
        return refusal_text(Refusal.STARTED)
    return None


async def apply_change(
    db: Database,
    i18n: I18n,
    settings: Settings,
    account: User,
    center: Center,
    activity_id: int,
    field: EditField,
    value: Any,
    now: datetime,
) -> tuple[str | None, int]:
    """Change the field, audit it and queue the news; (why not, or None; how many pushes
    were queued). Everything is checked again under the write lock."""
    async with db.write() as conn:
        before = await get_activity(conn, activity_id)
        if before is None or before.center_id != center.id:
            return refusal_text(Refusal.NOT_FOUND), 0
        refusal = not_editable(before, now)
        if refusal:
            return refusal, 0
        queued = 0
        if field is EditField.CAPACITY:
            changed, promotions = await set_capacity(
                conn, activity_id=before.id, capacity=value, now=now, rules=settings.signup_rules()
            )
            if not changed:
                return _("Fewer places than people already signed up ({taken}).").format(
                    taken=before.seats_taken
                ), 0
            queued += await queue_promotions(
                conn, i18n, promotions, rules=settings.signup_rules(), now=now
            )
        else:
            if field is EditField.START and before.series_id is not None:
                # The daily job would put the occurrence back at the series' time.
                return _(
                    "This is one date of a weekly series, so its time follows the series. "
                    "Cancel this date and create a one-off activity at the new time instead."
                ), 0
            values = _values(before, field, value)
            if await update_activity(conn, before.id, values, now=now):
                return refusal_text(Refusal.STARTED), 0
        after = await get_activity(conn, before.id)
        assert after is not None
        await record(
            conn,
            account.id,
            "activity.edit",
            now=now,
            center_id=center.id,
            activity_id=before.id,
            field=field.name.lower(),
            before=_audited(before, field),
            after=_audited(after, field),
        )
        people = await signed_up(conn, before.id)
        queued += await queue_changed(
            conn, i18n, before, after, people, now=now, quiet=settings.quiet_hours()
        )
    return None, queued


def _values(activity: Activity, field: EditField, value: Any) -> dict[str, Any]:
    # update_activity checks the places against what is taken every time: pass them as
    # they are.
    values: dict[str, Any] = {
        "capacity": activity.capacity,
        "volunteer_places": activity.volunteer_places,
    }
    if field is EditField.TITLE:
        values["title"] = value
    elif field is EditField.DESCRIPTION:
        values["description"] = value
    elif field is EditField.PLACE:
        values["place_note"] = value
    elif field is EditField.DURATION:
        values["ends_at"] = activity.starts_at + timedelta(minutes=value)
    else:
        values["starts_at"] = value
        values["ends_at"] = value + (activity.ends_at - activity.starts_at)
    return values


def _audited(activity: Activity, field: EditField) -> Any:
    return {
        EditField.TITLE: activity.title,
        EditField.DESCRIPTION: activity.description,
        EditField.PLACE: activity.place_note,
        EditField.START: activity.starts_at.isoformat(),
        EditField.DURATION: int((activity.ends_at - activity.starts_at).total_seconds() // 60),
        EditField.CAPACITY: activity.capacity,
    }[field]
