"""Command line: ``python -m bot [run | playground | migrate | backup FILE |
import-centers FILE | import-activities FILE | demo-data | links]``; without a command it
runs the bot, or the playground when BOT_TOKEN is not set."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import (
    PLAYGROUND_DATABASE_URL,
    PLAYGROUND_TOKEN,
    DatabaseSettings,
    PlaygroundSettings,
    Settings,
    bot_token_given,
)

NO_TOKEN_HELP = (
    "BOT_TOKEN is not set. To get one, open Telegram, write to @BotFather, send /newbot and "
    "follow the steps; it answers with a token like 123456789:AAE... Put it in a file named "
    ".env next to the Makefile as a line BOT_TOKEN=<token> (see .env.example), "
    "then run `make run` again. (Without a token `make run` opens a playground in the "
    "browser.)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Sosedi: the Telegram bot of neighbourhood community centers. "
        "Settings come from the environment and .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot (the default): long polling, or a webhook server when WEBHOOK_URL is set",
    )
    commands.add_parser(
        "playground",
        help="try the bot in a browser, without Telegram (the default when BOT_TOKEN is not set)",
        description="Runs the bot against a built-in fake Telegram with the demo data and "
        "serves a web chat at http://127.0.0.1:PLAYGROUND_PORT (8080 by default).",
    )
    commands.add_parser("migrate", help="create or upgrade the database schema")
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to FILE while the bot runs",
        description="Writes a consistent copy of the SQLite database of DATABASE_URL to FILE "
        "(replaced if it exists), without stopping the bot. For PostgreSQL use pg_dump.",
    )
    backup.add_argument("file", type=Path, help="where to write the copy")
    importer = commands.add_parser(
        "import-centers",
        help="import or update centers from a CSV file",
        description="Columns: external_id,name,address,city,latitude,longitude (required), "
        "region,timezone,opening_hours,phone (optional). Rows are matched by external_id. "
        "Bad rows are listed with their line numbers; the exit status is 1 if any was rejected.",
    )
    importer.add_argument("file", type=Path, help="CSV file with a header row")
    activities = commands.add_parser(
        "import-activities",
        help="import or update activities, volunteer shifts and weekly series from a CSV file",
        description="Columns: external_id,center_external_id,title,category,date,start,"
        "duration_minutes (required), description,place_note,capacity,max_companions,"
        "volunteer_role,volunteer_places,repeat_weekdays,every_weeks,until (optional). Dates "
        "and times are local to the center. Rows are matched by external_id; a row with "
        "repeat_weekdays is a weekly series. Bad rows are listed with their line numbers; the "
        "exit status is 1 if any was rejected.",
    )
    activities.add_argument("file", type=Path, help="CSV file with a header row")
    commands.add_parser(
        "demo-data",
        help="load demo centers with a week of activities from today (safe to repeat)",
    )
    links = commands.add_parser(
        "links",
        help="print the deep link of each center (for QR posters) as CSV",
        description="Prints external_id,name,link for the given centers, or for all of them.",
    )
    links.add_argument("--bot", required=True, help="the bot's username, e.g. sosedi_bot")
    links.add_argument("external_ids", nargs="*", metavar="EXTERNAL_ID")
    return parser


def load_settings(kind: type[DatabaseSettings], **values: str) -> DatabaseSettings:
    try:
        return kind(**values)
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]).upper() if problem["loc"] else "settings"
        if name == "BOT_TOKEN" and (problem["type"] == "missing" or not problem["input"]):
            print(NO_TOKEN_HELP, file=sys.stderr)
        else:
            print(f"Setting {name} is invalid: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or ("run" if bot_token_given() else "playground")
    if command == "playground":
        settings = load_settings(
            PlaygroundSettings, bot_token=PLAYGROUND_TOKEN, database_url=PLAYGROUND_DATABASE_URL
        )
    else:
        settings = load_settings(Settings if command == "run" else DatabaseSettings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic narrates every start-up at INFO; its news matters only when debugging.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    from bot import cli

    commands = {
        "run": lambda: cli.run(settings),
        "playground": lambda: cli.playground(settings),
        "migrate": lambda: cli.migrate(settings),
        "backup": lambda: cli.backup(settings, args.file),
        "import-centers": lambda: cli.import_centers(settings, args.file),
        "import-activities": lambda: cli.import_activities(settings, args.file),
        "demo-data": lambda: cli.demo_data(settings),
        "links": lambda: cli.links(settings, args.bot, args.external_ids),
    }
    try:
        return asyncio.run(commands[command]())
    except (OSError, SQLAlchemyError) as error:
        # A database that cannot be opened is a setting to fix, not a program error.
        reason = getattr(error, "orig", None) or error
        print(f"Setting DATABASE_URL: cannot use the database: {reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
