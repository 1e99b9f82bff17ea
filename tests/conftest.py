"""End-to-end harness: the real dispatcher polls the fake Bot API server over HTTP."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot, Dispatcher
from aiogram.utils.i18n import I18n
from sqlalchemy import select

from bot.app import create_bot, create_dispatcher
from bot.config import Settings
from bot.demo import load_demo_data
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import metadata
from tests.redis_helpers import JsonMemoryStorage

TOKEN = "123456:TEST-token"


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(tmp_path, api_url: str = "http://127.0.0.1:9", **overrides) -> Settings:
    values = {
        "bot_token": TOKEN,
        "telegram_api_url": api_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        "default_locale": "ru",
        "log_level": "INFO",
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture(scope="session")
def dispatcher(tmp_path_factory) -> Dispatcher:
    # aiogram routers attach to one parent only, so one dispatcher serves every test; each
    # test runs it with its own settings, database and clock.
    return create_dispatcher(
        make_settings(tmp_path_factory.mktemp("unused")), storage=JsonMemoryStorage()
    )


@dataclass
class BotEnv:
    tg: FakeTelegramClient
    server: FakeTelegram
    db: Database
    settings: Settings
    clock: Clock
    dispatcher: Dispatcher
    bot: Bot

    @property
    def i18n(self) -> I18n:
        return self.dispatcher["i18n"]

    async def rows(self) -> dict[str, list[tuple]]:
        """Every row of every table: to prove an action changed nothing, or erased a user."""
        async with self.db.read() as conn:
            return {
                table.name: [tuple(row) for row in await conn.execute(select(table))]
                for table in metadata.sorted_tables
            }


async def prepare_database(settings: Settings, *, demo: bool) -> None:
    db = Database.from_url(settings.database_url)
    try:
        await upgrade(db)
        if demo:
            await load_demo_data(db, now=datetime.now(UTC))
    finally:
        await db.close()


@pytest.fixture
async def bot_env(request, tmp_path, dispatcher, caplog):
    """The bot running against a fresh fake Telegram and a fresh database with demo data.

    Afterwards: every callback query was answered and nothing was logged as an error (the
    apology handler would otherwise hide a failure), unless a test marks ``allow_errors``.
    """
    # The shared dispatcher's dialog state outlives a test, and every fake server numbers its
    # users from the same id: start each test with none.
    dispatcher.storage.storage.clear()
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    caplog.set_level(logging.WARNING)
    async with FakeTelegram(token=TOKEN) as server:
        settings = make_settings(tmp_path, server.base_url, **overrides)
        await prepare_database(settings, demo=request.node.get_closest_marker("empty") is None)
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        bot = create_bot(settings)
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                settings=settings,
                clock=clock,
                handle_signals=False,
                # Sequential handling makes "update confirmed" mean "update handled"; tests of
                # concurrency ask for production's concurrent handling instead.
                handle_as_tasks=request.node.get_closest_marker("concurrent") is not None,
                polling_timeout=5,
                tasks_concurrency_limit=settings.max_concurrent_updates,
                allowed_updates=dispatcher.resolve_used_update_types(),
            )
        )
        async with FakeTelegramClient(server.base_url) as tg:
            for _ in range(500):
                if "db" in dispatcher.workflow_data or polling.done():
                    break
                await asyncio.sleep(0.01)
            if polling.done():
                polling.result()
            env = BotEnv(tg, server, dispatcher["db"], settings, clock, dispatcher, bot)
            try:
                yield env
                unanswered = await tg.unanswered_callbacks()
                assert not unanswered, f"callback queries left unanswered: {unanswered}"
            finally:
                await dispatcher.stop_polling()
                await polling
    if request.node.get_closest_marker("allow_errors") is None:
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]


def pytest_configure(config):
    config.addinivalue_line("markers", "settings(**values): override bot settings for the test")
    config.addinivalue_line("markers", "empty: start without demo data")
    config.addinivalue_line("markers", "allow_errors: the test expects errors in the log")
    config.addinivalue_line("markers", "concurrent: handle updates as concurrent tasks")
