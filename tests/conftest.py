"""End-to-end harness: the real dispatcher polls the fake Bot API server over HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot, Dispatcher
from aiogram.utils.i18n import I18n
from aiohttp import ClientSession
from sqlalchemy import select

from bot.app import create_bot, create_dispatcher
from bot.config import Settings
from bot.demo import load_demo_data
from bot.telegram_session import JsonSession
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import metadata
from tests.postgres import TEMPLATE, Cluster, find_binaries
from tests.redis_helpers import JsonMemoryStorage

TOKEN = "123456:TEST-token"

# Which database the tests that take ``database_url`` run on: "sqlite" (the default) or
# "postgresql" (a throwaway cluster, see tests/postgres.py). `make test` runs the suite once
# with each.
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgresql, not {BACKEND!r}")
PG_BINARIES = find_binaries()
PG_MISSING = "PostgreSQL binaries (initdb, pg_ctl, postgres) not found: PostgreSQL tests skipped"


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


@pytest.fixture(scope="session")
async def postgres():
    """The session's PostgreSQL cluster, with the migrations applied to a template database;
    None when the tests run on SQLite."""
    if BACKEND != "postgresql":
        yield None
        return
    if PG_BINARIES is None:
        pytest.skip(PG_MISSING)
    cluster = Cluster(PG_BINARIES)
    try:
        cluster.start()
        await cluster.create_database(name=TEMPLATE)
        db = Database.from_url(cluster.url(TEMPLATE))
        try:
            await upgrade(db)
        finally:
            await db.close()
        yield cluster
    finally:
        cluster.stop()


async def _database_url(cluster, tmp_path, template):
    if cluster is None:
        yield f"sqlite+aiosqlite:///{tmp_path}/bot.db"
        return
    name = await cluster.create_database(template=template)
    try:
        yield cluster.url(name)
    finally:
        await cluster.drop_database(name)


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory):
    """A migrated SQLite database for the tests to copy: migrating each test's afresh took
    a tenth of a second."""
    path = tmp_path_factory.mktemp("sqlite-template") / "bot.db"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db)
    finally:
        await db.close()
    return path


@pytest.fixture
async def database_url(postgres, tmp_path, sqlite_template):
    """A migrated database of the backend under test: a copy of a migrated template."""
    if postgres is None:
        source, copy = sqlite3.connect(sqlite_template), sqlite3.connect(tmp_path / "bot.db")
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
    async for url in _database_url(postgres, tmp_path, TEMPLATE):
        yield url


@pytest.fixture
async def empty_database_url(postgres, tmp_path):
    """A database of the backend under test with no tables at all: for tests of migrations."""
    async for url in _database_url(postgres, tmp_path, "template0"):
        yield url


class PlainHttpSession(JsonSession):
    """The bot's HTTP session, closed without its quarter-second pause that lets TLS
    connections wind down: the fake Telegram speaks plain HTTP on loopback, and the pause
    cost every test that starts the bot a quarter of a second."""

    async def create_session(self) -> ClientSession:
        self.plain = await super().create_session()
        return self.plain

    async def close(self) -> None:
        plain: ClientSession | None = getattr(self, "plain", None)
        if plain is not None and not plain.closed:
            await plain.close()


async def prepare_database(settings: Settings, *, demo: bool) -> None:
    db = Database.from_url(settings.database_url)
    try:
        await upgrade(db)
        if demo:
            await load_demo_data(db, now=datetime.now(UTC))
    finally:
        await db.close()


@pytest.fixture
async def bot_env(request, tmp_path, dispatcher, caplog, database_url):
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
        settings = make_settings(
            tmp_path, server.base_url, **{"database_url": database_url, **overrides}
        )
        await prepare_database(settings, demo=request.node.get_closest_marker("empty") is None)
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        bot = create_bot(settings, PlainHttpSession)
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


def pytest_report_header(config):
    if BACKEND == "sqlite":
        return "database: SQLite"
    if PG_BINARIES is None:
        return f"database: PostgreSQL requested. {PG_MISSING}."
    return f"database: PostgreSQL, a throwaway cluster run by {PG_BINARIES}"


def pytest_collection_modifyitems(config, items):
    if BACKEND != "postgresql":
        return
    sqlite_only = pytest.mark.skip(reason="tests SQLite-specific behaviour")
    # A test that never touches the database under test (pure logic, or a bot process on a
    # SQLite file of its own) would only repeat its SQLite run.
    elsewhere = pytest.mark.skip(reason="uses no database under test: runs once, on SQLite")
    for item in items:
        if item.get_closest_marker("sqlite_only") is not None:
            item.add_marker(sqlite_only)
        elif "postgres" not in getattr(item, "fixturenames", ()):
            item.add_marker(elsewhere)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if BACKEND == "postgresql" and PG_BINARIES is None:
        terminalreporter.write_line(PG_MISSING, yellow=True, bold=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "settings(**values): override bot settings for the test")
    config.addinivalue_line("markers", "empty: start without demo data")
    config.addinivalue_line("markers", "allow_errors: the test expects errors in the log")
    config.addinivalue_line("markers", "concurrent: handle updates as concurrent tasks")
    config.addinivalue_line("markers", "sqlite_only: skipped when TEST_DATABASE=postgresql")
