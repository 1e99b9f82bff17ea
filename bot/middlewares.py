"""Per-update context: who is writing (from the database) and in which language to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18nMiddleware

from bot.config import SUPPORTED_LOCALES
from storage.database import Database
from storage.users import get_user

LOCALE_KEY = "locale"


def locale_from_telegram(language_code: str | None, default: str) -> str:
    """Telegram's ``language_code`` (``uk``, ``en-GB``…) mapped onto a language we speak."""
    if language_code:
        prefix = language_code.split("-", 1)[0].lower()
        if prefix in SUPPORTED_LOCALES:
            return prefix
    return default


class AccountMiddleware(BaseMiddleware):
    """Puts ``account``: the stored user, or None for someone who has not given consent."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: User | None = data.get("event_from_user")
        account = None
        if tg_user is not None and not tg_user.is_bot:
            db: Database = data["db"]
            async with db.read() as conn:
                account = await get_user(conn, tg_user.id)
        data["account"] = account
        return await handler(event, data)


class LocaleMiddleware(I18nMiddleware):
    """The stored language, else one picked before consent (kept in the dialog state only,
    since nothing personal is stored without consent), else Telegram's, else the default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        account = data.get("account")
        if account is not None:
            return account.language
        state = data.get("state")
        if state is not None:
            chosen = (await state.get_data()).get(LOCALE_KEY)
            if chosen in SUPPORTED_LOCALES:
                return chosen
        tg_user: User | None = data.get("event_from_user")
        return locale_from_telegram(tg_user and tg_user.language_code, self.i18n.default_locale)
