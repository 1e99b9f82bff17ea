"""Several instances of the bot sharing one Redis: a dialog begun on one goes on on another,
and one user's updates wait for each other across instances."""

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import select

from bot.fsm import create_fsm
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.database import Database
from storage.schema import volunteer_profiles
from storage.users import save_consent
from tests.conftest import TOKEN, make_settings, prepare_database
from tests.helpers import eventually
from tests.redis_helpers import redis_server, redis_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
USER_ID = 5001


async def start_instance(tmp_path: Path, name: str, server: FakeTelegram, settings, redis: str):
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=server.base_url,
        DATABASE_URL=settings.database_url,
        REDIS_URL=redis,
    )
    log = (tmp_path / f"{name}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    log.close()
    return process


async def last_text(user, prefix: str):
    async def arrived():
        last = await user.last_bot_message()
        return last if last and (last.text or "").startswith(prefix) else None

    found = await eventually(arrived, seconds=30)
    assert found, f"no reply starting with {prefix!r}: {await user.last_bot_message()}"
    return found


async def test_a_dialog_begun_on_one_instance_goes_on_on_another(tmp_path, redis_url):  # noqa: F811
    """Two bot processes on one SQLite database and one Redis, each fed by its own fake
    Telegram (as a load balancer would hand each update to either): the same user's
    volunteer-profile dialog moves between them at every step."""
    settings = make_settings(tmp_path)
    await prepare_database(settings, demo=False)
    db = Database.from_url(settings.database_url)
    try:
        async with db.write() as conn:
            await save_consent(
                conn,
                user_id=USER_ID,
                display_name="Ivan",
                language="en",
                consent_version=settings.consent_version,
                now=datetime.now(UTC),
            )
    finally:
        await db.close()
    async with (
        FakeTelegram(token=TOKEN) as first_server,
        FakeTelegram(token=TOKEN) as second_server,
        FakeTelegramClient(first_server.base_url, timeout=30) as first_tg,
        FakeTelegramClient(second_server.base_url, timeout=30) as second_tg,
    ):
        on_first = await first_tg.new_user("Ivan", id=USER_ID, started=True)
        on_second = await second_tg.new_user("Ivan", id=USER_ID, started=True)
        instances = [
            await start_instance(tmp_path, "first", first_server, settings, redis_url),
            await start_instance(tmp_path, "second", second_server, settings, redis_url),
        ]
        try:

            async def polling():
                return all(
                    server.stats()["calls"].get("getUpdates")
                    for server in (first_server, second_server)
                )

            assert await eventually(polling, seconds=60), "the instances did not start"
            await on_first.send("🙋 Volunteering")
            await last_text(on_first, "Here you will see the volunteer shifts")
            await on_first.press("👤 Volunteer profile")
            await last_text(on_first, "How should the coordinators call you?")
            await on_second.send("Иван Петрович")
            await last_text(on_second, "What can you help with?")
            await on_first.send("Готовлю")
            await last_text(on_first, "Saved. Thank you for helping!")
        finally:
            for process in instances:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
            codes = [await asyncio.wait_for(p.wait(), timeout=30) for p in instances]
    logs = [(tmp_path / f"{name}.log").read_text() for name in ("first", "second")]
    assert codes == [0, 0], logs
    assert not any("Traceback" in log for log in logs), logs
    db = Database.from_url(settings.database_url)
    try:
        async with db.read() as conn:
            profile = (await conn.execute(select(volunteer_profiles))).one()
    finally:
        await db.close()
    assert (profile.display_name, profile.skills) == ("Иван Петрович", "Готовлю")


def message_update(update_id: int, user_id: int) -> Update:
    person = User(id=user_id, is_bot=False, first_name="Anna")
    message = Message(
        message_id=update_id,
        date=datetime.now(UTC),
        chat=Chat(id=user_id, type="private"),
        from_user=person,
        text=f"message {update_id}",
    )
    return Update(update_id=update_id, message=message)


async def test_one_users_updates_wait_for_each_other_across_instances(tmp_path, redis_url):  # noqa: F811
    """Two dispatchers set up as two instances would be (each its own Redis connections),
    each handed an update at the same moment: the same user's are handled one after the
    other; two users' side by side."""
    settings = make_settings(tmp_path, redis_url=redis_url)
    spans: list[tuple[int, int, float, float]] = []

    def instance() -> Dispatcher:
        storage, isolation = create_fsm(settings)
        router = Router()

        @router.message()
        async def slow(message: Message) -> None:
            loop = asyncio.get_running_loop()
            entered = loop.time()
            await asyncio.sleep(0.3)
            spans.append((message.from_user.id, message.message_id, entered, loop.time()))

        dispatcher = Dispatcher(storage=storage, events_isolation=isolation)
        dispatcher.include_router(router)
        return dispatcher

    first, second = instance(), instance()
    bot = Bot(TOKEN)
    try:
        await asyncio.gather(
            first.feed_update(bot, message_update(1, 7001)),
            second.feed_update(bot, message_update(2, 7001)),
        )
        (_, _, _, exit_a), (_, _, enter_b, _) = sorted(spans, key=lambda s: s[2])
        assert exit_a <= enter_b, "the second waited until the first was done"

        spans.clear()
        await asyncio.gather(
            first.feed_update(bot, message_update(3, 7001)),
            second.feed_update(bot, message_update(4, 7002)),
        )
        (_, _, _, exit_a), (_, _, enter_b, _) = sorted(spans, key=lambda s: s[2])
        assert enter_b < exit_a, "different users do not wait for each other"
    finally:
        await bot.session.close()
        for dispatcher in (first, second):
            await dispatcher.fsm.close()


def test_an_unreachable_redis_stops_the_start_with_one_line(tmp_path):
    from tests.test_cli import run

    # Port 9 (discard) on loopback: nothing listens there.
    result = run(tmp_path, "run", BOT_TOKEN=TOKEN, REDIS_URL="redis://127.0.0.1:9/0")
    assert result.returncode == 1
    assert result.stderr.startswith("Setting REDIS_URL: cannot use Redis:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
