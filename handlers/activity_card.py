"""One activity's card: details, signing up (alone or with companions), the calendar file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Settings
from domain.activities import ACTIVE, Refusal, Role, Status
from handlers.activity_views import activity_card
from handlers.calendar_files import activity_calendar
from handlers.callbacks import ActivityAction, ActivityCb, SignupAction
from handlers.consent import ask_for_consent, is_consented
from handlers.notify import refusal_text
from handlers.ui import show_in_place, shown_text, signup_button
from storage.activities import get_activity, waitlist_lengths
from storage.database import Database
from storage.signups import sign_up, signup_of, waitlist_position
from storage.subscriptions import subscribed_centers
from storage.users import User

router = Router(name=__name__)


async def viewer_zone(conn: AsyncConnection, account: User | None) -> str | None:
    """The reader's own time zone, as far as the bot knows: that of their first center."""
    if account is None:
        return None
    centers = await subscribed_centers(conn, account.id)
    return centers[0].timezone if centers else None


async def render_card(
    conn: AsyncConnection,
    activity_id: int,
    *,
    user_id: int,
    account: User | None,
    volunteer: bool,
    now: datetime,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup] | None:
    activity = await get_activity(conn, activity_id)
    if activity is None:
        return None
    signup = await signup_of(conn, activity_id, user_id) if account else None
    if signup is not None and signup.status in ACTIVE:
        volunteer = signup.role == Role.VOLUNTEER
    else:
        signup = None  # an old, cancelled sign-up says nothing about this card
    role = Role.VOLUNTEER if volunteer else Role.PARTICIPANT
    position = await waitlist_position(conn, signup) if signup else None
    waitlist = (await waitlist_lengths(conn, [activity_id], role)).get(activity_id, 0)
    text = activity_card(
        activity,
        role=role,
        waitlist=waitlist,
        signup=signup,
        position=position,
        locale=locale,
        viewer_zone=await viewer_zone(conn, account),
    )
    if activity.status != "scheduled":
        text += "\n\n" + _("❌ This activity was cancelled.")
    rows: list[list[InlineKeyboardButton]] = []
    open_for_signup = activity.status == "scheduled" and activity.starts_at > now
    if signup is not None and signup.status == Status.OFFERED:
        rows.append(
            [
                signup_button(_("✅ I will come"), SignupAction.ACCEPT, signup.id),
                signup_button(_("✖ No, thanks"), SignupAction.DECLINE, signup.id),
            ]
        )
    elif signup is not None and open_for_signup:
        rows.append([signup_button(_("❌ Cancel my sign-up"), SignupAction.ASK_CANCEL, signup.id)])
    elif open_for_signup and activity.takes(role):
        join = _("🙋 Sign up as a volunteer") if volunteer else _("✅ Sign up")
        rows.append([_activity_button(join, ActivityAction.JOIN, activity_id, volunteer)])
        if not volunteer and activity.max_companions > 0:
            label = _("👨‍👧 Sign up with companions")
            rows.append([_activity_button(label, ActivityAction.PARTY, activity_id, volunteer)])
    if activity.status == "scheduled":
        label = _("📅 Add to my calendar")
        rows.append([_activity_button(label, ActivityAction.CALENDAR, activity_id, volunteer)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _activity_button(
    text: str, action: ActivityAction, activity_id: int, volunteer: bool, party: int = 1
) -> InlineKeyboardButton:
    callback = ActivityCb(action=action, activity_id=activity_id, volunteer=volunteer, party=party)
    return InlineKeyboardButton(text=text, callback_data=callback.pack())


@router.callback_query(ActivityCb.filter(F.action == ActivityAction.OPEN))
async def open_card(
    query: CallbackQuery,
    callback_data: ActivityCb,
    bot: Bot,
    account: User | None,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        card = await render_card(
            conn,
            callback_data.activity_id,
            user_id=query.from_user.id,
            account=account,
            volunteer=callback_data.volunteer,
            now=clock(),
            locale=i18n.current_locale,
        )
    if card is None:
        await query.answer(refusal_text(Refusal.NOT_FOUND))
        return
    await query.answer()
    await bot.send_message(query.from_user.id, card[0], reply_markup=card[1])


@router.callback_query(ActivityCb.filter(F.action == ActivityAction.PARTY))
async def choose_party(
    query: CallbackQuery, callback_data: ActivityCb, db: Database, clock: Callable[[], datetime]
) -> None:
    async with db.read() as conn:
        activity = await get_activity(conn, callback_data.activity_id)
    refusal = None
    if activity is None:
        refusal = Refusal.NOT_FOUND
    elif activity.status != "scheduled":
        refusal = Refusal.CANCELLED
    elif activity.starts_at <= clock():
        refusal = Refusal.STARTED
    elif callback_data.volunteer or activity.max_companions < 1:
        refusal = Refusal.CLOSED
    if refusal is not None:
        await query.answer(refusal_text(refusal))
        return
    rows = [[_activity_button(_("Just me"), ActivityAction.JOIN, activity.id, False)]]
    for extra in range(1, activity.max_companions + 1):
        label = _("Me + {n}").format(n=extra)
        rows.append([_activity_button(label, ActivityAction.JOIN, activity.id, False, 1 + extra)])
    await query.answer(_("How many of you will come?"))
    await show_in_place(query, shown_text(query), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(ActivityCb.filter(F.action == ActivityAction.JOIN))
async def join(
    query: CallbackQuery,
    callback_data: ActivityCb,
    bot: Bot,
    account: User | None,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    if not is_consented(account, settings):
        await ask_for_consent(query, settings)
        return
    role = Role.VOLUNTEER if callback_data.volunteer else Role.PARTICIPANT
    now = clock()
    async with db.write() as conn:
        outcome = await sign_up(
            conn,
            activity_id=callback_data.activity_id,
            user_id=account.id,
            role=role,
            party_size=callback_data.party,
            now=now,
            rules=settings.signup_rules(),
        )
    if outcome.refusal is not None and outcome.refusal is not Refusal.ALREADY:
        await query.answer(refusal_text(outcome.refusal), show_alert=True)
        return
    if outcome.refusal is Refusal.ALREADY:
        await query.answer(refusal_text(Refusal.ALREADY))
    elif outcome.signup.status == Status.CONFIRMED:
        await query.answer(_("You are signed up. See you there!"))
    else:
        text = _("It is full: you are number {position} on the waitlist.")
        await query.answer(text.format(position=outcome.position), show_alert=True)
    await refresh_card(query, callback_data.activity_id, account, db, i18n, now, role)


async def refresh_card(
    query: CallbackQuery,
    activity_id: int,
    account: User | None,
    db: Database,
    i18n: I18n,
    now: datetime,
    role: Role = Role.PARTICIPANT,
) -> None:
    async with db.read() as conn:
        card = await render_card(
            conn,
            activity_id,
            user_id=query.from_user.id,
            account=account,
            volunteer=role is Role.VOLUNTEER,
            now=now,
            locale=i18n.current_locale,
        )
    if card is not None:
        await show_in_place(query, *card)


@router.callback_query(ActivityCb.filter(F.action == ActivityAction.CALENDAR))
async def calendar_file(
    query: CallbackQuery,
    callback_data: ActivityCb,
    bot: Bot,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        activity = await get_activity(conn, callback_data.activity_id)
    if activity is None or activity.status != "scheduled":
        await query.answer(
            refusal_text(Refusal.NOT_FOUND if activity is None else Refusal.CANCELLED)
        )
        return
    await query.answer()
    content = activity_calendar([activity], name=activity.title, now=clock())
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(content, filename=f"activity-{activity.id}.ics"),
        caption=_("Open the file to add the activity to your calendar."),
    )
