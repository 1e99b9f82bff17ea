"""An announcement going out: the job that starts scheduled ones and keeps each author's
progress message current, and the button that stops one.

``BroadcastMonitor.run`` is the broadcasts job (``bot/jobs.py``, every few seconds in the
process that sends): it starts the announcements whose time has come, then for each one still
going out reads its deliveries by state and edits the author's message when the figures
changed, at most once a run. The edit goes through ``Sender.within_limits``: Telegram counts
edits against the same limits as the messages going out. Once nothing is left it writes the
final report and marks the announcement finished. Everything is read from the database, so
a restart carries on where the last run stopped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiogram import Router
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.sender import Sender
from domain.broadcasts import BroadcastState
from handlers.access import CenterAccess
from handlers.broadcast_views import recipient_markup_json, report_keyboard, report_text
from handlers.callbacks import CoordBroadcastStopCb
from handlers.coord_broadcast import compose_prompt
from handlers.ui import show_in_place
from storage.activities import get_activity
from storage.audit import record
from storage.broadcasts import (
    Broadcast,
    broadcast_progress,
    cancel_broadcast,
    due_broadcasts,
    finish_broadcast,
    get_broadcast,
    scheduled_broadcasts,
    set_report_message,
    start_broadcast,
    unfinished_broadcasts,
)
from storage.centers import Center, get_center
from storage.database import Database
from storage.users import User, get_user

logger = logging.getLogger(__name__)
router = Router(name=__name__)

# How long a progress edit may wait for its turn among the messages going out.
EDIT_PATIENCE = 2.0


class BroadcastMonitor:
    """Remembers what each progress message shows, so that it is edited only on a change."""

    def __init__(self) -> None:
        self._shown: dict[int, str] = {}

    async def run(self, db: Database, i18n: I18n, sender: Sender, *, now: datetime) -> None:
        await self.start_due(db, sender, now=now)
        await self.report(db, i18n, sender, now=now)

    async def start_due(self, db: Database, sender: Sender, *, now: datetime) -> int:
        """Queue the messages of every announcement whose time has come; how many started."""
        async with db.read() as conn:
            due = await due_broadcasts(conn, now=now)
        started = 0
        for broadcast in due:
            async with db.write() as conn:
                center = await get_center(conn, broadcast.center_id)
                queued = None
                if center is not None:
                    markup = recipient_markup_json(center)
                    queued = await start_broadcast(conn, broadcast, reply_markup=markup, now=now)
            if queued is not None:
                started += 1
                logger.info("announcement %d: queued %d messages", broadcast.id, queued)
        if started:
            sender.notify()
        return started

    async def report(self, db: Database, i18n: I18n, sender: Sender, *, now: datetime) -> None:
        async with db.read() as conn:
            unfinished = await unfinished_broadcasts(conn)
            views = []
            for broadcast in unfinished:
                progress = await broadcast_progress(conn, broadcast)
                center = await get_center(conn, broadcast.center_id)
                activity = (
                    await get_activity(conn, broadcast.activity_id)
                    if broadcast.activity_id
                    else None
                )
                author = await get_user(conn, broadcast.author_id)
                views.append((broadcast, progress, center, activity, author))
        for broadcast, progress, center, activity, author in views:
            if center is None:
                continue
            locale = author.language if author else i18n.default_locale
            with i18n.context(), i18n.use_locale(locale):
                text = report_text(broadcast, progress, center, activity, locale)
                keyboard = report_keyboard(broadcast, progress)
            if not progress.finished and self._shown.get(broadcast.id) == text:
                continue
            if not await show_report(db, sender, broadcast, text, keyboard):
                continue  # its turn did not come: the next run tries again
            if progress.finished:
                async with db.write() as conn:
                    await finish_broadcast(conn, broadcast.id, now=now)
                self._shown.pop(broadcast.id, None)
                logger.info("announcement %d finished: %s", broadcast.id, progress)
            else:
                self._shown[broadcast.id] = text


async def show_report(
    db: Database,
    sender: Sender,
    broadcast: Broadcast,
    text: str,
    keyboard: InlineKeyboardMarkup | None,
) -> bool:
    """Edit the author's report message (a new one if it cannot be edited); False when it
    should be tried again later (no turn, Telegram busy or unreachable)."""
    bot = sender.bot
    chat_id = broadcast.report_chat_id or broadcast.author_id
    message_id = broadcast.report_message_id
    try:
        if message_id is not None:
            try:
                edited = await sender.within_limits(
                    chat_id,
                    lambda: bot.edit_message_text(
                        text=text,
                        chat_id=chat_id,
                        message_id=message_id,
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard,
                    ),
                    patience=EDIT_PATIENCE,
                )
                return edited is not None
            except TelegramBadRequest as error:
                if "message is not modified" in error.message:
                    return True
                if "message to edit not found" not in error.message and (
                    "can't be edited" not in error.message
                ):
                    raise
        sent = await sender.within_limits(
            chat_id,
            lambda: bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard
            ),
            patience=EDIT_PATIENCE,
        )
        if sent is None:
            return False
        async with db.write() as conn:
            await set_report_message(conn, broadcast.id, sent.chat.id, sent.message_id)
        return True
    except (TelegramRetryAfter, TelegramServerError, TelegramNetworkError) as error:
        logger.warning("announcement %d: report not updated: %s", broadcast.id, error)
        return False
    except TelegramAPIError as error:
        # The author blocked the bot, or left Telegram: nothing to try again.
        logger.warning("announcement %d: report not shown: %s", broadcast.id, error.message)
        return True


# -- stopping -------------------------------------------------------------------------------


@router.callback_query(CoordBroadcastStopCb.filter(), CenterAccess())
async def stop(
    query: CallbackQuery,
    callback_data: CoordBroadcastStopCb,
    center: Center,
    account: User,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    progress = None
    async with db.write() as conn:
        broadcast = await get_broadcast(conn, callback_data.broadcast_id)
        if broadcast is None or broadcast.center_id != center.id:
            broadcast, stopped = None, False
        else:
            was = broadcast.state
            stopped = await cancel_broadcast(conn, broadcast.id, now=now)
            if stopped:
                await record(
                    conn,
                    account.id,
                    "broadcast.cancel",
                    now=now,
                    center_id=center.id,
                    broadcast_id=broadcast.id,
                    was=was,
                )
                broadcast = await get_broadcast(conn, broadcast.id)
                if broadcast is not None and broadcast.recipients is not None:
                    progress = await broadcast_progress(conn, broadcast)
        activity = (
            await get_activity(conn, broadcast.activity_id)
            if broadcast is not None and broadcast.activity_id
            else None
        )
        waiting = await scheduled_broadcasts(conn, center.id)
    if broadcast is None:
        await query.answer(_("This announcement is no longer in the list."), show_alert=True)
        return
    if not stopped:
        await query.answer(
            _("It was already stopped.")
            if broadcast.state == BroadcastState.CANCELLED
            else _("It has already gone out.")
        )
        return
    await query.answer(_("Stopped."))
    text = report_text(broadcast, progress, center, activity, i18n.current_locale)
    keyboard = report_keyboard(broadcast, progress)
    pressed = query.message if isinstance(query.message, Message) else None
    if pressed is not None and (pressed.chat.id, pressed.message_id) == (
        broadcast.report_chat_id,
        broadcast.report_message_id,
    ):
        await show_in_place(query, text, keyboard)
        return
    # Pressed in the section's list of scheduled ones: that list loses it, and its own
    # message says it was cancelled.
    if broadcast.report_message_id is not None and broadcast.report_chat_id is not None:
        # Deleted, or too old to edit: the list below says it anyway.
        with contextlib.suppress(TelegramBadRequest):
            await query.bot.edit_message_text(
                text=text,
                chat_id=broadcast.report_chat_id,
                message_id=broadcast.report_message_id,
                reply_markup=keyboard,
            )
    list_text, list_keyboard = compose_prompt(center, waiting, i18n.current_locale)
    await show_in_place(query, list_text, list_keyboard)
