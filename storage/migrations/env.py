"""Alembic environment. The bot runs migrations itself over its own connection (see
``storage.migrate``); the ``alembic`` command line builds an engine from the settings."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.schema import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from bot.config import DatabaseSettings
    from storage.database import Database

    db = Database.from_url(DatabaseSettings().database_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(run_with)
    finally:
        await db.close()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")

connection = config.attributes.get("connection")
if connection is None:
    asyncio.run(run_from_settings())
else:
    run_with(connection)
