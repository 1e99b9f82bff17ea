"""The dispatcher and its lifecycle: what exists while the bot runs, and how it is wired."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot, Dispatcher, F, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType, ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods.base import Response
from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.commands import refresh_personal_commands, set_commands
from bot.config import Settings
from bot.endpoints import ServiceServer
from bot.fsm import check_reachable, create_fsm
from bot.jobs import RunningJobs, create_scheduler, materialise_job
from bot.leader import Leadership
from bot.metrics import BotMetrics, MetricsMiddleware
from bot.middlewares import AccountMiddleware, LocaleMiddleware
from bot.sender import Sender
from bot.telegram_session import JsonSession
from handlers import get_routers
from handlers.ui import Match
from storage.database import Database
from storage.migrate import upgrade
from storage.nearest import NearestCenters

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
logger = logging.getLogger(__name__)
# How long standing by (shut-down, or the lease lost) waits for the jobs under way to finish.
JOBS_FINISH_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def compile_catalogs(directory: Path) -> None:
    """Compile each ``.po`` whose ``.mo`` is missing or older: ``python -m bot`` then works
    straight from a checkout, not only through ``make``."""
    for po_path in directory.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # Written aside and renamed: another process starting now never reads half a file.
        partial = mo_path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(partial, mo_path)


def pin_response_models() -> list[type]:
    """Keep aiogram's parametrised response models alive for the life of the process.

    aiogram builds ``Response[<returned type>]`` for every API answer, and pydantic caches
    such generic models only weakly: once garbage collection takes one, the next answer
    builds it again, a dozen milliseconds each. A busy bot makes enough garbage for that to
    happen all the time (a quarter of its CPU in a profile under load).
    """
    used = (
        methods.SendMessage,  # -> Message
        methods.EditMessageText,  # -> Message | bool
        methods.AnswerCallbackQuery,  # -> bool
        methods.GetUpdates,  # -> list[Update]
        methods.GetMe,  # -> User
    )
    return [Response[method.__returning__] for method in used]


def create_bot(settings: Settings, session_class: type[AiohttpSession] = JsonSession) -> Bot:
    session = session_class(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    storage: BaseStorage | None = None,
) -> Dispatcher:
    """Build the dispatcher once per process (aiogram routers attach to one parent only).

    ``settings`` and ``clock`` given to ``start_polling`` override these for that run.
    Dialog state lives in Redis when ``REDIS_URL`` is set (see ``bot.fsm``), unless a
    ``storage`` is given; aiogram closes it at shutdown.
    """
    compile_catalogs(LOCALES_DIR)
    i18n = I18n(path=LOCALES_DIR, default_locale=settings.default_locale, domain="messages")
    isolation = None
    if storage is None:
        storage, isolation = create_fsm(settings)
    dp = Dispatcher(storage=storage, events_isolation=isolation, settings=settings, clock=clock)
    # The bot lives in private chats: in a group it would answer everyone's every message.
    dp.message.filter(Match(F.chat.type == ChatType.PRIVATE))
    # First of the outer middlewares, so that its time covers theirs (the account's read).
    dp.update.outer_middleware(MetricsMiddleware())
    dp.update.outer_middleware(AccountMiddleware())
    LocaleMiddleware(i18n=i18n).setup(dp)
    dp.include_routers(*get_routers())
    dp["i18n"] = i18n
    dp["pinned_response_models"] = pin_response_models()
    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp


async def on_startup(
    dispatcher: Dispatcher,
    bot: Bot,
    settings: Settings,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await check_reachable(dispatcher.storage)
    db = Database.from_url(settings.database_url)
    service = None
    if settings.metrics_port is not None:
        service = ServiceServer(dispatcher, settings.metrics_host, settings.metrics_port)
    try:
        await upgrade(db)
        nearest_centers = NearestCenters(db)
        await nearest_centers.refresh(force=True)
        await materialise_job(db, clock)  # a bot that was down over midnight catches up now
        me = await bot.me()
        if service is not None:
            await service.start()
    except BaseException:
        # Start-up failed (no database, Telegram unreachable, a revoked token, the metrics
        # port taken): shut-down hooks will not run, so nothing opened here may be left.
        if service is not None:
            await service.stop()
        await db.close()
        raise
    try:
        await set_commands(bot, i18n)
    except TelegramAPIError as error:
        # The command menu is a convenience; the bot works without it.
        logger.warning("could not register the command menu: %s", error)
    for admin_id in sorted(settings.admin_ids):  # ADMIN_IDS may have changed since last run
        await refresh_personal_commands(bot, i18n, db, admin_id, admin=True)
    metrics = BotMetrics(clock)
    sender = Sender(
        bot,
        db,
        per_second=settings.send_per_second,
        allow_paid_broadcast=settings.allow_paid_broadcast,
        clock=clock,
        on_rate_limited=metrics.rate_limited.inc,
    )
    scheduler = create_scheduler(db, i18n, sender, settings, clock)

    async def lead() -> None:
        await sender.start()  # what a previous run left pending goes out now
        if scheduler.running:
            scheduler.resume()  # it was paused while another process led
        else:
            scheduler.start()

    running_jobs = RunningJobs(scheduler)

    async def stand_by() -> None:
        if scheduler.running:
            scheduler.pause()
            if not await running_jobs.finished(within=JOBS_FINISH_SECONDS):
                logger.warning("scheduled jobs still running after %s s", JOBS_FINISH_SECONDS)
        await sender.stop()

    leadership = Leadership(db, on_gain=lead, on_lose=stand_by, ttl=settings.worker_lease_seconds)
    await leadership.start()
    dispatcher["sender"] = sender  # handlers tell it of what they queue, leading or not
    dispatcher["leadership"] = leadership
    dispatcher["scheduler"] = scheduler
    dispatcher["db"] = db
    dispatcher["nearest_centers"] = nearest_centers
    dispatcher["metrics"] = metrics
    dispatcher["service_server"] = service
    # What start-up built (the nearest-center index, routers, compiled statements) lives as
    # long as the process. Left to the collector, each full collection walked all of it and
    # stopped every update for a fifth of a second (with 20,000 centers); frozen, it is never
    # walked again.
    gc.freeze()
    logger.info("started as @%s", me.username)


async def on_shutdown(dispatcher: Dispatcher) -> None:
    service: ServiceServer | None = dispatcher.workflow_data.pop("service_server", None)
    if service is not None:
        await service.stop()  # first: a load balancer stops sending this way
    leadership: Leadership | None = dispatcher.workflow_data.pop("leadership", None)
    if leadership is not None:
        await leadership.stop()  # stops the sender and gives the lease back
    dispatcher.workflow_data.pop("sender", None)
    scheduler = dispatcher.workflow_data.pop("scheduler", None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    db: Database | None = dispatcher.workflow_data.pop("db", None)
    dispatcher.workflow_data.pop("nearest_centers", None)
    dispatcher.workflow_data.pop("metrics", None)
    if db is not None:
        await db.close()
    # Whatever start-up froze and has since been dropped becomes collectable again (a process
    # that starts the bot more than once, as the tests do, would otherwise keep it all).
    gc.unfreeze()
