"""The last resort: log the failure with its update id, apologise in the user's language."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

router = Router(name=__name__)
logger = logging.getLogger(__name__)


@router.errors()
async def apologise(event: ErrorEvent, bot: Bot) -> bool:
    update = event.update
    logger.error(
        "update %s failed: %s",
        update.update_id,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    apology = _("Sorry, something went wrong on my side. Please try again in a minute.")
    with contextlib.suppress(TelegramAPIError):
        if update.callback_query is not None:
            query = update.callback_query
            try:
                await query.answer(apology, show_alert=True)
            except TelegramAPIError:
                # Already answered before the failure: say it in the chat instead.
                await bot.send_message(query.from_user.id, apology)
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, apology)
    return True
