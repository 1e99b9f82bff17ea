"""The pushes about residents' ideas, each queued in its recipient's language in the
transaction that made the news: a new idea to the center's coordinators, and to the author
the coordinators' reply or the activity their idea became.

None of them is urgent: quiet hours in the center's zone hold them until morning.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.reminders import QuietHours, release_at
from handlers.activity_views import when
from handlers.callbacks import ActivityAction, ActivityCb, CoordIdeaCb, IdeaAction
from handlers.views import shorten
from storage.activities import get_activity
from storage.audit import record
from storage.centers import Center
from storage.coordinators import center_coordinators
from storage.deliveries import enqueue
from storage.ideas import Idea, close_idea, get_idea
from storage.users import get_user

EXCERPT = 300  # of an idea quoted in a push; the whole text is one tap away


def _markup(text: str, callback_data: str) -> dict[str, object]:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=callback_data)]]
    )
    return keyboard.model_dump(mode="json", exclude_none=True)


async def queue_new_idea(
    conn: AsyncConnection,
    i18n: I18n,
    idea_id: int,
    center: Center,
    *,
    now: datetime,
    quiet: QuietHours,
) -> int:
    """Tell every coordinator of the center; returns how many were told."""
    idea = await get_idea(conn, idea_id)
    if idea is None:
        return 0
    not_before = release_at(now, center.timezone, quiet)
    opening = CoordIdeaCb(center_id=center.id, idea_id=idea.id, action=IdeaAction.OPEN).pack()
    told = 0
    for coordinator in await center_coordinators(conn, center.id):
        user = await get_user(conn, coordinator.user_id)
        if user is None or user.blocked:
            continue
        with i18n.context(), i18n.use_locale(user.language):
            lines = [
                _("💡 <b>New idea for {center}</b>").format(center=escape(center.name)),
                "",
                "«" + escape(shorten(idea.text, EXCERPT)) + "»",
                "— " + escape(idea.author_name),
            ]
            if idea.can_help:
                lines.append(_("🙋 Ready to help with it."))
            markup = _markup(_("Open the idea"), opening)
        added = await enqueue(
            conn,
            user_id=user.id,
            kind="idea",
            text="\n".join(lines),
            reply_markup=markup,
            dedup_key=f"idea:{idea.id}:{user.id}",
            now=now,
            not_before=not_before,
        )
        told += added is not None
    return told


async def queue_idea_reply(
    conn: AsyncConnection,
    i18n: I18n,
    idea: Idea,
    center: Center,
    reply: str,
    *,
    now: datetime,
    quiet: QuietHours,
) -> bool:
    if idea.author_blocked:
        return False
    with i18n.context(), i18n.use_locale(idea.author_language):
        text = "\n".join(
            [
                _("💬 <b>{center}</b> answered your idea:").format(center=escape(center.name)),
                "«" + escape(shorten(idea.text, EXCERPT)) + "»",
                "",
                escape(reply),
            ]
        )
    added = await enqueue(
        conn,
        user_id=idea.user_id,
        kind="idea_reply",
        text=text,
        # Each answer is news of its own; a second answer is not a duplicate of the first.
        dedup_key=f"idea-reply:{idea.id}:{int(now.timestamp())}",
        now=now,
        not_before=release_at(now, center.timezone, quiet),
    )
    return added is not None


async def idea_became_activity(
    conn: AsyncConnection,
    i18n: I18n,
    idea_id: int,
    *,
    center: Center,
    activity_id: int | None,
    actor_id: int,
    now: datetime,
    quiet: QuietHours,
) -> bool:
    """Close the idea with the activity made of it, audit it and tell the author; False
    when the idea is no longer open (or belongs to another center)."""
    idea = await get_idea(conn, idea_id)
    if idea is None or idea.center_id != center.id:
        return False
    if not await close_idea(conn, idea.id, now=now, activity_id=activity_id):
        return False
    await record(
        conn,
        actor_id,
        "idea.activity",
        now=now,
        center_id=center.id,
        idea_id=idea.id,
        activity_id=activity_id,
    )
    activity = await get_activity(conn, activity_id) if activity_id else None
    if idea.author_blocked or activity is None:
        return True
    with i18n.context(), i18n.use_locale(idea.author_language):
        text = "\n".join(
            [
                _("🎉 Your idea became an activity at {center}!").format(
                    center=escape(center.name)
                ),
                "",
                f"<b>{escape(activity.title)}</b>",
                "🗓 " + when(activity, idea.author_language, None),
            ]
        )
        opening = ActivityCb(action=ActivityAction.OPEN, activity_id=activity.id).pack()
        markup = _markup(_("Open it"), opening)
    await enqueue(
        conn,
        user_id=idea.user_id,
        kind="idea_activity",
        text=text,
        reply_markup=markup,
        dedup_key=f"idea-activity:{idea.id}",
        now=now,
        not_before=release_at(now, center.timezone, quiet),
    )
    return True
