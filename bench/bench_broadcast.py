"""A coordinator's announcement to many people: its rate within Telegram's limits, and the
memory it takes whatever the number of recipients.

* rate: ``BENCH_BROADCAST_RECIPIENTS`` subscribers (default 10,000) of one center get an
  announcement that is due now, through the bot's own pieces: the broadcasts job
  (``handlers.broadcast_report.BroadcastMonitor``, run every 3 s as the scheduler runs it)
  queues them with one ``INSERT ... SELECT`` and keeps the author's progress message current,
  and ``bot.sender.Sender`` (its background loop, configured at 30/s) sends them through a real
  aiogram ``Bot`` to a ``FakeTelegram`` that enforces 30 messages a second and one a second per
  chat, answering 429 beyond them as Telegram does; the progress edits count against the
  same limits there. The rate is recipients divided by the time from the job's first run to
  the last message's outcome, as a ratio of the configured 30/s and of the plain sender's rate
  measured in the same run (``bench_sender``'s steady phase with as many deliveries, one per
  chat). From the fake server: 429s, and chats that got the announcement never or twice.
* memory: resident memory of a process that queues an announcement to 1,000 and to
  ``BENCH_BROADCAST_LARGE`` (default 100,000) subscribers and sends for a few seconds, each in
  its own process (``python -m bench.bench_broadcast memory ...``) on a database built with
  plain ``sqlite3``, against a fake server in this process. The growth is the peak resident
  memory during queueing and sending (``VmHWM``, reset just before, and sampled by a thread)
  minus the resident memory just before; the recipients never pass through Python, so the
  growth may not depend on their number.

``BENCH_BROADCAST_RECIPIENTS=1000 BENCH_BROADCAST_LARGE=10000`` makes a quick run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.utils.i18n import I18n
from sqlalchemy import func, select

from bench.bench_scheduler import _migrate, _stamp
from bench.bench_sender import (
    ENFORCED,
    RATE,
    Request,
    _bounded,
    _drain,
    _phase,
    _record_requests,
    requests_in_pause,
)
from bench.common import Figure, progress
from bot.app import LOCALES_DIR, compile_catalogs
from bot.jobs import BROADCASTS_INTERVAL_S
from bot.sender import Sender
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from handlers.broadcast_report import BroadcastMonitor
from storage.database import Database
from storage.schema import broadcasts, deliveries

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-broadcast"
RECIPIENTS_VARIABLE = "BENCH_BROADCAST_RECIPIENTS"
DEFAULT_RECIPIENTS = 10_000
LARGE_VARIABLE = "BENCH_BROADCAST_LARGE"
DEFAULT_LARGE = 100_000
SMALL = 1_000
FIRST_USER_ID = 700_000_001
AUTHOR_ID = 700_000_000
# The memory runs send this long after queueing: the sender and the progress job at work.
SEND_WINDOW_S = 5.0
# Chats the memory runs may reach in that window (the rest exist only in the database).
MEMORY_CHATS = 400
SAMPLE_EVERY_S = 0.005
TEXT = (
    "Дорогие соседи! В субботу, 28 ноября, с 10:00 до 14:00 во дворе дома 12 проходит "
    "субботник. Перчатки, мешки и горячий чай будут; приходите всей семьёй. Вопросы можно "
    "задать координатору центра по телефону или прямо здесь, в боте. Спасибо, что вы с нами!"
)


def _setting(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    value = int(raw) if raw else default
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _label(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


# ---- the database -----------------------------------------------------------------------


def build(path: Path, recipients: int, *, due: datetime) -> None:
    """One center, its author, ``recipients`` consented subscribers and an announcement to
    them that is due at ``due``; schema by the migrations, rows by plain ``sqlite3``."""
    asyncio.run(_migrate(path))
    stamp = _stamp(due - timedelta(days=1))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # the benchmark's own file only
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO centers (id, external_id, name, address, city, latitude, longitude,"
            " timezone, search_key, updated_at) VALUES (1, 'bench-1', 'Соседи на Ленина',"
            " 'ул. Ленина, 1', 'Москва', 55.75, 37.61, 'Europe/Moscow', 'sosedi', ?)",
            (stamp,),
        )
        people = range(FIRST_USER_ID, FIRST_USER_ID + recipients)
        connection.executemany(
            "INSERT INTO users (id, display_name, language, consent_at, consent_version,"
            " created_at) VALUES (?, ?, 'ru', ?, '2026-11-22', ?)",
            ((user_id, f"Житель {user_id}", stamp, stamp) for user_id in (AUTHOR_ID, *people)),
        )
        connection.executemany(
            "INSERT INTO subscriptions (user_id, center_id, created_at) VALUES (?, 1, ?)",
            ((user_id, stamp) for user_id in people),
        )
        connection.execute(
            "INSERT INTO broadcasts (center_id, author_id, text, audience, state, send_at,"
            " created_at) VALUES (1, ?, ?, 'subscribers', 'scheduled', ?, ?)",
            (AUTHOR_ID, TEXT, _stamp(due), stamp),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def _bot(api_url: str) -> Bot:
    return Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def _i18n() -> I18n:
    compile_catalogs(LOCALES_DIR)
    return I18n(path=LOCALES_DIR, default_locale="ru", domain="messages")


async def _chats(tg: FakeTelegramClient, user_ids: list[int]) -> None:
    await _bounded([lambda i=i: tg.new_user(f"Житель {i}", id=i, started=True) for i in user_ids])


# ---- the rate ---------------------------------------------------------------------------


@dataclass(slots=True)
class RateResult:
    recipients: int
    seconds: float  # from the job's first run to the last message's outcome
    server_429s: int
    requests_in_pause: int
    edits: int
    lost: int
    duplicated: int
    not_sent: int
    sender_per_second: float  # the plain sender, same run


async def _keep_running(monitor: BroadcastMonitor, db: Database, i18n: I18n, sender: Sender):
    """The broadcasts job as the scheduler runs it: every few seconds, one run at a time."""
    while True:
        began = time.monotonic()
        await monitor.run(db, i18n, sender, now=datetime.now(UTC))
        await asyncio.sleep(max(0.0, BROADCASTS_INTERVAL_S - (time.monotonic() - began)))


async def _finished(db: Database, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while True:
        async with db.read() as conn:
            if await conn.scalar(select(broadcasts.c.finished_at)) is not None:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the announcement's report was never finished")
        await asyncio.sleep(0.25)


async def _count_copies(tg: FakeTelegramClient, user_ids: list[int]) -> tuple[int, int]:
    """(lost, duplicated): chats without the announcement, and extra copies of it."""

    async def copies(user_id: int) -> int:
        view = await tg.chat(user_id)
        return sum(1 for m in view["messages"] if m["sender"] == "bot" and m["text"] == TEXT)

    counts = await _bounded([lambda i=i: copies(i) for i in user_ids])
    return sum(c == 0 for c in counts), sum(max(0, c - 1) for c in counts)


async def _rate_phase(directory: Path, path: Path, recipients: int) -> RateResult:
    user_ids = list(range(FIRST_USER_ID, FIRST_USER_ID + recipients))
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    i18n = _i18n()
    try:
        async with (
            FakeTelegram(token=TOKEN) as server,
            FakeTelegramClient(server.base_url, timeout=30.0) as tg,
        ):
            progress(f"[broadcast] rate: {recipients:,} chats")
            await _chats(tg, [AUTHOR_ID, *user_ids])
            await tg.set_rate_limits(global_per_second=int(RATE), per_chat_per_second=1)
            bot = _bot(server.base_url)
            requests: list[Request] = []
            _record_requests(bot, requests)
            sender = Sender(bot, db, per_second=RATE)
            expected_s = recipients / RATE
            progress(f"[broadcast] rate: sending (about {expected_s:.0f} s)")
            try:
                started = datetime.now(UTC)
                await sender.start()
                job = asyncio.create_task(_keep_running(BroadcastMonitor(), db, i18n, sender))
                try:
                    await _drain(sender, db, expected_s)
                    await _finished(db, 4 * BROADCASTS_INTERVAL_S)
                finally:
                    job.cancel()
                    await asyncio.gather(job, return_exceptions=True)
                    await sender.stop()
            finally:
                await bot.session.close()
            stats = await tg.stats()
            lost, duplicated = await _count_copies(tg, user_ids)
        async with db.read() as conn:
            last = await conn.scalar(select(func.max(deliveries.c.sent_at)))
            sent = await conn.scalar(select(func.count()).where(deliveries.c.state == "sent"))
    finally:
        await db.close()
    progress(f"[broadcast] rate: the plain sender, {recipients:,} deliveries")
    baseline = await _phase(directory, "baseline", recipients, faults=False)
    return RateResult(
        recipients=recipients,
        seconds=(last - started).total_seconds(),
        server_429s=stats["rate_limited"],
        requests_in_pause=requests_in_pause(requests),
        edits=stats["calls"].get("editMessageText", 0),
        lost=lost,
        duplicated=duplicated,
        not_sent=recipients - sent,
        sender_per_second=baseline.deliveries / baseline.seconds,
    )


# ---- the memory -------------------------------------------------------------------------


def _status(field: str) -> float:
    """A ``/proc/self/status`` figure, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key == field:
                return int(value.split()[0]) / 1024  # reported in kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Start ``VmHWM`` again from the current resident memory (Linux 4.0 and later)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    """The highest resident memory seen, every few milliseconds. A thread, so that it keeps
    sampling while one long statement holds the event loop."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.highest = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_EVERY_S):
            self.highest = max(self.highest, _status("VmRSS"))

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return max(self.highest, _status("VmRSS"))


async def _memory_child(database: str, api_url: str, window_s: float) -> dict[str, float]:
    """In the measured process: queue the due announcement, send for ``window_s``."""
    db = Database.from_url(f"sqlite+aiosqlite:///{database}")
    i18n = _i18n()
    bot = _bot(api_url)
    sender = Sender(bot, db, per_second=RATE)
    monitor = BroadcastMonitor()
    try:
        async with db.read() as conn:  # connections opened before the baseline
            await conn.scalar(select(func.count()).select_from(broadcasts))
        await bot.get_me()
        gc.collect()
        before = _status("VmRSS")
        reset = _reset_peak()
        sampler = _Sampler()
        sampler.start()
        began = time.perf_counter()
        await monitor.start_due(db, sender, now=datetime.now(UTC))
        enqueue_s = time.perf_counter() - began
        await sender.start()
        try:
            end = time.monotonic() + window_s
            while (left := end - time.monotonic()) > 0:
                await monitor.report(db, i18n, sender, now=datetime.now(UTC))
                await asyncio.sleep(min(BROADCASTS_INTERVAL_S, max(0.0, left)))
        finally:
            await sender.stop()
        peak = sampler.stop()
        if reset:
            peak = max(peak, _status("VmHWM"))
        async with db.read() as conn:
            queued = await conn.scalar(select(func.count()).select_from(deliveries))
    finally:
        await bot.session.close()
        await db.close()
    return {
        "before_mb": before,
        "peak_mb": peak,
        "growth_mb": peak - before,
        "enqueue_s": enqueue_s,
        "queued": queued,
        "sent": sender.stats.sent,
    }


async def _measure_memory(directory: Path, path: Path, recipients: int) -> dict[str, float]:
    async with (
        FakeTelegram(token=TOKEN) as server,
        FakeTelegramClient(server.base_url, timeout=30.0) as tg,
    ):
        reached = range(FIRST_USER_ID, FIRST_USER_ID + min(recipients, MEMORY_CHATS))
        await _chats(tg, [AUTHOR_ID, *reached])
        await tg.set_rate_limits(global_per_second=int(RATE), per_chat_per_second=1)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(ROOT)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.bench_broadcast",
            "memory",
            str(path),
            server.base_url,
            str(SEND_WINDOW_S),
            cwd=directory,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the memory run failed:\n{stderr.decode()[-3000:]}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    if result["queued"] != recipients:
        raise RuntimeError(f"queued {result['queued']} of {recipients}")
    return result


# ---- the benchmark ----------------------------------------------------------------------


def run() -> list[Figure]:
    if not Path("/proc/self/status").exists():
        raise RuntimeError("resident memory is read from /proc: this benchmark needs Linux")
    recipients = _setting(RECIPIENTS_VARIABLE, DEFAULT_RECIPIENTS, 2)
    large = _setting(LARGE_VARIABLE, DEFAULT_LARGE, SMALL)
    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
        directory = Path(tmp)
        memory = {}
        for size in (SMALL, large):
            progress(f"[broadcast] memory: {size:,} recipients, in a process of its own")
            path = directory / f"memory-{size}.db"
            build(path, size, due=datetime.now(UTC))
            memory[size] = asyncio.run(_measure_memory(directory, path, size))
            found = memory[size]
            progress(
                f"[broadcast] memory {_label(size)}: +{found['growth_mb']:.1f} MiB over "
                f"{found['before_mb']:.1f}, queued in {found['enqueue_s']:.2f} s, "
                f"{found['sent']:.0f} sent"
            )
        progress(f"[broadcast] rate: building {recipients:,} subscribers")
        build(directory / "rate.db", recipients, due=datetime.now(UTC))
        rate = asyncio.run(_rate_phase(directory, directory / "rate.db", recipients))
    achieved = rate.recipients / rate.seconds
    progress(
        f"[broadcast] rate: {rate.recipients:,} in {rate.seconds:.1f} s, "
        f"{rate.edits} progress edits; plain sender {rate.sender_per_second:.1f}/s"
    )
    small, big = _label(SMALL), _label(large)
    configured = f"configured {RATE:g}/s, same run; {ENFORCED}"
    counted = f"{recipients:,} recipients, counted in the fake server"
    each = f"peak VmRSS during queueing and {SEND_WINDOW_S:g} s of sending, minus VmRSS before"
    growth = {size: memory[size]["growth_mb"] for size in (SMALL, large)}
    return [
        Figure("broadcast.per_second", achieved, "msg/s", baseline=configured),
        Figure("broadcast.vs_configured", achieved / RATE, "x", ">= 0.95", configured),
        Figure(
            "broadcast.requests_vs_configured",
            (rate.recipients + rate.edits) / rate.seconds / RATE,
            "x",
            baseline=f"messages and progress edits, both within the limits; {configured}",
        ),
        Figure(
            "broadcast.vs_sender",
            achieved / rate.sender_per_second,
            "x",
            baseline=f"plain sender, {recipients:,} deliveries to as many chats, same run",
        ),
        Figure("broadcast.server_429s", rate.server_429s, "429s", "== 0", ENFORCED),
        Figure(
            "broadcast.requests_in_pause",
            rate.requests_in_pause,
            "requests",
            "== 0",
            "requests started before a 429's retry_after had passed",
        ),
        Figure("broadcast.lost", rate.lost, "recipients", "== 0", counted),
        Figure("broadcast.duplicated", rate.duplicated, "recipients", "== 0", counted),
        Figure("broadcast.not_sent", rate.not_sent, "rows", "== 0", "deliveries table"),
        Figure(
            "broadcast.progress_edits",
            rate.edits,
            "edits",
            baseline=f"the author's message, at most one edit per {BROADCASTS_INTERVAL_S:g} s",
        ),
        Figure(f"broadcast.rss_growth_mb.{small}", growth[SMALL], "MiB", baseline=each),
        Figure(f"broadcast.rss_growth_mb.{big}", growth[large], "MiB", baseline=each),
        Figure(
            "broadcast.rss_growth_difference_mb",
            growth[large] - growth[SMALL],
            "MiB",
            "<= 50",
            f"{big} vs {small} recipients, same run",
        ),
        Figure(
            f"broadcast.enqueue_s.{small}",
            memory[SMALL]["enqueue_s"],
            "s",
            baseline="one INSERT ... SELECT",
        ),
        Figure(
            f"broadcast.enqueue_s.{big}",
            memory[large]["enqueue_s"],
            "s",
            baseline="one INSERT ... SELECT",
        ),
    ]


def _child(argv: list[str]) -> None:
    database, api_url, window = argv
    result = asyncio.run(_memory_child(database, api_url, float(window)))
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1:2] != ["memory"]:
        raise SystemExit("usage: python -m bench.bench_broadcast memory DATABASE API_URL SECONDS")
    _child(sys.argv[2:])
