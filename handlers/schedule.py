"""My schedule: what I signed up for, waitlist places and offers; cancel, accept, decline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sender import Sender
from domain.activities import ACTIVE, Refusal, Role, Status
from handlers.activity_card import refresh_card, viewer_zone
from handlers.activity_views import button_label, status_line, when
from handlers.calendar_files import activity_calendar
from handlers.callbacks import (
    ActivityAction,
    ActivityCb,
    ScheduleAction,
    ScheduleCb,
    SignupAction,
    SignupCb,
)
from handlers.consent import is_consented
from handlers.notify import change_signup_and_tell, refusal_text
from handlers.ui import SCHEDULE, MenuButton, show_in_place, shown_text, signup_button
from handlers.views import shorten
from storage.database import Database
from storage.signups import (
    Outcome,
    accept_offer,
    cancel,
    decline_offer,
    get_signup,
    schedule,
)
from storage.users import User

router = Router(name=__name__)

SCHEDULE_SHOWN = 15  # within Telegram's 4096 characters and 100 buttons whatever the titles


@router.message(MenuButton(SCHEDULE))
@router.message(Command("schedule"))
async def my_schedule(
    message: Message,
    account: User | None,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    if not is_consented(account, settings):
        await message.answer(_("You have no sign-ups yet. Find an activity in “🗓 Activities”."))
        return
    async with db.read() as conn:
        entries = await schedule(conn, account.id, now=clock())
    if not entries:
        await message.answer(_("You have no sign-ups yet. Find an activity in “🗓 Activities”."))
        return
    lines = [_("<b>My schedule</b>")]
    rows = []
    locale = i18n.current_locale
    async with db.read() as conn:
        zone = await viewer_zone(conn, account)
    for signup, activity, position in entries[:SCHEDULE_SHOWN]:
        lines.append(
            f"\n<b>{escape(shorten(activity.title, 80))}</b> — "
            f"{escape(shorten(activity.center_name, 60))}\n"
            f"{when(activity, locale, zone)}\n"
            f"{status_line(signup, position, activity, locale)}"
        )
        open_card = ActivityCb(
            action=ActivityAction.OPEN,
            activity_id=activity.id,
            volunteer=signup.role == Role.VOLUNTEER,
        )
        label = InlineKeyboardButton(
            text=button_label(activity, locale), callback_data=open_card.pack()
        )
        if signup.status == Status.OFFERED:
            rows.append([label])
            rows.append(
                [
                    signup_button(_("✅ I will come"), SignupAction.ACCEPT, signup.id),
                    signup_button(_("✖ No, thanks"), SignupAction.DECLINE, signup.id),
                ]
            )
        else:
            rows.append([label, signup_button("❌", SignupAction.ASK_CANCEL, signup.id)])
    if len(entries) > SCHEDULE_SHOWN:
        more = len(entries) - SCHEDULE_SHOWN
        lines.append("\n" + _("…and {count} more later.").format(count=more))
    calendar = ScheduleCb(action=ScheduleAction.CALENDAR).pack()
    rows.append(
        [InlineKeyboardButton(text=_("📅 All of it to my calendar"), callback_data=calendar)]
    )
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(ScheduleCb.filter(F.action == ScheduleAction.CALENDAR))
async def schedule_calendar(
    query: CallbackQuery,
    bot: Bot,
    account: User | None,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    entries = []
    if account is not None:
        async with db.read() as conn:
            entries = await schedule(conn, account.id, now=clock())
    if not entries:
        await query.answer(_("You have no sign-ups yet."))
        return
    await query.answer()
    content = activity_calendar([a for _s, a, _p in entries], name=_("Sosedi"), now=clock())
    await bot.send_document(
        query.from_user.id,
        BufferedInputFile(content, filename="sosedi-schedule.ics"),
        caption=_("Open the file to add your activities to your calendar."),
    )


@router.callback_query(SignupCb.filter(F.action == SignupAction.ASK_CANCEL))
async def ask_to_cancel(
    query: CallbackQuery, callback_data: SignupCb, account: User | None, db: Database
) -> None:
    async with db.read() as conn:
        signup = await get_signup(conn, callback_data.signup_id)
    if signup is None or account is None or signup.user_id != account.id:
        await query.answer(refusal_text(Refusal.NOT_FOUND))
        return
    if signup.status not in ACTIVE:
        await query.answer(_("This sign-up is already cancelled."))
        return
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                signup_button(_("Yes, cancel it"), SignupAction.CANCEL, signup.id),
                signup_button(_("No, keep it"), SignupAction.KEEP, signup.id),
            ]
        ]
    )
    await query.answer(_("Cancel your sign-up?"))
    await show_in_place(query, shown_text(query), keyboard)


@router.callback_query(
    SignupCb.filter(F.action.in_({SignupAction.CANCEL, SignupAction.ACCEPT, SignupAction.DECLINE}))
)
async def change_signup(
    query: CallbackQuery,
    callback_data: SignupCb,
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
    action = {
        SignupAction.CANCEL: cancel,
        SignupAction.ACCEPT: accept_offer,
        SignupAction.DECLINE: decline_offer,
    }[callback_data.action]
    now = clock()
    outcome = await change_signup_and_tell(
        db,
        i18n,
        sender,
        action,
        signup_id=callback_data.signup_id,
        user_id=account.id,
        now=now,
        rules=settings.signup_rules(),
    )
    if outcome.refusal is not None:
        await query.answer(_refused_change(outcome), show_alert=True)
    else:
        await query.answer(
            {
                SignupAction.CANCEL: _("Cancelled. Thank you for freeing the place."),
                SignupAction.ACCEPT: _("Wonderful, the place is yours. See you there!"),
                SignupAction.DECLINE: _("All right, the place goes to the next in line."),
            }[callback_data.action]
        )
    if outcome.signup is not None:
        role = Role(outcome.signup.role)
        await refresh_card(query, outcome.signup.activity_id, account, db, i18n, now, role)


@router.callback_query(SignupCb.filter(F.action == SignupAction.KEEP))
async def keep_signup(
    query: CallbackQuery,
    callback_data: SignupCb,
    account: User | None,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        signup = await get_signup(conn, callback_data.signup_id)
    if signup is None or account is None or signup.user_id != account.id:
        await query.answer(refusal_text(Refusal.NOT_FOUND))
        return
    await query.answer(_("Your sign-up stays."))
    await refresh_card(query, signup.activity_id, account, db, i18n, clock(), Role(signup.role))


def _refused_change(outcome: Outcome) -> str:
    if outcome.refusal is Refusal.ALREADY:
        if outcome.signup is not None and outcome.signup.status == Status.EXPIRED:
            return refusal_text(Refusal.EXPIRED)
        return _("This has already been done.")
    return refusal_text(outcome.refusal)
