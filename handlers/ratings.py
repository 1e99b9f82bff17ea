"""The thank-you after an activity: a score from 1 to 5 and an optional comment.

A job (``queue_rating_requests``, every few minutes) asks ``storage.ratings`` who is due a
thank-you and queues it for the sender with the key ``rating:<sign-up>``, held back by quiet
hours: each person is asked once per activity, whatever happens. Scores and comments go to
the ``ratings`` table, one row per person and activity, for the coordinators' stats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sender import Sender
from domain.activities import Refusal, Role, Status
from domain.reminders import QuietHours, rating_due, release_at
from handlers.activity_views import when
from handlers.callbacks import RateCb, RatingAction, RatingCommentCb
from handlers.notify import refusal_text
from handlers.ui import (
    DIALOG_ANSWER,
    EVERY_MENU_BUTTON,
    Match,
    MenuButton,
    end_dialog,
    show_in_place,
)
from storage.activities import Activity, get_activities, get_activity
from storage.database import Database
from storage.deliveries import enqueue
from storage.ratings import (
    MAX_COMMENT,
    Rating,
    due_for_rating,
    get_rating,
    rating_key,
    save_comment,
    save_rating,
)
from storage.signups import Signup, get_signup
from storage.users import User

router = Router(name=__name__)

# How long after the end a thank-you may still go out: long enough for a bot that was down
# over a weekend to catch up, short enough that nobody is asked about last month.
WINDOW = timedelta(days=2)


class CommentForm(StatesGroup):
    text = State()


async def queue_rating_requests(
    db: Database, i18n: I18n, sender: Sender | None, *, now: datetime, quiet: QuietHours
) -> int:
    """Queue every thank-you that is due and not queued yet; how many were queued."""
    async with db.read() as conn:
        if not await due_for_rating(conn, now=now, window=WINDOW):
            return 0  # the usual case: no write lock taken
    queued = 0
    async with db.write() as conn:
        # Listed again under the write lock, so that what is queued is what holds now.
        due = await due_for_rating(conn, now=now, window=WINDOW)
        wanted = list({item.activity_id for item in due})
        activities = {activity.id: activity for activity in await get_activities(conn, wanted)}
        for item in due:
            activity = activities.get(item.activity_id)
            if activity is None:
                continue
            with i18n.context(), i18n.use_locale(item.language):
                text, keyboard = thank_you_message(
                    activity, item.signup_id, Role(item.role), item.language
                )
            added = await enqueue(
                conn,
                user_id=item.user_id,
                kind="rating",
                dedup_key=rating_key(item.signup_id),
                text=text,
                reply_markup=keyboard.model_dump(mode="json", exclude_none=True),
                now=now,
                # Not about something still to come: quiet hours hold it until morning.
                not_before=release_at(rating_due(item.ends_at), item.timezone, quiet),
            )
            queued += added is not None
    if queued and sender is not None:
        sender.notify()
    return queued


def thank_you_message(
    activity: Activity,
    signup_id: int,
    role: Role,
    locale: str,
    rating: Rating | None = None,
    *,
    offer_comment: bool = False,
) -> tuple[str, InlineKeyboardMarkup]:
    """The thank-you in ``locale`` (also the current one), and once rated, the score (and
    comment) given. The stars stay under it, so a score can be changed later."""
    lines = [
        _("🙏 Thank you for helping at <b>{title}</b>!").format(title=escape(activity.title))
        if role is Role.VOLUNTEER
        else _("🙏 Thank you for coming to <b>{title}</b>!").format(title=escape(activity.title)),
        # The date too: after downtime or quiet hours it may arrive the next morning.
        when(activity, locale, None),
        "📍 " + escape(activity.center_name),
        "",
    ]
    if rating is None:
        lines.append(_("How was it? Rate it from 1 to 5: the center will see your rating."))
    else:
        lines.append(_("Your rating: {stars}").format(stars="⭐" * rating.score))
        if rating.comment:
            lines.append(_("Your comment: {comment}").format(comment=escape(rating.comment)))
        if offer_comment:
            lines += ["", _("Would you like to add a few words for the coordinators?")]
    rows = [
        [
            InlineKeyboardButton(
                text=f"⭐{score}", callback_data=RateCb(signup_id=signup_id, score=score).pack()
            )
            for score in range(1, 6)
        ]
    ]
    if offer_comment:
        rows.append(
            [
                _comment_button(_("✍️ Add a comment"), RatingAction.COMMENT, signup_id),
                _comment_button(_("❌ No, thanks"), RatingAction.NO_COMMENT, signup_id),
            ]
        )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def _comment_button(text: str, action: RatingAction, signup_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=RatingCommentCb(action=action, signup_id=signup_id).pack()
    )


async def _rateable(
    conn: AsyncConnection, signup_id: int, account: User | None, now: datetime
) -> tuple[Signup, Activity] | str:
    """The sign-up and its activity when ``account`` may rate it, else why not (the text to
    answer with). Someone else's sign-up reads as unknown: it tells nothing about it."""
    signup = await get_signup(conn, signup_id)
    if signup is None or account is None or signup.user_id != account.id:
        return refusal_text(Refusal.NOT_FOUND)
    activity = await get_activity(conn, signup.activity_id)
    if activity is None:
        return refusal_text(Refusal.NOT_FOUND)
    if activity.status != "scheduled":
        return refusal_text(Refusal.CANCELLED)
    if activity.ends_at > now:
        return _("You can rate it once it has ended.")
    if signup.status != Status.CONFIRMED:
        return _("Only those who took part can rate it.")
    return signup, activity


@router.callback_query(RateCb.filter())
async def rate(
    query: CallbackQuery,
    callback_data: RateCb,
    account: User | None,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        found = await _rateable(conn, callback_data.signup_id, account, now)
        if not isinstance(found, str):
            signup, activity = found
            await save_rating(conn, activity.id, signup.user_id, callback_data.score, now)
            rating = await get_rating(conn, activity.id, signup.user_id)
    if isinstance(found, str):
        await query.answer(found)
        return
    await query.answer(_("Thank you!"))
    text, keyboard = thank_you_message(
        activity, signup.id, Role(signup.role), i18n.current_locale, rating, offer_comment=True
    )
    await show_in_place(query, text, keyboard)


@router.callback_query(RatingCommentCb.filter())
async def comment_choice(
    query: CallbackQuery,
    callback_data: RatingCommentCb,
    account: User | None,
    db: Database,
    i18n: I18n,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        found = await _rateable(conn, callback_data.signup_id, account, clock())
        rating = None
        if not isinstance(found, str):
            rating = await get_rating(conn, found[1].id, found[0].user_id)
    if isinstance(found, str) or rating is None:
        # Only a forged press gets here without a rating: the buttons come with the score.
        await query.answer(found if isinstance(found, str) else _("Choose a score first."))
        return
    signup, activity = found
    if callback_data.action is RatingAction.COMMENT:
        await query.answer()
        await state.set_state(CommentForm.text)
        await state.update_data(rating_signup_id=signup.id)
    else:
        await query.answer(_("Thank you!"))
        if await state.get_state() == CommentForm.text.state:
            await state.clear()
    text, keyboard = thank_you_message(
        activity, signup.id, Role(signup.role), i18n.current_locale, rating
    )
    await show_in_place(query, text, keyboard)
    if callback_data.action is RatingAction.COMMENT:
        await query.bot.send_message(
            query.from_user.id,
            _(
                "Write your comment in one message, up to {limit} characters. The center's "
                "coordinators will read it."
            ).format(limit=MAX_COMMENT),
        )


router.message(StateFilter(CommentForm), MenuButton(*EVERY_MENU_BUTTON))(end_dialog)
router.message(StateFilter(CommentForm), Match(F.text.startswith("/")))(end_dialog)


@router.message(StateFilter(CommentForm.text), *DIALOG_ANSWER)
async def comment_text(
    message: Message,
    state: FSMContext,
    account: User | None,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    comment = message.text.strip()
    if not comment or len(comment) > MAX_COMMENT:
        # Not cut short: the end of a comment is often its point. The dialog stays open.
        await message.answer(
            _("Please keep the comment within {limit} characters and send it again.").format(
                limit=MAX_COMMENT
            )
        )
        return
    signup_id = (await state.get_data()).get("rating_signup_id")
    await state.clear()
    now = clock()
    async with db.write() as conn:
        found = await _rateable(conn, signup_id or 0, account, now)
        saved = not isinstance(found, str) and await save_comment(
            conn, found[1].id, found[0].user_id, comment, now
        )
    if isinstance(found, str):
        await message.answer(found)
    elif not saved:
        await message.answer(_("Choose a score first."))
    else:
        await message.answer(_("Thank you! The center's coordinators will read your comment."))


@router.message(StateFilter(CommentForm), Match(~F.text))
async def comment_needs_text(message: Message) -> None:
    await message.answer(_("Please send your comment as text."))
