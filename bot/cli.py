"""What each command-line command does, once settings are loaded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import DatabaseSettings, PlaygroundSettings, Settings, sqlite_path
from storage.database import Database
from storage.migrate import upgrade

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher


async def run(settings: Settings) -> int:
    # aiogram takes seconds to import; the database commands do without it.
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
    from redis.exceptions import RedisError

    from bot.app import create_bot, create_dispatcher
    from bot.endpoints import ListenError

    bot = create_bot(settings)
    dispatcher = None
    try:
        dispatcher = create_dispatcher(settings)
        if settings.webhook_url:
            await run_webhook(dispatcher, bot, settings)
        else:
            await dispatcher.start_polling(
                bot,
                allowed_updates=dispatcher.resolve_used_update_types(),
                # Updates beyond the cap wait their turn in aiogram rather than crowding the
                # event loop, where every handler's next step, the write lock holder's
                # included, would queue behind all the others.
                tasks_concurrency_limit=settings.max_concurrent_updates,
            )
    except ListenError as error:
        print(error, file=sys.stderr)
        return 2
    except TelegramUnauthorizedError:
        print("Setting BOT_TOKEN is invalid: Telegram does not accept it.", file=sys.stderr)
        return 2
    except TelegramNetworkError as error:
        print(f"Cannot reach the Bot API at {settings.telegram_api_url}: {error}", file=sys.stderr)
        return 1
    except RedisError as error:
        print(f"Setting REDIS_URL: cannot use Redis: {error}", file=sys.stderr)
        return 1
    finally:
        # Polling closes them when it stops, but not when start-up fails.
        await bot.session.close()
        if dispatcher is not None:
            await dispatcher.fsm.close()
    return 0


async def run_webhook(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """The webhook server until SIGINT or SIGTERM, which stop it as they stop polling."""
    import signal

    from bot.webhook import serve_webhook

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve_webhook(dispatcher, bot, settings, stop=stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@contextlib.asynccontextmanager
async def migrated_database(settings: DatabaseSettings) -> AsyncIterator[Database]:
    """The database, brought up to the current schema first, closed afterwards."""
    db = Database.from_url(settings.database_url)
    try:
        await upgrade(db)
        yield db
    finally:
        await db.close()


async def migrate(settings: DatabaseSettings) -> int:
    async with migrated_database(settings):
        print("The database schema is up to date.")
    return 0


async def backup(settings: DatabaseSettings, target: Path) -> int:
    return await asyncio.to_thread(backup_sqlite, settings, target)


def backup_sqlite(settings: DatabaseSettings, target: Path) -> int:
    source = sqlite_path(settings.database_url)
    if source is None:
        print(
            "backup copies a SQLite database; for PostgreSQL use pg_dump (see docs/deploy.md).",
            file=sys.stderr,
        )
        return 2
    if not source.is_file():
        print(f"Setting DATABASE_URL: there is no database at {source}.", file=sys.stderr)
        return 2
    if target.resolve() == source.resolve():
        print("The backup must go to another file than the database.", file=sys.stderr)
        return 2
    try:
        pages = copy_sqlite(source, target)
    except sqlite3.Error as error:
        print(f"Cannot back up {source} to {target}: {error}", file=sys.stderr)
        return 1
    print(f"Backed up {source} to {target} ({pages} pages).")
    return 0


def copy_sqlite(source: Path, target: Path) -> int:
    """Copy a live SQLite database with SQLite's online backup: one read transaction, so the
    copy is consistent, and in WAL mode the bot goes on writing meanwhile. Written aside and
    renamed, so that ``target`` is never a half-written file. The number of pages copied."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
            # A copy that reads back whole, or no copy.
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy does not read back: {check}")
            # One standalone file, with no -wal beside it to carry along.
            dst.execute("PRAGMA journal_mode=DELETE")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return pages


async def import_centers(settings: DatabaseSettings, path: Path) -> int:
    from bot.importer import import_centers as run_import

    async with migrated_database(settings) as db:
        report = await run_import(db, path, now=datetime.now(UTC), out=sys.stdout)
    return 0 if report.ok else 1


async def import_activities(settings: DatabaseSettings, path: Path) -> int:
    from bot.activity_importer import import_activities as run_import

    async with migrated_database(settings) as db:
        report = await run_import(db, path, now=datetime.now(UTC), out=sys.stdout)
    return 0 if report.ok else 1


async def demo_data(settings: DatabaseSettings) -> int:
    from bot.demo import load_demo_data

    async with migrated_database(settings) as db:
        count = await load_demo_data(db, now=datetime.now(UTC))
    # The same words on every run: what was added depends only on the day.
    print(
        f"Demo data loaded: {count} centers, each with a week of activities and volunteer shifts."
    )
    return 0


async def links(settings: DatabaseSettings, bot_username: str, external_ids: list[str]) -> int:
    import csv

    from domain.deeplinks import center_link
    from storage.centers import centers_for_links

    async with migrated_database(settings) as db, db.read() as conn:
        found = await centers_for_links(conn, external_ids)
    writer = csv.writer(sys.stdout)
    writer.writerow(["external_id", "name", "link"])
    for center_id, external_id, name in found:
        writer.writerow([external_id, name, center_link(bot_username.lstrip("@"), center_id)])
    missing = sorted(set(external_ids) - {external_id for _, external_id, _ in found})
    for external_id in missing:
        print(f"unknown center: {external_id}", file=sys.stderr)
    return 1 if missing else 0


async def playground(settings: PlaygroundSettings) -> int:
    from bot.playground import run_playground

    return await run_playground(settings)
