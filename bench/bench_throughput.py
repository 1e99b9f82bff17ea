"""Update throughput of the whole bot, against a bare aiogram echo bot on the same fake server.

A fresh SQLite database gets 20,000 synthetic centers, 200,000 activities over the next four
weeks and 300 residents who have consented, follow one to three centers near home and hold a
few sign-ups already (written through the storage functions; this setup is timed on its own
and is not part of any throughput figure).

The real dispatcher then polls a ``FakeTelegram`` server in this process, one event loop for
both, with production's concurrent handling (``handle_as_tasks``). Virtual residents live in a
second process (:mod:`bench.load_driver`), so that the HTTP clients acting as Telegram users do
not take CPU from the loop being measured. 64 of them at a time each run a round of a
resident's script: /start, share a location, "🗓 Activities", open a card from the list, sign
up, "📋 My schedule", cancel (ask, then confirm), every other round a text search, and declining
a seat offered from a waitlist when one arrives. Each step waits for the bot to have handled it,
then reads the chat as the user would see it.

An outer middleware installed in front of aiogram's own (by this file, not by the product)
times every update with ``perf_counter_ns`` and tells the driver the update is done, so waiting
costs the fake server nothing. Phases:

* throughput: closed loop, a step in flight for each of 64 residents, updates handled per second
  over a fixed window after a warm-up;
* latency: the same residents start rounds in an open loop (Poisson arrivals) at half the
  throughput just measured. Under a saturated closed loop a handler's time is mostly waiting for
  the other 63 in the same event loop (Little's law: 64 in flight / N per second), so a
  percentile taken there says how many residents were chosen rather than how fast a handler is;
  it is reported too, without a target;
* echo: a bare aiogram ``Dispatcher`` that answers every text with the same text and answers
  every callback query, on a fresh fake server, driven by the same driver with the same mix of
  text messages and callback queries and the same concurrency; measured before and after the
  bot, half the window each time, so that the machine's background load drifting during the run
  biases the ratio less.
* replay: the ceiling for any bot that answers as this one does. An aiogram bot with the bot's
  session, parse mode and concurrency limit, driven like the echo bot, answers each text with
  one of the messages the bot sent during its phase, and each button press with one of the
  bot's callback answers and an edit to one of its texts and keyboards; it does nothing else.
  So it makes the bot's Bot API calls, with the bot's payloads (about 1.5 calls per update
  against the echo's 1), without routing, middlewares, SQL or rendering. Its rate against the
  echo's says how much of the ratio those calls alone take; the bot's CPU per update minus
  the replay's is the bot's own work. Its p99 at half its own rate is measured as the bot's.

Before each phase the harness's own objects (the setup's data, the previous phase's fake
server) are frozen out of the garbage collector's reach (``gc.freeze``): left in, every full
collection walked them, and the bots paid for the harness with pauses of a fifth of a second.

The process's CPU time per update (bot and fake server together; SQLite's threads included) is
reported for both bots: it explains the ratio and varies less with the machine's load than the
rates do. Errors count what was logged at ERROR, callback queries left unanswered, Bot API calls
the fake server refused, and steps the driver saw no reaction to.

With ``BENCH_THROUGHPUT_PROFILE=FILE`` set, the bot's closed-loop window is run under cProfile
and the statistics are written to FILE (the figures of such a run are not representative).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import itertools
import json
import logging
import multiprocessing
import os
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import AnswerCallbackQuery, EditMessageText, Response, SendMessage
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import I18n
from sqlalchemy import event, select

from bench import load_driver
from bench.common import Figure, median, ns_to_ms, percentile, progress, settle
from bench.synthetic import generate_centers, query_points
from bot.app import LOCALES_DIR, create_bot, create_dispatcher
from bot.config import Settings
from domain.activities import Role, SignupRules
from domain.geo import NearestIndex
from domain.timezones import timezone_at
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from handlers.ui import ACTIVITIES, SCHEDULE
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import activities, centers
from storage.series import insert_activities
from storage.signups import sign_up
from storage.subscriptions import subscribe
from storage.users import save_consent

N_CENTERS = 20_000
N_ACTIVITIES = 200_000
N_RESIDENTS = 300
CONCURRENCY = 64
DAYS_AHEAD = 28
SEED = 11

WARMUP_S = 5.0
WINDOW_S = 25.0
LATENCY_LOAD = 0.5  # of the throughput just measured
LATENCY_WARMUP_S = 5.0
LATENCY_WINDOW_S = 15.0
ECHO_WARMUP_S = 3.0
ECHO_WINDOW_S = 12.0  # twice: before and after the bot

# The fake server lives in the measured process: what it remembered of the whole run made
# every full collection longer (100 ms and more by the end of a phase), pauses the bot would
# not have beside the real Telegram. A resident's steps need only their newest messages.
SERVER_HISTORY = 2_000

PROFILE_VARIABLE = "BENCH_THROUGHPUT_PROFILE"

TOKEN = "123456:BENCH-token"
LANGUAGES = (("ru", 0.7), ("uk", 0.2), ("en", 0.1))
ECHO_BASELINE = "bare aiogram echo bot, same fake server, same run"
REPLAY_BASELINE = "aiogram bot sending the bot's recorded replies and doing nothing else"
ERRORS_COUNTED = "error log + unanswered callbacks + refused Bot API calls + steps without reaction"

# (title, category, minutes, capacities to pick from, companions, volunteer role, place).
# Capacity None is unlimited; 0 is a shift for volunteers only.
_KINDS = (
    ("Шахматный клуб", "other", 120, (8, 12, 16), 0, None, "Малый зал"),
    ("Мастер-класс по лепке", "crafts", 90, (4, 6, 10), 0, "Помощь на мастер-классе", "Мастерская"),
    ("Лекция о финансах", "lectures", 60, (None,), 0, "Встреча гостей", "Большой зал"),
    ("Английский для начинающих", "lectures", 60, (6, 10, 12), 0, None, "Кабинет 2"),
    ("Мастерская для детей", "children", 60, (8, 12, 16), 2, None, "Детская комната"),
    ("Смартфон без страха", "seniors", 60, (2, 4, 6), 0, None, "Кабинет 2"),
    ("Субботник во дворе", "ecology", 120, (None,), 0, None, "Сбор у входа в магазин"),
    ("Сбор помощи приюту", "charity", 180, (None,), 0, "Сортировка вещей", "Вход со двора"),
    ("Подготовка зала", "other", 45, (0,), 0, "Подготовка зала", "Большой зал"),
    ("Скандинавская ходьба", "sport", 60, (10, 15), 0, None, "Сбор у входа в магазин"),
)  # fmt: skip
_DESCRIPTION = (
    "Приходите с соседями: всё нужное есть на месте, опыт не нужен. После занятия — чай и "
    "разговоры, а ведущий ответит на вопросы."
)


# ---- the database ---------------------------------------------------------------------


@dataclass
class Plan:
    """What the driver needs to act as the residents, and the labels it presses."""

    database_url: str
    residents: list[dict[str, Any]]
    labels: dict[str, dict[str, str]]
    setup_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


_CENTER_INFO = (
    centers.c.id,
    centers.c.latitude,
    centers.c.longitude,
    centers.c.timezone,
    centers.c.city,
    centers.c.address,
)


def _center_rows() -> list[dict[str, Any]]:
    rows = []
    for center in generate_centers(N_CENTERS, seed=SEED):
        rows.append(
            {
                **center._asdict(),
                "timezone": timezone_at(center.latitude, center.longitude),
                "opening_hours": None,
                "phone": None,
            }
        )
    return rows


def _activity_rows(
    rng: random.Random, center_zones: list[tuple[int, str]], now: datetime
) -> list[dict[str, Any]]:
    zones = {name: ZoneInfo(name) for name in {zone for _id, zone in center_zones}}
    first = now + timedelta(hours=1)
    last = now + timedelta(days=DAYS_AHEAD)
    rows = []
    while len(rows) < N_ACTIVITIES:
        center_id, zone_name = center_zones[rng.randrange(len(center_zones))]
        zone = zones[zone_name]
        day = (now.astimezone(zone) + timedelta(days=rng.randrange(DAYS_AHEAD + 1))).date()
        local = datetime(
            day.year, day.month, day.day, rng.randint(9, 20), rng.choice((0, 15, 30, 45))
        )
        starts_at = local.replace(tzinfo=zone).astimezone(UTC)
        if not first <= starts_at <= last:
            continue
        title, category, minutes, capacities, companions, role, place = rng.choice(_KINDS)
        capacity = rng.choice(capacities)
        rows.append(
            {
                "center_id": center_id,
                "title": title,
                "description": _DESCRIPTION,
                "category": category,
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(minutes=minutes),
                "place_note": place,
                "accepts_participants": capacity != 0,
                "capacity": capacity or None,
                "max_companions": companions,
                "volunteer_role": role,
                "volunteer_places": rng.randint(1, 3) if role else 0,
                "created_at": now,
            }
        )
    return rows


def _residents(rng: random.Random, center_info: dict[int, Any]) -> list[dict[str, Any]]:
    """Residents living where people live, following centers among the five nearest."""
    index = NearestIndex((row.id, row.latitude, row.longitude) for row in center_info.values())
    cities = sorted({row.city for row in center_info.values()})
    residents = []
    languages, weights = zip(*LANGUAGES, strict=True)
    for number, (lat, lon) in enumerate(query_points(N_RESIDENTS, seed=SEED + 1), start=1):
        near = [center_id for _metres, center_id in index.nearest(lat, lon, 5)]
        home = center_info[near[0]]
        # What a resident types into the search: their town, their street or another town.
        street = home.address.removeprefix("ул. ").split(",")[0]
        residents.append(
            {
                "id": 700_000_000 + number,
                "first_name": f"Житель {number}",
                "language": rng.choices(languages, weights)[0],
                "latitude": lat,
                "longitude": lon,
                "centers": rng.sample(near, rng.randint(1, 3)),
                "searches": [home.city, street, rng.choice(cities)],
            }
        )
    return residents


async def fill_database(database_url: str, now: datetime, settings: Settings) -> Plan:
    """The benchmark's centers, activities and residents, written to a fresh database."""
    rng = random.Random(SEED)
    db = Database.from_url(database_url)
    try:
        await upgrade(db)
        center_rows = _center_rows()
        async with db.write() as conn:
            await upsert_centers(conn, center_rows, now=now)
            found = await conn.execute(select(*_CENTER_INFO).order_by(centers.c.id))
            center_info = {row.id: row for row in found}
        center_zones = [(row.id, row.timezone) for row in center_info.values()]
        rows = _activity_rows(rng, center_zones, now)
        async with db.write() as conn:
            inserted = await insert_activities(conn, rows)
        residents = _residents(rng, center_info)
        signups = await _add_residents(db, rng, residents, now, settings)
    finally:
        await db.close()
    return Plan(
        database_url=database_url,
        residents=residents,
        labels=_labels(),
        counts={
            "centers": len(center_rows),
            "activities": inserted,
            "residents": len(residents),
            "signups": signups,
        },
    )


async def _add_residents(
    db: Database,
    rng: random.Random,
    residents: list[dict[str, Any]],
    now: datetime,
    settings: Settings,
) -> int:
    """Consent, subscriptions and a few sign-ups each, as if they had used the bot before."""
    added = 0
    async with db.write() as conn:
        for resident in residents:
            await save_consent(
                conn,
                user_id=resident["id"],
                display_name=resident["first_name"],
                language=resident["language"],
                consent_version=settings.consent_version,
                now=now,
            )
            for center_id in resident["centers"]:
                await subscribe(conn, resident["id"], center_id, now=now)
            found = await conn.execute(
                select(activities.c.id).where(
                    activities.c.center_id.in_(resident["centers"]),
                    activities.c.accepts_participants.is_(True),
                )
            )
            candidates = list(found.scalars())
            for activity_id in rng.sample(candidates, min(len(candidates), rng.randint(0, 3))):
                outcome = await sign_up(
                    conn,
                    activity_id=activity_id,
                    user_id=resident["id"],
                    role=Role.PARTICIPANT,
                    party_size=1,
                    now=now,
                    rules=SignupRules(),
                )
                added += outcome.refusal is None
    return added


def _labels() -> dict[str, dict[str, str]]:
    i18n = I18n(path=LOCALES_DIR, default_locale="ru", domain="messages")
    return {
        language: {
            "activities": i18n.gettext(ACTIVITIES, locale=language),
            "schedule": i18n.gettext(SCHEDULE, locale=language),
        }
        for language, _weight in LANGUAGES
    }


# ---- measuring the bot ----------------------------------------------------------------


class Probe(BaseMiddleware):
    """Outermost update middleware: times each update and tells the driver it is handled."""

    def __init__(self) -> None:
        self.records: list[tuple[int, int, str]] = []  # (finished at, took, what), in ns
        self.writer: asyncio.StreamWriter | None = None

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        start = time.perf_counter_ns()
        try:
            return await handler(event, data)
        finally:
            end = time.perf_counter_ns()
            assert isinstance(event, Update)
            self.records.append((end, end - start, _what(event)))
            if self.writer is not None:
                self.writer.write(b"d %d\n" % event.update_id)

    def window(self, start: int, end: int) -> list[tuple[int, int, str]]:
        return [record for record in self.records if start <= record[0] < end]


def _what(update: Update) -> str:
    if isinstance(update.callback_query, CallbackQuery):
        return "callback " + ":".join((update.callback_query.data or "").split(":")[:2])
    if isinstance(update.message, Message):
        if update.message.location is not None:
            return "location"
        return "text " + (update.message.text or "")
    return update.event_type


def install_outermost(dispatcher: Dispatcher, middleware: BaseMiddleware) -> None:
    """Put ``middleware`` before aiogram's own outer update middlewares (errors, user context,
    FSM) and the product's, so that it times all of them."""
    manager = dispatcher.update.outer_middleware
    existing = list(manager)
    for registered in existing:
        manager.unregister(registered)
    manager.register(middleware)
    for registered in existing:
        manager.register(registered)


class ErrorLog(logging.Handler):
    """Collects what is logged at ERROR and above while installed; warnings are counted."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.messages.append(f"{record.name}: {record.getMessage()}")
        else:
            self.warnings += 1

    def __enter__(self) -> ErrorLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger().removeHandler(self)


@dataclass
class Mark:
    wall_ns: int
    cpu_s: float
    statements: int
    api_calls: int  # Bot API calls the fake server received, getUpdates included


@dataclass
class PhaseResult:
    marks: list[Mark]
    probe: Probe
    driver: dict[str, Any]
    errors: Counter[str]
    error_examples: list[str]

    def span(self, first: int) -> tuple[Mark, Mark]:
        return self.marks[first], self.marks[first + 1]

    def handled(self, first: int) -> list[tuple[int, int, str]]:
        start, end = self.span(first)
        return self.probe.window(start.wall_ns, end.wall_ns)

    def seconds(self, first: int) -> float:
        start, end = self.span(first)
        return (end.wall_ns - start.wall_ns) / 1e9

    def cpu_seconds(self, first: int) -> float:
        start, end = self.span(first)
        return end.cpu_s - start.cpu_s

    def per_update(self, first: int, what: str) -> float:
        start, end = self.span(first)
        return (getattr(end, what) - getattr(start, what)) / max(1, len(self.handled(first)))

    def per_second(self, first: int) -> float:
        return len(self.handled(first)) / self.seconds(first)

    def cpu_share(self, first: int) -> float:
        return self.cpu_seconds(first) / self.seconds(first)

    def driver_cpu_share(self, first: int) -> float:
        marks = self.driver["marks"]
        (cpu0, wall0, _), (cpu1, wall1, _) = marks[first], marks[first + 1]
        return (cpu1 - cpu0) / (wall1 - wall0)


class Statements:
    """Counts SQL statements sent by an engine (BEGIN included, COMMIT is not a statement)."""

    def __init__(self, db: Database | None) -> None:
        self.count = 0
        if db is not None:
            event.listen(db.engine_running_statements, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


async def _drive(
    server: FakeTelegram,
    probe: Probe,
    plan: Plan,
    *,
    mode: str,
    warmup: float,
    window: float,
    statements: Statements,
    error_log: ErrorLog,
    latency_rate: Callable[[float], float] | None = None,
    profile: str | None = None,
) -> PhaseResult:
    """Run the driver process against ``server`` and mark the measured windows: the closed
    loop (marks 0-1) and, with ``latency_rate``, the open loop (marks 2-3)."""
    connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    connected = asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not connected.done():
            connected.set_result((reader, writer))

    signals = await asyncio.start_server(accept, "127.0.0.1", 0)
    process = start_driver(mode, server.base_url, signals.sockets[0].getsockname()[1], plan)
    marks: list[Mark] = []
    try:
        reader, writer = await _connection(connected, process)
        if (await asyncio.wait_for(reader.readline(), 120)).strip() != b"ready":
            raise RuntimeError("the load driver did not start")
        probe.writer = writer

        def mark() -> None:
            calls = sum(server.stats()["calls"].values())
            marks.append(Mark(time.perf_counter_ns(), time.process_time(), statements.count, calls))
            writer.write(b"mark\n")

        settle()
        await asyncio.sleep(warmup)
        mark()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        await asyncio.sleep(window)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        mark()
        if latency_rate is not None:
            measured = len(probe.window(marks[0].wall_ns, marks[1].wall_ns))
            rate = latency_rate(measured / ((marks[1].wall_ns - marks[0].wall_ns) / 1e9))
            writer.write(b"rate %f\n" % rate)
            await asyncio.sleep(LATENCY_WARMUP_S)
            mark()
            await asyncio.sleep(LATENCY_WINDOW_S)
            mark()
        writer.write(b"stop\n")
        line = await asyncio.wait_for(reader.readline(), load_driver.STOP_TIMEOUT_S + 30)
        if not line.startswith(b"report "):
            raise RuntimeError(f"the load driver ended without a report: {line[:200]!r}")
        report = json.loads(line[len(b"report ") :])
        probe.writer = None
        writer.close()
        await asyncio.to_thread(process.join, 30)
    finally:
        if process.is_alive():
            process.terminate()
        signals.close()
    errors, examples = await _errors(server, error_log, report)
    return PhaseResult(marks, probe, report, errors, examples)


def start_driver(
    mode: str, base_url: str, signal_port: int, plan: Plan
) -> multiprocessing.process.BaseProcess:
    """The residents' process (:mod:`bench.load_driver`), acting on the fake Telegram at
    ``base_url`` and connecting to ``127.0.0.1:signal_port`` for the benchmark's lines."""
    config = {
        "mode": mode,
        "base_url": base_url,
        "signal_port": signal_port,
        "residents": plan.residents,
        "labels": plan.labels,
        "concurrency": CONCURRENCY,
        "seed": SEED,
    }
    process = multiprocessing.get_context("spawn").Process(
        target=load_driver.main, args=(config,), daemon=True
    )
    process.start()
    return process


async def _connection(
    connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
    process: multiprocessing.process.BaseProcess,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(600):
        if connected.done():
            return connected.result()
        if not process.is_alive():
            raise RuntimeError(f"the load driver exited with status {process.exitcode}")
        await asyncio.sleep(0.1)
    raise RuntimeError("the load driver did not connect within a minute")


async def _errors(
    server: FakeTelegram, error_log: ErrorLog, report: dict[str, Any]
) -> tuple[Counter[str], list[str]]:
    errors: Counter[str] = Counter()
    errors["error log"] = len(error_log.messages)
    if error_log.warnings:
        progress(f"[throughput] {error_log.warnings} warnings logged (not counted as errors)")
    async with FakeTelegramClient(server.base_url) as control:
        errors["unanswered callbacks"] = len(await control.unanswered_callbacks())
    stats = server.stats()
    for method, count in stats["errors"].items():
        errors[f"refused {method}"] = count
    errors["rate limited"] = stats["rate_limited"]
    for kind, count in report["anomalies"].items():
        errors[f"driver: {kind}"] = count
    return +errors, error_log.messages[:5] + report["examples"][:5]


async def _wait_started(polling: asyncio.Task[None], started: Callable[[], bool]) -> None:
    for _ in range(6_000):
        if started() or polling.done():
            break
        await asyncio.sleep(0.01)
    if polling.done():
        polling.result()
        raise RuntimeError("polling stopped during start-up")
    if not started():
        raise RuntimeError("the bot did not start within a minute")


def _settings(plan: Plan, api_url: str) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        telegram_api_url=api_url,
        database_url=plan.database_url,
        default_locale="ru",
    )


def _latency_load(closed_loop_rate: float) -> float:
    return LATENCY_LOAD * closed_loop_rate


async def _bot_phase(plan: Plan, replies: Replies | None = None) -> PhaseResult:
    with ErrorLog() as error_log:
        async with FakeTelegram(token=TOKEN, history=SERVER_HISTORY) as server:
            settings = _settings(plan, server.base_url)
            dispatcher = create_dispatcher(settings)
            probe = Probe()
            install_outermost(dispatcher, probe)
            bot = create_bot(settings)
            if replies is not None:
                bot.session.middleware(replies)
            polling = asyncio.create_task(
                dispatcher.start_polling(
                    bot,
                    settings=settings,
                    handle_signals=False,
                    tasks_concurrency_limit=settings.max_concurrent_updates,  # as `run` does
                    allowed_updates=dispatcher.resolve_used_update_types(),
                )
            )
            try:
                await _wait_started(polling, lambda: "db" in dispatcher.workflow_data)
                statements = Statements(dispatcher["db"])
                return await _drive(
                    server,
                    probe,
                    plan,
                    mode="bot",
                    warmup=WARMUP_S,
                    window=WINDOW_S,
                    statements=statements,
                    error_log=error_log,
                    latency_rate=_latency_load,
                    profile=os.environ.get(PROFILE_VARIABLE),
                )
            finally:
                if not polling.done():
                    await dispatcher.stop_polling()
                await polling


def echo_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    @dispatcher.callback_query()
    async def answer(query: CallbackQuery) -> None:
        await query.answer()

    return dispatcher


class Replies(BaseRequestMiddleware):
    """The bot's first messages, edits and callback answers, as its handlers built them.

    Installed on the bot's session during its phase, so that the replay bot can send the very
    same texts and keyboards."""

    LIMIT = 2_000

    def __init__(self) -> None:
        self.sent: list[SendMessage] = []
        self.edited: list[EditMessageText] = []
        self.answers: list[AnswerCallbackQuery] = []
        self._lists: dict[type, list[Any]] = {
            SendMessage: self.sent,
            EditMessageText: self.edited,
            AnswerCallbackQuery: self.answers,
        }

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kept = self._lists.get(type(method))
        if kept is not None and len(kept) < self.LIMIT:
            kept.append(method)
        return await make_request(bot, method)


def replay_dispatcher(replies: Replies) -> Dispatcher:
    """The bot's Bot API calls without its work: every text is answered with one of the bot's
    messages; every button press with one of its callback answers and an edit to one of its
    texts and keyboards. Driven like the echo bot, it makes about as many calls per update
    as the bot (answer and edit for a button), so its rate is the ceiling for any bot whose
    replies are this product's."""
    distinct = {(m.text, repr(m.reply_markup)): m for m in replies.edited}
    sent, answers = itertools.cycle(replies.sent), itertools.cycle(replies.answers)
    edited = itertools.cycle(distinct.values())
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def reply(message: Message) -> None:
        kept = next(sent)
        await message.answer(kept.text, reply_markup=kept.reply_markup)

    @dispatcher.callback_query()
    async def press(query: CallbackQuery) -> None:
        kept_answer = next(answers)
        await query.answer(kept_answer.text, show_alert=kept_answer.show_alert)
        # Distinct edits in a cycle: Telegram refuses one that would change nothing.
        kept = next(edited)
        if isinstance(query.message, Message):
            await query.message.edit_text(kept.text, reply_markup=kept.reply_markup)

    return dispatcher


async def _baseline_phase(
    plan: Plan,
    dispatcher: Dispatcher,
    bot_for: Callable[[str], Bot],
    latency_rate: Callable[[float], float] | None = None,
    tasks_concurrency_limit: int | None = None,
) -> PhaseResult:
    """A baseline bot (``bot_for`` the fake server's URL) driven like the echo bot."""
    with ErrorLog() as error_log:
        async with FakeTelegram(token=TOKEN, history=SERVER_HISTORY) as server:
            probe = Probe()
            install_outermost(dispatcher, probe)
            started = asyncio.Event()
            dispatcher.startup.register(started.set)
            bot = bot_for(server.base_url)
            polling = asyncio.create_task(
                dispatcher.start_polling(
                    bot,
                    handle_signals=False,
                    tasks_concurrency_limit=tasks_concurrency_limit,
                    allowed_updates=dispatcher.resolve_used_update_types(),
                )
            )
            try:
                await _wait_started(polling, started.is_set)
                return await _drive(
                    server,
                    probe,
                    plan,
                    mode="echo",
                    warmup=ECHO_WARMUP_S,
                    window=ECHO_WINDOW_S,
                    statements=Statements(None),
                    error_log=error_log,
                    latency_rate=latency_rate,
                )
            finally:
                if not polling.done():
                    await dispatcher.stop_polling()
                await polling


async def _echo_phase(plan: Plan) -> PhaseResult:
    def bot_for(url: str) -> Bot:
        return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))

    return await _baseline_phase(plan, echo_dispatcher(), bot_for)


async def _replay_phase(plan: Plan, replies: Replies) -> PhaseResult:
    """The replay bot, run as the bot is: its session, parse mode and concurrency limit."""
    if not (replies.sent and replies.edited and replies.answers):
        raise RuntimeError("the bot's phase left nothing to replay")

    def bot_for(url: str) -> Bot:
        return create_bot(_settings(plan, url))

    return await _baseline_phase(
        plan,
        replay_dispatcher(replies),
        bot_for,
        _latency_load,
        settings_for_setup().max_concurrent_updates,
    )


# ---- report ---------------------------------------------------------------------------


def _by_kind(records: list[tuple[int, int, str]], labels: dict[str, dict[str, str]]) -> str:
    names = {"text /start": "/start"}
    for language in labels.values():
        names[f"text {language['activities']}"] = "activities"
        names[f"text {language['schedule']}"] = "my schedule"
    took: dict[str, list[int]] = defaultdict(list)
    for _end, duration, what in records:
        if what.startswith("text "):
            what = names.get(what, "text search")
        took[what].append(duration)
    lines = []
    for what, durations in sorted(took.items(), key=lambda item: -sum(item[1])):
        lines.append(
            f"    {what:<18} n={len(durations):>5}  median {ns_to_ms(median(durations)):6.1f} ms"
            f"  p99 {ns_to_ms(percentile(durations, 99)):6.1f} ms"
        )
    return "\n".join(lines)


def _describe(name: str, result: PhaseResult, first: int, plan: Plan) -> None:
    records = result.handled(first)
    progress(
        f"[throughput] {name}: {result.per_second(first):.1f} updates/s, "
        f"{len(records)} updates; this process {100 * result.cpu_share(first):.0f} % CPU, "
        f"driver {100 * result.driver_cpu_share(first):.0f} % CPU"
    )
    if records:
        progress(_by_kind(records, plan.labels))


def _clean_slate() -> None:
    """Before a phase: what the harness holds (the setup's data, the previous phase's fake
    server) is set aside from the collector, so that neither bot's collections walk it."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def _measure(plan: Plan) -> list[Figure]:
    # The echo bot is measured before and after the bot, half the window each time, so that
    # a change in the machine's background load during the run biases the ratio less.
    progress(f"[throughput] echo, first half: {CONCURRENCY} residents at a time")
    _clean_slate()
    echo_runs = [await _echo_phase(plan)]
    _describe("echo, closed loop", echo_runs[0], 0, plan)
    progress(f"[throughput] bot: {CONCURRENCY} residents at a time, {WINDOW_S:.0f} s window")
    _clean_slate()
    replies = Replies()
    bot = await _bot_phase(plan, replies)
    _describe("bot, closed loop", bot, 0, plan)
    _describe(f"bot, open loop at {LATENCY_LOAD:.0%} of that", bot, 2, plan)
    progress(
        f"[throughput] replay: the bot's {len(replies.sent)} messages, {len(replies.edited)} "
        f"edits and {len(replies.answers)} callback answers, without its work"
    )
    _clean_slate()
    replay = await _replay_phase(plan, replies)
    _describe("replay, closed loop", replay, 0, plan)
    _describe(f"replay, open loop at {LATENCY_LOAD:.0%} of that", replay, 2, plan)
    progress("[throughput] echo, second half")
    _clean_slate()
    echo_runs.append(await _echo_phase(plan))
    _describe("echo, closed loop", echo_runs[1], 0, plan)
    echo_errors: Counter[str] = sum((run.errors for run in echo_runs), Counter())
    for name, result, errors in (
        ("bot", bot, bot.errors),
        ("replay", replay, replay.errors),
        *(("echo", run, run.errors) for run in echo_runs),
    ):
        progress(
            f"[throughput] {name} driver: {result.driver['rounds']} rounds, steps "
            f"{result.driver['steps']}, open-loop arrivals with nobody idle: "
            f"{result.driver['dropped']}"
        )
        progress(f"[throughput] {name} errors: {dict(errors) or 'none'}")
        for example in result.error_examples:
            progress(f"    {example}")

    bot_rate = bot.per_second(0)
    echo_handled = sum(len(run.handled(0)) for run in echo_runs)
    echo_rate = echo_handled / sum(run.seconds(0) for run in echo_runs)
    echo_cpu_ms = 1e3 * sum(run.cpu_seconds(0) for run in echo_runs) / max(1, echo_handled)
    bot_cpu_ms = 1e3 * bot.cpu_seconds(0) / max(1, len(bot.handled(0)))
    replay_rate = replay.per_second(0)
    replay_cpu_ms = 1e3 * replay.cpu_seconds(0) / max(1, len(replay.handled(0)))
    saturated = [duration for _end, duration, _what in bot.handled(0)]
    latency = [duration for _end, duration, _what in bot.handled(2)]
    replay_latency = [duration for _end, duration, _what in replay.handled(2)]
    echo_calls = sum(run.per_update(0, "api_calls") * len(run.handled(0)) for run in echo_runs)
    at_load = (
        f"open loop at {LATENCY_LOAD:.0%} of the bot's throughput "
        f"({bot.per_second(2):.0f} updates/s)"
    )
    cpu_note = "CPU of the bot + fake server process per update, closed loop"
    calls_note = "Bot API requests per update (getUpdates included), closed loop"
    return [
        Figure("throughput.setup_s", plan.setup_s, "s"),
        Figure("throughput.bot.updates_per_s", bot_rate, "updates/s"),
        Figure("throughput.echo.updates_per_s", echo_rate, "updates/s"),
        Figure("throughput.ratio_vs_echo", bot_rate / echo_rate, "x", ">= 0.5", ECHO_BASELINE),
        Figure("throughput.replay.updates_per_s", replay_rate, "updates/s"),
        Figure("throughput.replay_vs_echo", replay_rate / echo_rate, "x", baseline=REPLAY_BASELINE),
        Figure("throughput.ratio_vs_replay", bot_rate / replay_rate, "x", baseline=REPLAY_BASELINE),
        Figure(
            "throughput.bot.handler_median_ms", ns_to_ms(median(latency)), "ms", baseline=at_load
        ),
        Figure(
            "throughput.bot.handler_p99_ms",
            ns_to_ms(percentile(latency, 99)),
            "ms",
            "< 20",
            at_load,
        ),
        Figure(
            "throughput.replay.handler_p99_ms",
            ns_to_ms(percentile(replay_latency, 99)),
            "ms",
            baseline=f"open loop at {LATENCY_LOAD:.0%} of the replay's throughput "
            f"({replay.per_second(2):.0f} updates/s)",
        ),
        Figure(
            "throughput.bot.saturated.handler_p99_ms",
            ns_to_ms(percentile(saturated, 99)),
            "ms",
            baseline=f"closed loop, {CONCURRENCY} updates in flight",
        ),
        Figure("throughput.bot.cpu_ms_per_update", bot_cpu_ms, "ms", baseline=cpu_note),
        Figure("throughput.echo.cpu_ms_per_update", echo_cpu_ms, "ms", baseline=cpu_note),
        Figure("throughput.replay.cpu_ms_per_update", replay_cpu_ms, "ms", baseline=cpu_note),
        Figure(
            "throughput.bot.own_cpu_ms_per_update",
            bot_cpu_ms - replay_cpu_ms,
            "ms",
            baseline="bot - replay: routing, middlewares, SQL, rendering",
        ),
        Figure(
            "throughput.own_cpu_budget_ms",
            2 * echo_cpu_ms - replay_cpu_ms,
            "ms",
            baseline="2 x echo - replay: what half the echo's rate leaves for the bot's own work",
        ),
        Figure("throughput.bot.sql_per_update", bot.per_update(0, "statements"), "statements"),
        Figure(
            "throughput.bot.api_calls_per_update",
            bot.per_update(0, "api_calls"),
            "calls",
            baseline=calls_note,
        ),
        Figure(
            "throughput.echo.api_calls_per_update",
            echo_calls / max(1, echo_handled),
            "calls",
            baseline=calls_note,
        ),
        Figure(
            "throughput.replay.api_calls_per_update",
            replay.per_update(0, "api_calls"),
            "calls",
            baseline=calls_note,
        ),
        Figure("throughput.bot.errors", bot.errors.total(), "errors", "== 0", ERRORS_COUNTED),
        Figure("throughput.echo.errors", echo_errors.total(), "errors", "== 0", ERRORS_COUNTED),
        Figure("throughput.replay.errors", replay.errors.total(), "errors", "== 0", ERRORS_COUNTED),
    ]


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        path = Path(tmp) / "bot.db"
        progress(
            f"[throughput] building a database: {N_CENTERS:,} centers, "
            f"{N_ACTIVITIES:,} activities, {N_RESIDENTS} residents"
        )
        started = time.perf_counter()
        now = datetime.now(UTC)
        url = f"sqlite+aiosqlite:///{path}"
        plan = asyncio.run(fill_database(url, now, settings_for_setup()))
        plan.setup_s = time.perf_counter() - started
        progress(f"[throughput] setup took {plan.setup_s:.1f} s: {plan.counts}")
        return asyncio.run(_measure(plan))


def settings_for_setup() -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN)
