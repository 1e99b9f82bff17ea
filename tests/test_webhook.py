"""Webhook mode end to end: the fake Telegram delivers updates to the bot's webhook server."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.__main__ import load_settings
from bot.config import Settings
from bot.webhook import RecentUpdates
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from storage.schema import processed_updates
from storage.updates import claim_update, forget_updates
from tests.conftest import TOKEN
from tests.helpers import consenting_user, eventually
from tests.webhook_helpers import HOOK_PATH, SECRET, free_port, start_update
from tests.webhook_helpers import hook_env as hook_env  # the fixture


async def processed_ids(env) -> list[int]:
    return await processed_ids_of(env.db)


async def test_a_resident_starts_agrees_and_gets_the_menu(hook_env):
    env = hook_env
    hook = (await env.tg.request("GET", "/control/updates"))["webhook"]
    assert hook["url"] == env.hook_url and hook["secret_token"] == SECRET

    user = await consenting_user(env)

    async def menu():
        return [m for m in await user.messages() if m.reply_keyboard]

    assert await eventually(menu), [m.text for m in await user.messages()]
    # Every update went through the webhook and was recorded once.
    assert len(await processed_ids(env)) == len(set(await processed_ids(env))) >= 2
    assert not await env.tg.pending_updates()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_a_request_without_the_secret_is_refused_and_not_handled(hook_env, secret):
    env = hook_env
    user = await env.tg.new_user(first_name="Мария", language_code="ru", started=True)
    before = await env.rows()
    assert await env.post_update(start_update(900_001, user.info), secret=secret) == 401
    await asyncio.sleep(0.3)
    assert await env.rows() == before
    assert not await user.messages()


async def test_an_update_delivered_twice_is_handled_once(hook_env):
    env = hook_env
    user = await env.tg.new_user(first_name="Пётр", language_code="ru", started=True)
    update = start_update(900_100, user.info)
    # Twice at the same moment (Telegram gave up waiting for the first answer), then once more.
    statuses = await asyncio.gather(env.post_update(update), env.post_update(update))
    assert statuses == [200, 200]
    assert await env.post_update(update) == 200

    async def consent_shown():
        return [m for m in await user.messages() if m.buttons]

    assert await eventually(consent_shown)
    await asyncio.sleep(0.3)
    texts = [m.text for m in await user.messages()]
    assert len(texts) == 2 and texts[0].startswith("Здравствуйте, Пётр!")  # greeting, consent
    assert (await processed_ids(env)).count(900_100) == 1
    status, text = await env.get("/metrics")
    assert status == 200
    assert "sosedi_webhook_duplicate_updates_total 2.0" in text


async def test_an_update_another_instance_took_is_not_handled_here(hook_env):
    env = hook_env
    user = await env.tg.new_user(first_name="Ирина", language_code="ru", started=True)
    async with env.db.write() as conn:
        await conn.execute(
            insert(processed_updates).values(update_id=900_200, received_at=env.clock())
        )
    assert await env.post_update(start_update(900_200, user.info)) == 200
    await asyncio.sleep(0.3)
    assert not await user.messages()
    # A new update of the same user is handled.
    assert await env.post_update(start_update(900_201, user.info)) == 200
    assert await eventually(user.messages)


async def test_malformed_requests_get_400(hook_env):
    env = hook_env
    assert await env.post_update({"no": "update_id"}) == 400
    assert await env.post_update({"update_id": "7"}) == 400


async def test_healthz_follows_the_database(hook_env):
    env = hook_env
    status, text = await env.get("/healthz")
    assert status == 200
    assert json.loads(text) == {"status": "ok", "database": True, "leader": True}

    # The file goes away (a lost volume): the connections kept open would not notice.
    path = env.settings.database_url.split(":///", 1)[1]
    os.rename(path, path + ".away")
    try:
        status, text = await env.get("/healthz")
        assert status == 503
        assert json.loads(text)["database"] is False
    finally:
        os.rename(path + ".away", path)
    assert (await env.get("/healthz"))[0] == 200

    # A database that does not answer at all.
    async def refuse():
        raise OSError("connection refused")

    env.db.ping = refuse
    try:
        assert (await env.get("/healthz"))[0] == 503
    finally:
        del env.db.ping
    assert (await env.get("/healthz"))[0] == 200


# -- pieces ---------------------------------------------------------------------------------


def test_recent_updates_remember_a_bounded_number():
    recent = RecentUpdates(size=3)
    assert [recent.add(i) for i in (1, 2, 3)] == [True, True, True]
    assert not recent.add(2)
    assert recent.add(4)  # 1, the oldest, is forgotten
    assert 1 not in recent and 4 in recent
    assert recent.add(1)
    recent.discard(1)
    assert recent.add(1)


async def test_claims_and_pruning_of_update_ids(tmp_path):
    from bot.jobs import forget_updates_job
    from storage.database import Database
    from storage.migrate import upgrade
    from tests.conftest import Clock

    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/u.db")
    try:
        await upgrade(db)
        clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
        async with db.write() as conn:
            assert await claim_update(conn, 5, now=clock())
            assert not await claim_update(conn, 5, now=clock())
            assert await claim_update(conn, 6, now=clock() + timedelta(hours=20))
            assert await forget_updates(conn, before=clock()) == 0
        clock.advance(hours=25)
        await forget_updates_job(db, clock)
        async with db.read() as conn:
            assert list(await conn.scalars(select(processed_updates.c.update_id))) == [6]
            assert await conn.scalar(select(func.count()).select_from(processed_updates)) == 1
    finally:
        await db.close()


async def test_an_instance_answers_for_no_more_updates_than_it_handles_at_once(tmp_path):
    """With every slot busy, a request waits, unclaimed: were the instance killed now, the
    update would be delivered again elsewhere rather than lost with it."""
    import aiohttp
    from aiogram import Bot, Dispatcher
    from aiogram.types import Message
    from aiohttp import web

    from bot.webhook import WebhookHandler
    from storage.database import Database
    from storage.migrate import upgrade

    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/u.db")
    await upgrade(db)
    dispatcher = Dispatcher(db=db)
    release = asyncio.Event()
    handled = []

    @dispatcher.message()
    async def slow(message: Message) -> None:
        await release.wait()
        handled.append(message.text)

    handler = WebhookHandler(dispatcher, Bot(TOKEN), secret_token=SECRET, concurrency=1)
    app = web.Application()
    handler.register(app, path=HOOK_PATH)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{HOOK_PATH}"
    user = {"id": 7, "is_bot": False, "first_name": "Анна"}
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        async with aiohttp.ClientSession() as http:

            async def post(update_id: int) -> int:
                update = start_update(update_id, user, text=f"#{update_id}")
                async with http.post(url, json=update, headers=headers) as response:
                    return response.status

            assert await post(1) == 200
            second = asyncio.create_task(post(2))
            await asyncio.sleep(0.3)
            assert not second.done(), "answered while the only slot was busy"
            assert await processed_ids_of(db) == [1]
            release.set()
            assert await asyncio.wait_for(second, 5) == 200

            async def both_handled():
                return len(handled) == 2

            assert await eventually(both_handled)
        assert handled == ["#1", "#2"]
        assert await processed_ids_of(db) == [1, 2]
    finally:
        await runner.cleanup()
        await db.close()


async def processed_ids_of(db) -> list[int]:
    async with db.read() as conn:
        return list(await conn.scalars(select(processed_updates.c.update_id)))


def settings_error(monkeypatch, tmp_path, capsys, **values) -> str:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    with pytest.raises(SystemExit) as exit_info:
        load_settings(Settings, bot_token="123:abc", **values)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_a_webhook_needs_a_secret(monkeypatch, tmp_path, capsys):
    error = settings_error(monkeypatch, tmp_path, capsys, webhook_url="https://bot.example.org/h")
    assert error.startswith("Setting WEBHOOK_SECRET is invalid")
    assert "WEBHOOK_URL" in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"webhook_secret": "has space"}, "WEBHOOK_SECRET"),
        ({"webhook_secret": "x" * 257}, "WEBHOOK_SECRET"),
        ({"webhook_secret": "ключ"}, "WEBHOOK_SECRET"),
        ({"webhook_url": "http://bot.example.org/h", "webhook_secret": "s"}, "WEBHOOK_URL"),
        ({"webhook_url": "bot.example.org", "webhook_secret": "s"}, "WEBHOOK_URL"),
        ({"webhook_url": "https://bot.example.org/healthz", "webhook_secret": "s"}, "WEBHOOK_URL"),
        ({"webhook_path": "hook"}, "WEBHOOK_PATH"),
        ({"webhook_port": "0"}, "WEBHOOK_PORT"),
        ({"metrics_port": "http"}, "METRICS_PORT"),
    ],
)
def test_bad_webhook_settings_are_named(monkeypatch, tmp_path, capsys, values, name):
    error = settings_error(monkeypatch, tmp_path, capsys, **values)
    assert error.startswith(f"Setting {name} is invalid")


def test_webhook_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        bot_token="123:abc", webhook_url="https://bot.example.org/tg/hook", webhook_secret="a-b_C"
    )
    assert settings.webhook_listen_path == "/tg/hook"
    assert (settings.webhook_host, settings.webhook_port) == ("127.0.0.1", 8443)
    assert Settings(bot_token="123:abc", webhook_url="", metrics_port="").webhook_url is None
    # A local Bot API server calls plain http webhooks too.
    local = Settings(
        bot_token="123:abc",
        telegram_api_url="http://127.0.0.1:8081",
        webhook_url="http://bot:8443",
        webhook_secret="s",
        webhook_path="/in",
    )
    assert local.webhook_listen_path == "/in"
    assert HOOK_PATH.startswith("/")


# -- the command line -------------------------------------------------------------------------


def cli_env(tmp_path, **values) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL"}}
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db/bot.db",
        BOT_TOKEN=TOKEN,
    )
    env.update(values)
    return env


def test_the_bot_refuses_to_start_a_webhook_without_a_secret(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,  # so that no developer's .env is read
        env=cli_env(tmp_path, WEBHOOK_URL="https://bot.example.org/telegram"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Setting WEBHOOK_SECRET is invalid")
    assert len(result.stderr.strip().splitlines()) == 1


async def test_python_m_bot_serves_a_webhook_and_stops_on_sigterm(tmp_path):
    """The real command: it registers its webhook, answers a resident, and a SIGTERM stops it
    cleanly, leaving the webhook in place for the other instances."""
    async with FakeTelegram(token=TOKEN) as server, FakeTelegramClient(server.base_url) as tg:
        port = free_port()
        url = f"http://127.0.0.1:{port}/tg"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=cli_env(
                tmp_path,
                TELEGRAM_API_URL=server.base_url,
                WEBHOOK_URL=url,
                WEBHOOK_SECRET=SECRET,
                WEBHOOK_PORT=str(port),
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:

            async def webhook_set():
                return (await tg.request("GET", "/control/updates"))["webhook"]

            hook = await eventually(webhook_set, seconds=60)
            assert hook and hook["url"] == url and hook["secret_token"] == SECRET
            user = await tg.new_user(first_name="Анна", language_code="ru")
            await user.send("/start")

            async def consent():
                return [m for m in await user.messages() if m.buttons]

            assert await eventually(consent)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()
        assert "Traceback" not in stderr.decode()
        assert await webhook_set()  # not deleted


async def test_a_port_in_use_is_a_setting_to_fix(tmp_path):
    async with FakeTelegram(token=TOKEN) as server:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=tmp_path,
                env=cli_env(tmp_path, TELEGRAM_API_URL=server.base_url, METRICS_PORT=str(port)),
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert lines[-1].startswith(f"Setting METRICS_PORT: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in stderr.decode()
