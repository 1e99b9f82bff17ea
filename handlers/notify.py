"""Messages the bot sends on its own: a seat offered from the waitlist, or an offer that ran
out. Each goes out in the recipient's language, not the actor's."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from domain.activities import Refusal, SignupRules, Status
from handlers.activity_views import deadline, when
from handlers.callbacks import SignupAction, SignupCb
from storage.activities import Activity, get_activity
from storage.database import Database
from storage.signups import Promotion, decline_offer
from storage.users import User, get_user, set_blocked

logger = logging.getLogger(__name__)


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


async def announce_promotions(
    bot: Bot,
    db: Database,
    i18n: I18n,
    promotions: Iterable[Promotion],
    *,
    rules: SignupRules,
    now: datetime,
) -> None:
    queue = list(promotions)
    while queue:
        promotion = queue.pop(0)
        async with db.read() as conn:
            user = await get_user(conn, promotion.user_id)
            activity = await get_activity(conn, promotion.activity_id)
        if user is None or activity is None:
            continue
        if user.blocked or not await _announce(bot, db, i18n, promotion, user, activity):
            # Someone who cannot hear the offer must not hold the seat for hours: it goes to
            # the next in line now.
            queue += await _pass_on(db, promotion, rules, now)


async def _pass_on(
    db: Database, promotion: Promotion, rules: SignupRules, now: datetime
) -> list[Promotion]:
    if promotion.status != Status.OFFERED:
        return []
    async with db.write() as conn:
        outcome = await decline_offer(
            conn, signup_id=promotion.signup_id, user_id=promotion.user_id, now=now, rules=rules
        )
    return list(outcome.promotions)


async def _announce(
    bot: Bot, db: Database, i18n: I18n, promotion: Promotion, user: User, activity: Activity
) -> bool:
    """Tell one person of their promotion; False when they have blocked the bot."""
    with i18n.context(), i18n.use_locale(user.language):
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
                        _button(_("✅ I will come"), SignupAction.ACCEPT, promotion.signup_id),
                        _button(_("✖ No, thanks"), SignupAction.DECLINE, promotion.signup_id),
                    ]
                ]
            )
        else:
            text = _("🎉 A place came free and it is yours: {activity}. See you there!").format(
                activity=title
            )
            keyboard = None
        return await deliver(bot, db, user.id, text, keyboard)


async def announce_expired(
    bot: Bot, db: Database, i18n: I18n, user_id: int, activity_id: int
) -> None:
    async with db.read() as conn:
        user = await get_user(conn, user_id)
        activity = await get_activity(conn, activity_id)
    if user is None or activity is None or user.blocked:
        return
    with i18n.context(), i18n.use_locale(user.language):
        text = _(
            "The place held for you at {activity} was not taken in time and went to the next "
            "person on the waitlist."
        ).format(activity=f"<b>{escape(activity.title)}</b>")
        await deliver(bot, db, user.id, text, None)


async def deliver(
    bot: Bot, db: Database, user_id: int, text: str, keyboard: InlineKeyboardMarkup | None
) -> bool:
    """Send, and remember a user who blocked the bot so that nobody retries them. False
    when they have blocked it."""
    try:
        await bot.send_message(user_id, text, reply_markup=keyboard)
    except TelegramForbiddenError:
        async with db.write() as conn:
            await set_blocked(conn, user_id, True)
        return False
    except TelegramAPIError as error:
        logger.warning("could not notify a user: %s", type(error).__name__)
    return True


def _button(text: str, action: SignupAction, signup_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=SignupCb(action=action, signup_id=signup_id).pack()
    )
