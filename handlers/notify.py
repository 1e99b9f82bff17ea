"""Messages the bot sends on its own about the waitlist: a seat offered, or an offer that ran
out. Each is queued for the sender in the recipient's language, not the actor's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from html import escape
from typing import Any

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sender import Sender
from domain.activities import Refusal, SignupRules, Status
from handlers.activity_views import deadline, when
from handlers.callbacks import SignupAction
from handlers.ui import signup_button
from storage.activities import Activity, get_activity
from storage.database import Database
from storage.deliveries import enqueue
from storage.signups import Outcome, Promotion, Signup, decline_offer
from storage.users import User, get_user


def refusal_text(refusal: Refusal) -> str:
    return {
        Refusal.NOT_FOUND: _("This activity is no longer in the list."),
        Refusal.CANCELLED: _("This activity was cancelled."),
        Refusal.STARTED: _("This activity has already started."),
        Refusal.CLOSED: _("This activity takes no sign-ups of this kind."),
        Refusal.PARTY_TOO_BIG: _("That is more people than this activity allows."),
        Refusal.ALREADY: _("You are already signed up."),
        Refusal.TOO_MANY: _(
            "You already have the most sign-ups allowed at once. Cancel one to sign up here."
        ),
        Refusal.EXPIRED: _("This offer has run out; the place went to the next in line."),
    }[refusal]


SignupChange = Callable[..., Awaitable[Outcome]]


async def change_signup_and_tell(
    db: Database,
    i18n: I18n,
    sender: Sender,
    change: SignupChange,
    *,
    signup_id: int,
    user_id: int,
    now: datetime,
    rules: SignupRules,
) -> Outcome:
    """Cancel, accept or decline (``change``), and queue the news of the seats it freed in
    the same transaction; then tell the sender."""
    async with db.write() as conn:
        outcome = await change(conn, signup_id=signup_id, user_id=user_id, now=now, rules=rules)
        await queue_promotions(conn, i18n, outcome.promotions, rules=rules, now=now)
    sender.notify()
    return outcome


async def queue_promotions(
    conn: AsyncConnection,
    i18n: I18n,
    promotions: Iterable[Promotion],
    *,
    rules: SignupRules,
    now: datetime,
) -> int:
    """Queue the message for each promotion, in the transaction that made it: the seat and
    the news of it are committed together. Tell the sender after the commit. Returns how many
    were queued."""
    queue = list(promotions)
    queued = 0
    while queue:
        promotion = queue.pop(0)
        user = await get_user(conn, promotion.user_id)
        activity = await get_activity(conn, promotion.activity_id)
        if user is None or activity is None:
            continue
        if user.blocked:
            # Someone who cannot hear the offer must not hold the seat for hours: it goes to
            # the next in line now.
            if promotion.status == Status.OFFERED:
                outcome = await decline_offer(
                    conn,
                    signup_id=promotion.signup_id,
                    user_id=promotion.user_id,
                    now=now,
                    rules=rules,
                )
                queue += outcome.promotions
            continue
        with i18n.context(), i18n.use_locale(user.language):
            text, keyboard = _promotion_message(promotion, user, activity)
        added = await enqueue(
            conn,
            user_id=user.id,
            kind="offer",
            text=text,
            reply_markup=keyboard,
            dedup_key=f"promotion:{promotion.signup_id}",
            now=now,
        )
        queued += added is not None
    return queued


def _promotion_message(
    promotion: Promotion, user: User, activity: Activity
) -> tuple[str, dict[str, Any] | None]:
    title = f"<b>{escape(activity.title)}</b>, {when(activity, user.language, None)}"
    if promotion.status == Status.OFFERED and promotion.expires_at is not None:
        until = deadline(promotion.expires_at, activity.timezone, user.language)
        text = _(
            "🎟 A place has come free for you: {activity}.\n\n"
            "It is held for you until {time} ({center} time). Will you come?"
        ).format(activity=title, time=until, center=escape(activity.center_name))
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    signup_button(_("✅ I will come"), SignupAction.ACCEPT, promotion.signup_id),
                    signup_button(_("✖ No, thanks"), SignupAction.DECLINE, promotion.signup_id),
                ]
            ]
        )
        return text, keyboard.model_dump(mode="json", exclude_none=True)
    text = _("🎉 A place came free and it is yours: {activity}. See you there!").format(
        activity=title
    )
    return text, None


async def queue_expired(
    conn: AsyncConnection, i18n: I18n, signup: Signup, *, now: datetime
) -> None:
    """Tell someone that the seat held for them went to the next person."""
    user = await get_user(conn, signup.user_id)
    activity = await get_activity(conn, signup.activity_id)
    if user is None or activity is None or user.blocked:
        return
    with i18n.context(), i18n.use_locale(user.language):
        text = _(
            "The place held for you at {activity} was not taken in time and went to the next "
            "person on the waitlist."
        ).format(activity=f"<b>{escape(activity.title)}</b>")
    await enqueue(
        conn,
        user_id=user.id,
        kind="offer_expired",
        text=text,
        dedup_key=f"expired:{signup.id}",
        now=now,
    )
