"""The weekly digest and new-activity announcements, queued for the sender.

The digest job runs every few minutes, the news job once a day; neither keeps anything
between runs:

- The digest. Each run asks, per time zone of the centers (a handful, however many centers),
  whether this local week's digest is due (``domain.announcements.digest_week``: from its
  moment until a day later). If it is, the database lists the subscribers whose digest of
  that week is not queued yet, by the dedup key ``digest:<user>:<center>:<Monday>``; the
  same key makes a second run, or two at once, queue nothing more.
- New activities. Activities not yet announced (``announced_at`` NULL) are read, grouped into
  one message per person, queued in short write transactions and then marked announced: a
  crash before the mark leaves them to the next run (at worst, someone already told hears
  of them once more).
  A weekly series is news once, when its first occurrence appears; the occurrences the daily
  job adds later are marked without a message. The key ``new:<user>:<day>`` holds a person to
  one message a day; an import so large that one run takes it in several batches tells each
  person of the first batch only, and the rest is marked announced all the same (it is in
  🗓 Activities and, for this week, in the digest).

Neither is urgent: both wait out the quiet hours of the center's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time
from html import escape
from typing import Any, Final

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.sender import Sender
from domain.activities import Role
from domain.announcements import DigestWeek, digest_week, parse_categories
from domain.reminders import QuietHours, release_at
from handlers.activity_views import activity_line, button_label, day_heading, local, seats
from handlers.callbacks import ActivityAction, ActivityCb, ListCb, Period
from handlers.ui import ACTIVITIES
from handlers.views import shorten
from storage.activities import Activity, get_activities, upcoming, waitlist_lengths
from storage.announcements import (
    DigestRecipient,
    center_zones,
    digest_key,
    digest_recipients,
    followers,
    mark_announced,
    unannounced,
)
from storage.database import Database
from storage.deliveries import enqueue

# A week of a busy center still fits one message (Telegram takes 4096 characters).
DIGEST_MAX_ITEMS: Final = 20
# A new-activities message lists this many; a bulk import adds "and N more".
ANNOUNCE_SHOWN: Final = 5
# Unannounced activities per write transaction; a run works through all of them.
ANNOUNCE_BATCH: Final = 5000
_ENQUEUE_BATCH: Final = 500  # deliveries per write transaction


def _by_day(items: Sequence[Activity], line: Callable[[Activity], str], locale: str) -> str:
    blocks: list[str] = []
    current_day = None
    for activity in items:
        start = local(activity.starts_at, activity.timezone)
        if start.date() != current_day:
            current_day = start.date()
            blocks.append(f"\n<b>{day_heading(start, locale)}</b>")
        blocks.append(line(activity))
    return "\n".join(blocks).strip()


def _markup(rows: list[list[InlineKeyboardButton]]) -> dict[str, Any]:
    return InlineKeyboardMarkup(inline_keyboard=rows).model_dump(mode="json", exclude_none=True)


def digest_message(
    items: Sequence[Activity], waitlists: dict[int, int], locale: str
) -> tuple[str, dict[str, Any]]:
    """The digest of one center in the current locale; ``items`` are its activities from now
    to the end of the week, soonest first, one more than is shown when there are more."""
    shown = items[:DIGEST_MAX_ITEMS]

    def line(activity: Activity) -> str:
        # The center is in the heading: each line says only what, when and how full.
        start = local(activity.starts_at, activity.timezone)
        title = escape(shorten(activity.title, 60))
        places = seats(activity, Role.PARTICIPANT, waitlists.get(activity.id, 0))
        return f"{start:%H:%M} {title} · {places}"

    parts = [
        _("🗓 <b>This week at {center}</b>").format(center=escape(shown[0].center_name)),
        _by_day(shown, line, locale),
    ]
    if len(items) > len(shown):
        parts.append(_("…and more this week: see 🗓 Activities."))
    parts.append(_("<i>You can turn the weekly digest off in ⚙️ Settings.</i>"))
    button = InlineKeyboardButton(
        text=_(ACTIVITIES), callback_data=ListCb(period=Period.WEEK).pack()
    )
    return "\n\n".join(parts), _markup([[button]])


def news_message(items: Sequence[Activity], locale: str) -> tuple[str, dict[str, Any]]:
    """New activities for one person in the current locale, soonest first."""
    shown = items[:ANNOUNCE_SHOWN]
    parts = [
        # Not ngettext: with no number shown, "one" must mean one, not 21 as in Russian.
        _("🆕 <b>A new activity at your centers</b>")
        if len(items) == 1
        else _("🆕 <b>New activities at your centers</b>"),
        _by_day(shown, lambda activity: activity_line(activity, Role.PARTICIPANT, 0), locale),
    ]
    rows = [
        [
            InlineKeyboardButton(
                text=button_label(activity, locale),
                callback_data=ActivityCb(
                    action=ActivityAction.OPEN, activity_id=activity.id
                ).pack(),
            )
        ]
        for activity in shown
    ]
    if len(items) > len(shown):
        more = len(items) - len(shown)
        parts.append(
            ngettext(
                "…and {n} more activity: see 🗓 Activities.",
                "…and {n} more activities: see 🗓 Activities.",
                more,
            ).format(n=more)
        )
        rows.append([InlineKeyboardButton(text=_(ACTIVITIES), callback_data=ListCb().pack())])
    parts.append(_("<i>Choose which new activities I tell you about in ⚙️ Settings.</i>"))
    return "\n\n".join(parts), _markup(rows)


async def queue_digests(
    db: Database,
    i18n: I18n,
    sender: Sender | None,
    *,
    now: datetime,
    quiet: QuietHours,
    weekday: int,
    at: time,
) -> int:
    """Queue every weekly digest that is due and not queued yet; how many were queued."""
    async with db.read() as conn:
        zones = await center_zones(conn)
    queued = 0
    for zone in zones:
        week = digest_week(now, zone, weekday, at)
        if week is not None:
            queued += await _queue_zone_digests(db, i18n, sender, zone, week, now=now, quiet=quiet)
    return queued


async def _queue_zone_digests(
    db: Database,
    i18n: I18n,
    sender: Sender | None,
    zone: str,
    week: DigestWeek,
    *,
    now: datetime,
    quiet: QuietHours,
) -> int:
    async with db.read() as conn:
        recipients = await digest_recipients(
            conn,
            zone=zone,
            monday=week.monday,
            digest_at=week.digest_at,
            now=now,
            week_ends_at=week.ends_at,
        )
        schedules: dict[int, tuple[list[Activity], dict[int, int]]] = {}
        for center_id in dict.fromkeys(recipient.center_id for recipient in recipients):
            items = await upcoming(
                conn, [center_id], since=now, until=week.ends_at, limit=DIGEST_MAX_ITEMS + 1
            )
            shown = [activity.id for activity in items[:DIGEST_MAX_ITEMS]]
            schedules[center_id] = (items, await waitlist_lengths(conn, shown, Role.PARTICIPANT))
    # Late at night (the bot was down, or the digest hour is set early) it waits for morning.
    not_before = release_at(now, zone, quiet)
    rendered: dict[tuple[int, str], tuple[str, dict[str, Any]]] = {}
    queued = 0
    for start in range(0, len(recipients), _ENQUEUE_BATCH):
        batch: list[DigestRecipient] = recipients[start : start + _ENQUEUE_BATCH]
        added_here = 0
        async with db.write() as conn:
            for recipient in batch:
                items, waitlists = schedules[recipient.center_id]
                if not items:  # cancelled since the recipients were read
                    continue
                message = rendered.get((recipient.center_id, recipient.language))
                if message is None:
                    with i18n.context(), i18n.use_locale(recipient.language):
                        message = digest_message(items, waitlists, recipient.language)
                    rendered[(recipient.center_id, recipient.language)] = message
                added = await enqueue(
                    conn,
                    user_id=recipient.user_id,
                    kind="digest",
                    dedup_key=digest_key(recipient.user_id, recipient.center_id, week.monday),
                    text=message[0],
                    reply_markup=message[1],
                    now=now,
                    not_before=not_before,
                )
                added_here += added is not None
        if added_here and sender is not None:
            sender.notify()
        queued += added_here
    return queued


def news_key(user_id: int, now: datetime) -> str:
    # At most one news message per person and day: a schedule imported in bulk, worked
    # through batch by batch, must not become a message every few minutes.
    return f"new:{user_id}:{now:%Y-%m-%d}"


async def queue_new_activities(
    db: Database, i18n: I18n, sender: Sender | None, *, now: datetime, quiet: QuietHours
) -> int:
    """Tell subscribers about activities not announced yet, at most one message per person
    and day; mark them announced. Returns how many messages were queued."""
    queued = 0
    while True:
        # One write transaction per batch, so that other writers get their turn.
        batch_queued, more = await _announce_batch(db, i18n, now=now, quiet=quiet)
        queued += batch_queued
        if not more:
            break
    if queued and sender is not None:
        sender.notify()
    return queued


async def _announce_batch(
    db: Database, i18n: I18n, *, now: datetime, quiet: QuietHours
) -> tuple[int, bool]:
    async with db.read() as conn:
        pending = await unannounced(conn, now=now, limit=ANNOUNCE_BATCH)
        if not pending:
            return 0, False
        news_ids: list[int] = []
        series_told: set[int] = set()
        for row in pending:
            if row.series_id is not None:
                if row.series_known or row.series_id in series_told:
                    continue
                series_told.add(row.series_id)
            news_ids.append(row.activity_id)
        # Volunteer-only shifts are not news for residents; they are in 🙋 Volunteering.
        news = [a for a in await get_activities(conn, news_ids) if a.accepts_participants]
        by_center: dict[int, list[Activity]] = {}
        for activity in news:
            by_center.setdefault(activity.center_id, []).append(activity)
        wanted: dict[int, tuple[str, list[Activity]]] = {}
        for follower in await followers(conn, list(by_center)):
            categories = parse_categories(follower.categories)
            for activity in by_center[follower.center_id]:
                if activity.category in categories:
                    wanted.setdefault(follower.user_id, (follower.language, []))[1].append(activity)
    # Queued in short write transactions (statements run on the event loop), then marked
    # announced: a crash in between leaves the activities to the next run, and at worst
    # someone already told hears of them once more.
    people = list(wanted.items())
    rendered: dict[tuple[str, tuple[int, ...]], tuple[str, dict[str, Any]]] = {}
    queued = 0
    for start in range(0, len(people), _ENQUEUE_BATCH):
        async with db.write() as conn:
            for user_id, (language, items) in people[start : start + _ENQUEUE_BATCH]:
                items.sort(key=lambda activity: (activity.starts_at, activity.id))
                ids = tuple(activity.id for activity in items)
                message = rendered.get((language, ids))
                if message is None:
                    with i18n.context(), i18n.use_locale(language):
                        message = news_message(items, language)
                    rendered[(language, ids)] = message
                added = await enqueue(
                    conn,
                    user_id=user_id,
                    kind="announcement",
                    dedup_key=news_key(user_id, now),
                    text=message[0],
                    reply_markup=message[1],
                    now=now,
                    not_before=release_at(now, items[0].timezone, quiet),
                )
                queued += added is not None
    async with db.write() as conn:
        await mark_announced(conn, [row.activity_id for row in pending], now=now)
    return queued, len(pending) == ANNOUNCE_BATCH
