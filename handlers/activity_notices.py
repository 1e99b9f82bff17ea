"""Telling the people signed up for an activity that a coordinator moved it, changed its
place or cancelled it: one push each, in their own language, queued in the transaction that
made the change. Everyone with an active sign-up hears it, those waiting for a seat too.

They are about something still to come, so quiet hours hold them only when the activity
starts after the quiet hours end (as reminders are held).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Role
from domain.reminders import QuietHours, release_at
from handlers.activity_views import when
from handlers.callbacks import ActivityAction, ActivityCb
from storage.activities import Activity
from storage.deliveries import enqueue
from storage.signups import SignedUp


def _open_button(activity: Activity, person: SignedUp) -> dict[str, object]:
    callback = ActivityCb(
        action=ActivityAction.OPEN,
        activity_id=activity.id,
        volunteer=person.role == Role.VOLUNTEER,
    )
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Open"), callback_data=callback.pack())]]
    )
    return keyboard.model_dump(mode="json", exclude_none=True)


async def _queue(
    conn: AsyncConnection,
    i18n: I18n,
    people: Sequence[SignedUp],
    message: Callable[[SignedUp], tuple[str, dict[str, object] | None]],
    *,
    kind: str,
    key: Callable[[SignedUp], str],
    not_before: datetime,
    now: datetime,
) -> int:
    told = 0
    for person in people:
        if person.blocked:
            continue
        with i18n.context(), i18n.use_locale(person.language):
            text, markup = message(person)
        added = await enqueue(
            conn,
            user_id=person.user_id,
            kind=kind,
            text=text,
            reply_markup=markup,
            dedup_key=key(person),
            now=now,
            not_before=not_before,
        )
        told += added is not None
    return told


async def queue_changed(
    conn: AsyncConnection,
    i18n: I18n,
    before: Activity,
    after: Activity,
    people: Sequence[SignedUp],
    *,
    now: datetime,
    quiet: QuietHours,
) -> int:
    """Tell of a new start time or place (nothing when neither changed); how many told."""
    moved = after.starts_at != before.starts_at or after.ends_at != before.ends_at
    if not moved and after.place_note == before.place_note:
        return 0

    def message(person: SignedUp) -> tuple[str, dict[str, object] | None]:
        title = escape(after.title)
        lines = [
            _("🔔 The time of <b>{title}</b> has changed.").format(title=title)
            if moved
            else _("🔔 The place of <b>{title}</b> has changed.").format(title=title),
            "🗓 " + when(after, person.language, None),
            "📍 "
            + escape(after.center_name + (f" · {after.place_note}" if after.place_note else "")),
        ]
        if moved:
            lines.append(_("It was: {when}").format(when=when(before, person.language, None)))
        return "\n".join(lines), _open_button(after, person)

    # What it is now and when it changed make the key: every change is news of its own,
    # even one back to an earlier time.
    now_is = f"{after.starts_at.isoformat()}|{after.ends_at.isoformat()}|{after.place_note}"
    stamp = f"{zlib.crc32(now_is.encode()):08x}:{int(now.timestamp())}"
    earlier = min(before.starts_at, after.starts_at)
    return await _queue(
        conn,
        i18n,
        people,
        message,
        kind="changed",
        key=lambda p: (
            f"changed:{p.signup_id}:{after.id}:{int(after.starts_at.timestamp())}:{stamp}"
        ),
        not_before=release_at(now, after.timezone, quiet, starts_at=earlier),
        now=now,
    )


async def queue_cancelled(
    conn: AsyncConnection,
    i18n: I18n,
    activity: Activity,
    people: Sequence[SignedUp],
    *,
    now: datetime,
    quiet: QuietHours,
) -> int:
    def message(person: SignedUp) -> tuple[str, dict[str, object] | None]:
        text = _(
            "❌ <b>{title}</b>, {when}, at {center} is cancelled. We are sorry! Your sign-up "
            "is cancelled with it."
        ).format(
            title=escape(activity.title),
            when=when(activity, person.language, None),
            center=escape(activity.center_name),
        )
        return text, None

    return await _queue(
        conn,
        i18n,
        people,
        message,
        kind="cancelled",
        key=lambda p: f"cancelled:{p.signup_id}",
        not_before=release_at(now, activity.timezone, quiet, starts_at=activity.starts_at),
        now=now,
    )
