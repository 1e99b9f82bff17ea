"""The bot process killed (SIGKILL) in the middle of sending 1,000 reminders, then restarted."""

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from domain.activities import Role, SignupRules
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.activities import insert_activity
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import deliveries
from storage.signups import sign_up
from storage.users import save_consent

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "42:crash-test"
RESIDENTS = 1000
CENTER = {
    "external_id": "crash-1",
    "name": "Соседи на Ленина",
    "address": "ул. Ленина, 1",
    "city": "Москва",
    "region": None,
    "latitude": 55.75,
    "longitude": 37.61,
    "timezone": "Europe/Moscow",
    "opening_hours": None,
    "phone": None,
}


async def prepare(url: str, user_ids: list[int]) -> None:
    """1,000 residents signed up for an activity that starts in 90 minutes: each is due one
    reminder (the 2-hour one) as soon as the bot runs."""
    now = datetime.now(UTC)
    db = Database.from_url(url)
    try:
        await upgrade(db)
        async with db.write() as conn:
            await upsert_centers(conn, [CENTER], now=now)
            starts_at = now + timedelta(minutes=90)
            activity_id = await insert_activity(
                conn,
                center_id=1,
                title="Большая лекция",
                description="",
                category="lectures",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                capacity=None,
                created_at=now,
            )
            for user_id in user_ids:
                await save_consent(
                    conn,
                    user_id=user_id,
                    display_name="Житель",
                    language="ru",
                    consent_version="2026-11-22",
                    now=now,
                )
                await sign_up(
                    conn,
                    activity_id=activity_id,
                    user_id=user_id,
                    role=Role.PARTICIPANT,
                    party_size=1,
                    now=now - timedelta(days=1),  # in time for the 2-hour reminder
                    rules=SignupRules(max_active_signups=10),
                )
    finally:
        await db.close()


async def start_bot(tmp_path: Path, server: FakeTelegram, url: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=server.base_url,
        DATABASE_URL=url,
        # Fast sending, so that the test is short; no quiet hours, whatever the time of day.
        ALLOW_PAID_BROADCAST="true",
        SEND_PER_SECOND="300",
        QUIET_HOURS_START="00:00",
        QUIET_HOURS_END="00:00",
        # A killed process holds the lease until it runs out: keep the wait short here.
        WORKER_LEASE_SECONDS="3",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def states(url: str) -> Counter[str]:
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            )
            return Counter(dict(rows.all()))
    finally:
        await db.close()


async def until(check, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_killed_while_sending_reminders_nothing_is_lost_or_sent_twice(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    async with (
        FakeTelegram(token=TOKEN) as server,
        FakeTelegramClient(server.base_url, timeout=60) as tg,
    ):
        users = [await tg.new_user(f"U{i}", started=True) for i in range(RESIDENTS)]
        await prepare(url, [user.id for user in users])

        async def sent_at_least(count: int):
            async def check():
                return server.stats()["calls"].get("sendMessage", 0) >= count

            return check

        first = await start_bot(tmp_path, server, url)
        try:
            await until(await sent_at_least(300), 120)
        finally:
            first.kill()  # SIGKILL: no shut-down hook runs
            log = (await first.stderr.read()).decode()
            await first.wait()
        assert "Traceback" not in log, log
        at_kill = await states(url)
        assert sum(at_kill.values()) == RESIDENTS, "every reminder was queued before sending"
        assert 0 < at_kill["pending"] < RESIDENTS
        in_flight = at_kill["sending"]

        second = await start_bot(tmp_path, server, url)
        try:

            async def drained():
                now = await states(url)
                return now["pending"] == 0 and now["sending"] == 0

            await until(drained, 120)
        finally:
            second.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(second.communicate(), timeout=30)
        assert second.returncode == 0, stderr.decode()
        final = await states(url)
        received = Counter()
        for user in users:
            received[user.id] = sum(
                1 for m in await user.messages() if (m.text or "").startswith("⏰")
            )

    assert final == Counter({"sent": RESIDENTS - in_flight, "unknown": in_flight}) - Counter()
    assert max(received.values()) == 1, "nobody got a reminder twice"
    missing = sum(1 for count in received.values() if count == 0)
    assert missing <= in_flight, "only a message in flight at the kill may be missing"


async def test_two_bot_processes_on_one_database_send_each_reminder_once(tmp_path):
    """A second copy started by mistake (or a new version starting before the old one has
    stopped): only the holder of the worker lease sends; the other stands by."""
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    async with (
        FakeTelegram(token=TOKEN) as server,
        FakeTelegramClient(server.base_url, timeout=60) as tg,
    ):
        users = [await tg.new_user(f"U{i}", started=True) for i in range(200)]
        await prepare(url, [user.id for user in users])
        processes = [await start_bot(tmp_path, server, url) for _ in range(2)]
        logs: list[list[str]] = [[], []]

        async def read(process: asyncio.subprocess.Process, lines: list[str]) -> None:
            while line := await process.stderr.readline():
                lines.append(line.decode())

        readers = [
            asyncio.create_task(read(p, lines)) for p, lines in zip(processes, logs, strict=True)
        ]
        try:

            async def drained():
                return (await states(url))["sent"] == len(users)

            await until(drained, 120)
            await asyncio.sleep(1.0)  # long enough for a second sender to do harm
            leading = [
                sum("this process now sends messages" in line for line in lines) for lines in logs
            ]
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
            for process in processes:
                await asyncio.wait_for(process.wait(), timeout=30)
            await asyncio.gather(*readers)
        received = Counter()
        for user in users:
            received[user.id] = sum(
                1 for m in await user.messages() if (m.text or "").startswith("⏰")
            )

    assert sorted(leading) == [0, 1], leading
    assert set(received.values()) == {1}, "everyone got the reminder, nobody twice"
    assert await states(url) == Counter({"sent": len(users)})
    for process, lines in zip(processes, logs, strict=True):
        assert process.returncode == 0, "".join(lines[-40:])
