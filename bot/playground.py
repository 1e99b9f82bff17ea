"""The local playground: the bot with the demo data and a web chat, and no Telegram at all.

``make run`` without a BOT_TOKEN lands here. The fake Bot API (:mod:`fake_telegram`) runs in
this process and also serves the web chat; the dispatcher polls it over HTTP exactly as it
polls Telegram. A few personas are ready: a newcomer who meets the consent screen, residents
who follow a demo center, a volunteer, that center's coordinator and an admin, each in a
chat of their own. The clock is real time plus an offset that the page moves forward (see
:mod:`bot.playground_web`).

The chats live in memory, so every start is a fresh one, and so is the database.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.app import create_bot, create_dispatcher
from bot.commands import refresh_personal_commands
from bot.config import PLAYGROUND_TOKEN, PlaygroundSettings, sqlite_path
from bot.demo import load_demo_data
from bot.playground_web import PlaygroundClock, PlaygroundWeb
from domain.activities import Role
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.activities import upcoming
from storage.centers import centers_for_links
from storage.coordinators import appoint
from storage.database import Database
from storage.migrate import upgrade
from storage.signups import sign_up
from storage.subscriptions import subscribe
from storage.users import save_consent

logger = logging.getLogger(__name__)

DEMO_CENTER = "demo-ekb-1"  # the center the coordinator runs and the residents follow
# A sign-up this far ahead reminds nobody at the start; a day or two on the clock later, it
# does.
SIGNUP_LEAD = timedelta(hours=25)


@dataclass(frozen=True, slots=True)
class Persona:
    id: int
    name: str
    language: str  # the language of their Telegram app
    role: str  # newcomer, resident, volunteer, coordinator or admin: the page names it
    consented: bool = True
    signs_up_as: Role | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "language": self.language, "role": self.role}


PERSONAS = (
    Persona(1001, "Анна", "ru", "newcomer", consented=False),
    Persona(1002, "Петро", "uk", "resident"),
    Persona(1003, "Emma", "en", "resident", signs_up_as=Role.PARTICIPANT),
    Persona(1004, "Иван", "ru", "volunteer", signs_up_as=Role.VOLUNTEER),
    Persona(1005, "Ольга", "ru", "coordinator"),
    Persona(1006, "Сергей", "ru", "admin"),
)
COORDINATOR = next(p for p in PERSONAS if p.role == "coordinator")
ADMIN = next(p for p in PERSONAS if p.role == "admin")


async def run_playground(settings: PlaygroundSettings) -> int:
    """Serve the playground until interrupted. ``settings.database_url`` is the playground's
    own database, which is emptied first."""
    clock = PlaygroundClock()
    server = FakeTelegram(token=PLAYGROUND_TOKEN, clock=lambda: clock().timestamp())
    web = PlaygroundWeb(clock, PERSONAS)
    web.install(server.app)
    try:
        base_url = await server.start("127.0.0.1", settings.playground_port)
    except OSError as error:
        print(
            f"Setting PLAYGROUND_PORT: cannot listen on 127.0.0.1:{settings.playground_port}: "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    bot: Bot | None = None
    if logging.getLogger().level > logging.DEBUG:
        # The terminal is for the address and for problems, not for a line per update.
        for name in ("aiogram.event", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        web.centers[COORDINATOR.id] = await prepare_database(settings, now=clock())
        settings = settings.model_copy(
            update={
                "telegram_api_url": base_url,
                "admin_ids": settings.admin_ids | {ADMIN.id},
                # Its dialogs stay in the process, like its data: never in a real Redis.
                "redis_url": None,
            }
        )
        await create_personas(base_url)
        bot = create_bot(settings)
        dispatcher = create_dispatcher(settings, clock=clock)

        async def ready(dispatcher: Dispatcher, bot: Bot, i18n: I18n) -> None:
            # Runs after the dispatcher's own start-up, so its scheduler and sender exist.
            web.attach(dispatcher)
            db = dispatcher["db"]
            await refresh_personal_commands(bot, i18n, db, COORDINATOR.id, admin=False)
            print(f"The playground is open at {base_url}/", flush=True)
            print(
                "It runs the bot against a built-in fake Telegram, with demo data and "
                "personas made afresh on every start. Ctrl+C stops it.",
                flush=True,
            )

        dispatcher.startup.register(ready)
        await dispatcher.start_polling(
            bot,
            allowed_updates=dispatcher.resolve_used_update_types(),
            tasks_concurrency_limit=settings.max_concurrent_updates,
        )
    finally:
        if bot is not None:
            await bot.session.close()  # polling closes it, but not when start-up fails
        await server.stop()
    return 0


async def prepare_database(settings: PlaygroundSettings, *, now: datetime) -> str:
    """An empty database with the demo data and the personas' accounts; returns the name of
    the demo center they share."""
    path = sqlite_path(settings.database_url)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    db = Database.from_url(settings.database_url)
    try:
        await upgrade(db)
        await load_demo_data(db, now=now)
        async with db.write() as conn:
            [(center_id, _external_id, center_name)] = await centers_for_links(conn, [DEMO_CENTER])
            for persona in PERSONAS:
                if not persona.consented:
                    continue
                await save_consent(
                    conn,
                    user_id=persona.id,
                    display_name=persona.name,
                    language=persona.language,
                    consent_version=settings.consent_version,
                    now=now,
                )
                await subscribe(conn, persona.id, center_id, now=now)
                if persona.signs_up_as is not None:
                    await _sign_up(conn, settings, persona, center_id, now=now)
            await appoint(conn, COORDINATOR.id, center_id, by=ADMIN.id, now=now)
    finally:
        await db.close()
    return center_name


async def _sign_up(
    conn: AsyncConnection,
    settings: PlaygroundSettings,
    persona: Persona,
    center_id: int,
    *,
    now: datetime,
) -> None:
    role = persona.signs_up_as or Role.PARTICIPANT
    found = await upcoming(conn, [center_id], since=now + SIGNUP_LEAD, role=role, limit=1)
    if not found:
        return
    await sign_up(
        conn,
        activity_id=found[0].id,
        user_id=persona.id,
        role=role,
        party_size=1,
        now=now,
        rules=settings.signup_rules(),
    )


async def create_personas(base_url: str) -> None:
    """The personas as Telegram users. Those who already use the bot have said /start, which
    the bot answers as soon as it polls, so their chats open on the menu."""
    async with FakeTelegramClient(base_url) as tg:
        for persona in PERSONAS:
            user = await tg.new_user(
                persona.name,
                id=persona.id,
                language_code=persona.language,
                started=persona.consented,
            )
            if persona.consented:
                await user.send("/start", wait=False)
