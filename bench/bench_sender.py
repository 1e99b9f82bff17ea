"""Pushes through ``bot.sender.Sender``, against a fake Telegram that enforces Telegram's limits.

A real aiogram ``Bot`` talks HTTP to a ``FakeTelegram`` server in this process, which holds
Telegram's limits the way Telegram does: 30 messages a second over all chats and one a second
per chat (sliding one-second windows), answering 429 with ``retry_after`` beyond them. Each
phase gets a fresh server and a fresh SQLite database (migrations applied) holding one
consented user, that is one private chat, per delivery. The sender runs its background loop as
the bot runs it (``start``, then ``stop`` once the queue is empty), configured at 30/s, the
most Telegram allows without paid broadcasting.

* steady: ``BENCH_SENDER_DELIVERIES`` deliveries (default 1,000: some 35 s at 30/s, so that
  ``make bench`` stays short) to as many chats, all due at the top of the current minute. The
  rate is deliveries divided by the time from ``start()`` to the answer to the last request,
  as a ratio of the configured 30/s. The README's figures were measured with 600
  (``BENCH_SENDER_DELIVERIES=600 python -m bench sender``, some 20 s at 30/s);
  the ratio is what matters, and the count barely moves it.
* faults: 240 deliveries, while the server's fault injection answers the next ``sendMessage``
  with 429 and ``retry_after`` 2 s at 2, 5 and 8 s into the run.

Both phases count the 429s the server answered, and the requests the sender started while it
should have been paused: after a 429's answer came back and before its ``retry_after`` had
passed (requests already on the wire when that answer came do not count; the times are the
bot's own, taken around each request by a session middleware). From the fake server's chats:
deliveries lost (the chat never got its message) and duplicated (it got it more than once);
from the database: rows that did not end ``sent``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import TelegramMethod

from bench.common import Figure, progress
from bot.sender import FREE_MAX_PER_SECOND, Sender, SenderStats
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.deliveries import PENDING, SENDING, SENT, count_by_state, enqueue
from storage.migrate import upgrade
from storage.users import save_consent

DELIVERIES_VARIABLE = "BENCH_SENDER_DELIVERIES"
DEFAULT_DELIVERIES = 1_000
FAULT_DELIVERIES = 240
FAULTS_AT_S = (2.0, 5.0, 8.0)
FAULT_RETRY_AFTER_S = 2
RATE = FREE_MAX_PER_SECOND
TOKEN = "123456:BENCH-sender"
FIRST_USER_ID = 500_000_001
# Creating chats and reading them back through the control API, this many requests at a time.
CONTROL_CONCURRENCY = 32
ENFORCED = f"fake server enforcing {RATE:g}/s and 1/s per chat"


@dataclass(frozen=True, slots=True)
class Request:
    start: float
    end: float
    retry_after: float | None  # set when the answer was a 429


@dataclass(slots=True)
class PhaseResult:
    deliveries: int
    seconds: float  # from start() to the answer to the last request
    server_429s: int  # answered by the server's rate limits
    injected_429s: int  # answered by fault injection
    requests_in_pause: int
    lost: int
    duplicated: int
    not_sent: int
    stats: SenderStats
    requests: list[Request] = field(default_factory=list)


def requests_in_pause(requests: list[Request]) -> int:
    """Requests that started after a 429's answer and before its retry_after had passed."""
    refusals = [(r.end, r.retry_after) for r in requests if r.retry_after is not None]
    return sum(
        1 for r in requests for answered, wait in refusals if answered < r.start < answered + wait
    )


def _record_requests(bot: Bot, log: list[Request]) -> None:
    async def middleware(
        make_request: Callable[[Bot, TelegramMethod[Any]], Awaitable[Any]],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Any:
        started = time.monotonic()
        try:
            result = await make_request(bot, method)
        except TelegramRetryAfter as error:
            log.append(Request(started, time.monotonic(), float(error.retry_after)))
            raise
        except TelegramAPIError:
            log.append(Request(started, time.monotonic(), None))
            raise
        log.append(Request(started, time.monotonic(), None))
        return result

    bot.session.middleware(middleware)


async def _bounded(jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(CONTROL_CONCURRENCY)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def _text(user_id: int) -> str:
    return f"Reminder for <b>{user_id}</b>: the clean-up starts at 10:00."


async def _prepare(db: Database, tg: FakeTelegramClient, user_ids: list[int]) -> None:
    """Started chats on the server; consented users and their due deliveries in the database."""
    await _bounded([lambda i=i: tg.new_user(f"Resident {i}", id=i, started=True) for i in user_ids])
    due = datetime.now(UTC).replace(second=0, microsecond=0)
    async with db.write() as conn:
        for user_id in user_ids:
            await save_consent(
                conn,
                user_id=user_id,
                display_name=f"Resident {user_id}",
                language="ru",
                consent_version="1",
                now=due,
            )
            await enqueue(
                conn,
                user_id=user_id,
                kind="reminder",
                text=_text(user_id),
                dedup_key=f"bench:{user_id}",
                now=due,
            )


async def _drain(sender: Sender, db: Database, expected_s: float) -> None:
    """Until no row is pending or on the wire; the sender's own loop does the work."""
    # Generous: a sender that keeps meeting 429s is slow, and that is what is being measured.
    deadline = time.monotonic() + 4 * expected_s + 60
    while True:
        await asyncio.sleep(0.25)
        async with db.read() as conn:
            counts = await count_by_state(conn)
        if counts[PENDING] == 0 and counts[SENDING] == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the queue did not drain in time: {counts}")


async def _inject_faults(tg: FakeTelegramClient, started: float) -> None:
    for at in FAULTS_AT_S:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        await tg.add_fault(
            method="sendMessage", error_code=429, retry_after=FAULT_RETRY_AFTER_S, times=1
        )


async def _count_messages(tg: FakeTelegramClient, user_ids: list[int]) -> tuple[int, int]:
    """(lost, duplicated): chats without their message, and extra copies of it."""

    async def copies(user_id: int) -> int:
        view = await tg.chat(user_id)
        return sum(
            1 for m in view["messages"] if m["sender"] == "bot" and m["html"] == _text(user_id)
        )

    counts = await _bounded([lambda i=i: copies(i) for i in user_ids])
    return sum(c == 0 for c in counts), sum(max(0, c - 1) for c in counts)


async def _phase(directory: Path, name: str, deliveries: int, *, faults: bool) -> PhaseResult:
    user_ids = list(range(FIRST_USER_ID, FIRST_USER_ID + deliveries))
    db = Database.from_url(f"sqlite+aiosqlite:///{directory / name}.db")
    try:
        await upgrade(db)
        async with (
            FakeTelegram(token=TOKEN) as server,
            FakeTelegramClient(server.base_url, timeout=30.0) as tg,
        ):
            progress(f"[sender] {name}: {deliveries:,} chats and deliveries")
            await _prepare(db, tg, user_ids)
            await tg.set_rate_limits(global_per_second=int(RATE), per_chat_per_second=1)
            bot = Bot(
                TOKEN,
                session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)),
                default=DefaultBotProperties(parse_mode=ParseMode.HTML),
            )
            requests: list[Request] = []
            _record_requests(bot, requests)
            sender = Sender(bot, db, per_second=RATE)
            expected_s = deliveries / RATE + (len(FAULTS_AT_S) * FAULT_RETRY_AFTER_S) * faults
            progress(f"[sender] {name}: sending (about {expected_s:.0f} s)")
            try:
                started = time.monotonic()
                await sender.start()
                injector = asyncio.create_task(_inject_faults(tg, started)) if faults else None
                try:
                    await _drain(sender, db, expected_s)
                finally:
                    await sender.stop()
                    if injector is not None:
                        injector.cancel()
                        await asyncio.gather(injector, return_exceptions=True)
            finally:
                await bot.session.close()
            seconds = max(r.end for r in requests) - started
            stats = await tg.stats()
            lost, duplicated = await _count_messages(tg, user_ids)
        async with db.read() as conn:
            states = await count_by_state(conn)
    finally:
        await db.close()
    return PhaseResult(
        deliveries=deliveries,
        seconds=seconds,
        server_429s=stats["rate_limited"],
        injected_429s=stats["faults_triggered"],
        requests_in_pause=requests_in_pause(requests),
        lost=lost,
        duplicated=duplicated,
        not_sent=deliveries - states[SENT],
        stats=sender.stats,
        requests=requests,
    )


def _deliveries() -> int:
    raw = os.environ.get(DELIVERIES_VARIABLE, "")
    count = int(raw) if raw.strip() else DEFAULT_DELIVERIES
    if count < 2:
        raise ValueError(f"{DELIVERIES_VARIABLE} must be at least 2, not {count}")
    return count


async def _run(deliveries: int) -> tuple[PhaseResult, PhaseResult]:
    with tempfile.TemporaryDirectory(prefix="bench-sender-") as tmp:
        steady = await _phase(Path(tmp), "steady", deliveries, faults=False)
        faulty = await _phase(Path(tmp), "faults", FAULT_DELIVERIES, faults=True)
    return steady, faulty


def run() -> list[Figure]:
    deliveries = _deliveries()
    steady, faulty = asyncio.run(_run(deliveries))
    achieved = steady.deliveries / steady.seconds
    progress(
        f"[sender] steady: {steady.deliveries:,} in {steady.seconds:.1f} s; "
        f"faults: {faulty.deliveries:,} in {faulty.seconds:.1f} s, "
        f"{faulty.stats.pauses} pauses"
    )
    configured = f"configured {RATE:g}/s, same run; {ENFORCED}"
    counted = f"{steady.deliveries:,} deliveries to as many chats, counted in the fake server"
    injected = (
        f"{faulty.deliveries} deliveries; 429 with retry_after {FAULT_RETRY_AFTER_S} s injected "
        f"at {', '.join(f'{at:g}' for at in FAULTS_AT_S)} s"
    )
    return [
        Figure("sender.steady.per_second", achieved, "msg/s", baseline=configured),
        Figure("sender.steady.vs_configured", achieved / RATE, "x", ">= 0.95", configured),
        Figure("sender.steady.server_429s", steady.server_429s, "429s", "== 0", ENFORCED),
        Figure("sender.steady.lost", steady.lost, "deliveries", "== 0", counted),
        Figure("sender.steady.duplicated", steady.duplicated, "deliveries", "== 0", counted),
        Figure("sender.faults.injected_429s", faulty.injected_429s, "429s", baseline=injected),
        Figure("sender.faults.pauses", faulty.stats.pauses, "pauses", baseline=injected),
        Figure(
            "sender.faults.requests_in_pause",
            faulty.requests_in_pause + steady.requests_in_pause,
            "requests",
            "== 0",
            "requests started before a 429's retry_after had passed, both phases",
        ),
        Figure("sender.faults.server_429s", faulty.server_429s, "429s", "== 0", ENFORCED),
        Figure("sender.faults.lost", faulty.lost, "deliveries", "== 0", injected),
        Figure("sender.faults.duplicated", faulty.duplicated, "deliveries", "== 0", injected),
        Figure("sender.faults.not_sent", faulty.not_sent, "rows", "== 0", "deliveries table"),
    ]
