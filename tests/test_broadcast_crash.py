"""The bot process killed (SIGKILL) in the middle of an announcement to 1,000 people, then
restarted: nobody gets it twice, nobody not in flight misses it, and the report adds up."""

import asyncio
import re
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain.broadcasts import Audience
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.broadcasts import create_broadcast
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.schema import broadcasts
from storage.subscriptions import subscribe
from storage.users import save_consent
from tests.test_crash import CENTER, TOKEN, start_bot, states, until

RECIPIENTS = 1000
TEXT = "Завтра субботник: сбор в 10:00 у входа."


async def prepare(url: str, author_id: int, user_ids: list[int]) -> None:
    """1,000 subscribers of a center and an announcement to them, due now: the bot starts
    it as soon as it runs."""
    now = datetime.now(UTC)
    db = Database.from_url(url)
    try:
        await upgrade(db)
        async with db.write() as conn:
            await upsert_centers(conn, [CENTER], now=now)
            for user_id in [author_id, *user_ids]:
                await save_consent(
                    conn,
                    user_id=user_id,
                    display_name="Житель",
                    language="en" if user_id == author_id else "ru",
                    consent_version="2026-11-22",
                    now=now,
                )
            for user_id in user_ids:
                await subscribe(conn, user_id, 1, now=now)
            await announce_now(conn, author_id, now=now)
    finally:
        await db.close()


async def announce_now(conn, author_id: int, *, now: datetime) -> int:
    """An announcement to center 1's subscribers, due: the sending instance starts it."""
    return await create_broadcast(
        conn,
        center_id=1,
        author_id=author_id,
        text=TEXT,
        photo=None,
        audience=Audience.SUBSCRIBERS,
        activity_id=None,
        send_at=now - timedelta(seconds=1),
        now=now,
    )


async def broadcast_row(url: str):
    db = Database.from_url(url)
    try:
        async with db.read() as conn:
            return (await conn.execute(select(broadcasts))).one()
    finally:
        await db.close()


def figure(text: str, label: str) -> int:
    match = re.search(rf"{re.escape(label)}[^:\n]*: (\d+)", text)
    assert match, (label, text)
    return int(match.group(1))


async def test_killed_while_announcing_nothing_is_sent_twice_and_the_report_adds_up(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    async with (
        FakeTelegram(token=TOKEN) as server,
        FakeTelegramClient(server.base_url, timeout=60) as tg,
    ):
        author = await tg.new_user("Coordinator", started=True, language_code="en")
        users = [await tg.new_user(f"U{i}", started=True) for i in range(RECIPIENTS)]
        await prepare(url, author.id, [user.id for user in users])

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
        assert sum(at_kill.values()) == RECIPIENTS, "every recipient was queued before sending"
        assert 0 < at_kill["pending"] < RECIPIENTS
        in_flight = at_kill["sending"]
        assert (await broadcast_row(url)).state == "sending"

        second = await start_bot(tmp_path, server, url)
        try:

            async def finished():
                return (await broadcast_row(url)).finished_at is not None

            await until(finished, 120)
        finally:
            second.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(second.communicate(), timeout=30)
        assert second.returncode == 0, stderr.decode()
        assert "Traceback" not in stderr.decode(), stderr.decode()
        final = await states(url)
        received = Counter()
        for user in users:
            received[user.id] = sum(1 for m in await user.messages() if m.text == TEXT)
        reports = [
            m for m in await author.messages() if (m.text or "").startswith("✅ Announcement sent")
        ]

    assert final == Counter({"sent": RECIPIENTS - in_flight, "unknown": in_flight}) - Counter()
    assert max(received.values()) == 1, "nobody got it twice"
    missing = sum(1 for count in received.values() if count == 0)
    assert missing <= in_flight, "only a message in flight at the kill may be missing"
    row = await broadcast_row(url)
    assert (row.state, row.recipients) == ("done", RECIPIENTS)
    [report] = reports
    assert report.buttons == []
    counts = {
        label: figure(report.text, label)
        for label in ("Recipients", "Delivered", "Failed", "Blocked", "Unknown", "Cancelled")
    }
    assert counts == {
        "Recipients": RECIPIENTS,
        "Delivered": RECIPIENTS - in_flight,
        "Failed": 0,
        "Blocked": 0,
        "Unknown": in_flight,
        "Cancelled": 0,
    }
    assert sum(counts.values()) - RECIPIENTS == RECIPIENTS, "the report adds up"
