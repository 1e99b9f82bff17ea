"""The command list Telegram shows in the menu, in each language."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n

from handlers.ui import N_
from storage.coordinators import coordinated_centers
from storage.database import Database
from storage.users import get_user

logger = logging.getLogger(__name__)

COMMANDS = (
    ("start", N_("Start: find a community center")),
    ("help", N_("What the bot can do")),
    ("schedule", N_("My sign-ups")),
    ("reminders", N_("Reminders before activities")),
    ("language", N_("Change the language")),
    ("privacy", N_("What is stored about you, and why")),
    ("mydata", N_("Download your data")),
    ("forget", N_("Delete your data")),
)


def commands_for(i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=i18n.gettext(description, locale=locale))
        for name, description in COMMANDS
    ]


async def set_commands(bot: Bot, i18n: I18n) -> None:
    # Without a language code: what clients in any other language see (the default locale).
    await bot.set_my_commands(commands_for(i18n, i18n.default_locale))
    for locale in i18n.available_locales:
        await bot.set_my_commands(commands_for(i18n, locale), language_code=locale)


COORDINATOR_COMMANDS = (
    ("coord", N_("Coordinator's menu")),
    ("poster", N_("QR poster for the store")),
)
ADMIN_COMMANDS = (("admin", N_("Chain administration")),)


async def set_personal_commands(
    bot: Bot, i18n: I18n, chat_id: int, locale: str, *, coordinator: bool, admin: bool
) -> None:
    """The menu of one chat: in the person's chosen language, with the coordinator's and the
    admin's commands for those who have the role (nobody else sees them)."""
    scope = BotCommandScopeChat(chat_id=chat_id)
    extra = (COORDINATOR_COMMANDS if coordinator else ()) + (ADMIN_COMMANDS if admin else ())
    commands = commands_for(i18n, locale) + [
        BotCommand(command=name, description=i18n.gettext(description, locale=locale))
        for name, description in extra
    ]
    await bot.set_my_commands(commands, scope=scope)


async def refresh_personal_commands(
    bot: Bot, i18n: I18n, db: Database, user_id: int, *, admin: bool
) -> None:
    """After a role changed: the person's command menu follows, from the database. The menu
    is a convenience, so a refusal from Telegram (a blocked bot) is only logged."""
    async with db.read() as conn:
        user = await get_user(conn, user_id)
        coordinator = bool(await coordinated_centers(conn, user_id))
    try:
        if user is None:
            await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=user_id))
            return
        await set_personal_commands(
            bot, i18n, user_id, user.language, coordinator=coordinator, admin=admin
        )
    except TelegramAPIError as error:
        logger.warning("could not update the command menu of a chat: %s", error)
