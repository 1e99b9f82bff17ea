"""The command list Telegram shows in the menu, in each language."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from handlers.ui import N_

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
