"""📣 Announcement, the sending half: now, or at a date and time in the center's zone.

Sending now queues every recipient's message at once (``storage.broadcasts.start_broadcast``)
and turns the preview's summary into the progress message, which ``broadcast_report`` keeps
current. Sending later stores a ``scheduled`` announcement; the broadcasts job starts it when
its time comes, after a restart too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sender import Sender
from domain.broadcasts import Audience, Progress, SendAtProblem, parse_send_at
from handlers.access import CenterAccess
from handlers.broadcast_views import (
    local_example,
    local_now,
    recipient_markup_json,
    report_keyboard,
    report_text,
)
from handlers.callbacks import BroadcastStep, CoordBroadcastCb
from handlers.coord_broadcast import BroadcastForm, Draft, activity_problem, draft_of, gone
from handlers.ui import DIALOG_ANSWER, show_in_place
from storage.activities import Activity, get_activity
from storage.audit import record
from storage.broadcasts import (
    Broadcast,
    broadcast_reported_in,
    create_broadcast,
    get_broadcast,
    set_report_message,
    start_broadcast,
)
from storage.centers import Center
from storage.database import Database
from storage.users import User

router = Router(name=__name__)


async def _checked_activity(
    conn: AsyncConnection, draft: Draft, center: Center, now: datetime
) -> tuple[Activity | None, str | None]:
    """The audience's activity, read again: it may have been cancelled or started since."""
    if draft.audience is not Audience.ACTIVITY:
        return None, None
    activity = await get_activity(conn, draft.activity_id or 0)
    return activity, activity_problem(activity, center, now)


async def _create(
    conn: AsyncConnection,
    draft: Draft,
    center: Center,
    author: User,
    *,
    send_at: datetime,
    now: datetime,
    report: tuple[int, int] | None,
) -> Broadcast:
    assert draft.audience is not None
    broadcast_id = await create_broadcast(
        conn,
        center_id=center.id,
        author_id=author.id,
        text=draft.text,
        photo=draft.photo,
        audience=draft.audience,
        activity_id=draft.activity_id,
        send_at=send_at,
        now=now,
        report_chat_id=report[0] if report else None,
        report_message_id=report[1] if report else None,
    )
    await record(
        conn,
        author.id,
        "broadcast.create",
        now=now,
        center_id=center.id,
        broadcast_id=broadcast_id,
        audience=draft.audience.value,
        activity_id=draft.activity_id,
        photo=draft.photo is not None,
        send_at=send_at.isoformat() if send_at > now else None,
    )
    broadcast = await get_broadcast(conn, broadcast_id)
    assert broadcast is not None
    return broadcast


@router.callback_query(CoordBroadcastCb.filter(F.step == BroadcastStep.NOW), CenterAccess())
async def send_now(
    query: CallbackQuery,
    center: Center,
    account: User,
    state: FSMContext,
    db: Database,
    sender: Sender,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    draft = await draft_of(state, center)
    if draft is None or draft.audience is None:
        await query.answer(gone(), show_alert=True)
        return
    now = clock()
    message = query.message if isinstance(query.message, Message) else None
    report = (message.chat.id, message.message_id) if message else None
    broadcast, activity, problem, queued = None, None, None, 0
    async with db.write() as conn:
        # A second press of the same button (or a press in another process) finds the first.
        if report and await broadcast_reported_in(conn, *report):
            problem = _("It is already on its way.")
        else:
            activity, problem = await _checked_activity(conn, draft, center, now)
        if problem is None:
            created = await _create(
                conn, draft, center, account, send_at=now, now=now, report=report
            )
            queued = await start_broadcast(
                conn, created, reply_markup=recipient_markup_json(center), now=now
            )
            broadcast = await get_broadcast(conn, created.id)
    if broadcast is None:
        await query.answer(problem, show_alert=True)
        return
    sender.notify()
    await state.clear()
    await query.answer(_("Sending."))
    progress = Progress(recipients=queued or 0, left=queued or 0)
    await show_in_place(
        query,
        report_text(broadcast, progress, center, activity, i18n.current_locale),
        report_keyboard(broadcast, progress),
    )


@router.callback_query(CoordBroadcastCb.filter(F.step == BroadcastStep.LATER), CenterAccess())
async def ask_time(
    query: CallbackQuery, center: Center, state: FSMContext, clock: Callable[[], datetime]
) -> None:
    draft = await draft_of(state, center)
    if draft is None or draft.audience is None:
        await query.answer(gone(), show_alert=True)
        return
    await state.set_state(BroadcastForm.send_at)
    await query.answer()
    now = clock()
    await query.bot.send_message(
        query.from_user.id,
        _(
            "When should it go out? Send the date and time in the center's time "
            "({zone}, now {now}), for example: {example}"
        ).format(
            zone=center.timezone, now=local_now(now, center), example=local_example(now, center)
        ),
    )


@router.message(StateFilter(BroadcastForm.send_at), CenterAccess(), *DIALOG_ANSWER)
async def got_time(
    message: Message,
    center: Center,
    account: User,
    state: FSMContext,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    draft = await draft_of(state, center)
    if draft is None or draft.audience is None:
        await state.clear()
        await message.answer(gone())
        return
    now = clock()
    send_at = parse_send_at(message.text, center.timezone, now)
    if isinstance(send_at, SendAtProblem):
        await message.answer(_time_hint(send_at, center, now))
        return
    async with db.write() as conn:
        activity, problem = await _checked_activity(conn, draft, center, now)
        if problem is None and activity is not None and activity.starts_at <= send_at:
            problem = _("The activity starts before then: choose an earlier time.")
        if problem is None:
            broadcast = await _create(
                conn, draft, center, account, send_at=send_at, now=now, report=None
            )
    if problem is not None:
        await message.answer(problem)
        return
    await state.clear()
    reply = await message.answer(
        report_text(broadcast, None, center, activity, i18n.current_locale),
        reply_markup=report_keyboard(broadcast, None),
    )
    async with db.write() as conn:
        await set_report_message(conn, broadcast.id, reply.chat.id, reply.message_id)


def _time_hint(problem: SendAtProblem, center: Center, now: datetime) -> str:
    example = local_example(now, center)
    if problem is SendAtProblem.PAST:
        return _(
            "That time has passed (it is {now} at the center). Please send a later one."
        ).format(now=local_now(now, center))
    if problem is SendAtProblem.TOO_FAR:
        return _("That is more than a year ahead. Please send an earlier date.")
    return _("Please send the date and time like this: {example}").format(example=example)


@router.message(StateFilter(BroadcastForm.send_at, BroadcastForm.audience), CenterAccess())
async def not_now(message: Message, state: FSMContext) -> None:
    if await state.get_state() == BroadcastForm.send_at.state:
        await message.answer(_("Please send the date and time as text."))
    else:
        await message.answer(_("Please choose with the buttons above."))


@router.callback_query(CoordBroadcastCb.filter(F.step == BroadcastStep.QUIT), CenterAccess())
async def quit_draft(query: CallbackQuery, center: Center, state: FSMContext) -> None:
    if await draft_of(state, center) is None:
        # An old button: the draft was sent, dropped or replaced since.
        await query.answer(gone(), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await show_in_place(query, _("The announcement was not sent."), None)
