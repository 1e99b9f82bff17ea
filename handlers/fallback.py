"""Last in line: whatever no other handler took gets a short hint, never silence or an error."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.ui import Match

router = Router(name=__name__)


@router.message(Match(F.text.startswith("/")))
async def unknown_command(message: Message) -> None:
    await message.answer(_("I don't know this command. /help lists what I can do."))


@router.message()
async def anything_else(message: Message) -> None:
    await message.answer(
        _(
            "I understand text and locations. Use the buttons below, share your location or "
            "type a city or street."
        )
    )


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    # Forged or outdated data that no handler's filter accepted: answered, nothing touched.
    await query.answer(_("This button is out of date."))
