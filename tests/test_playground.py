"""The playground without a browser: start-up with no token, the personas, the page's files,
the clock, and the fake server's long polls the page relies on."""

import asyncio
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from fake_telegram.client import FakeTelegramClient, FakeTelegramError, FakeUser
from fake_telegram.server import FakeTelegram
from tests.helpers import eventually
from tests.playground_process import playground_env, running_playground

ANNA, PETRO, EMMA, IVAN, OLGA, SERGEY = 1001, 1002, 1003, 1004, 1005, 1006


async def get_json(session, url):
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post_clock(session, url, body):
    async with session.post(url + "playground/clock", json=body) as response:
        return response.status, await response.json()


async def bot_texts(tg, chat_id):
    return [m.text or "" for m in await tg.messages(chat_id) if m.from_bot]


async def test_no_token_opens_the_playground_with_its_personas(tmp_path):
    async with running_playground(tmp_path) as playground, aiohttp.ClientSession() as session:
        assert playground.printed[0] == f"The playground is open at {playground.url}"
        assert (tmp_path / "data" / "playground.db").exists(), "its own database"
        assert not (tmp_path / "data" / "bot.db").exists()

        async with session.get(playground.url) as page:
            html = await page.text()
            assert page.status == 200 and "/web/app.js" in html and "<title>" in html
        for asset, kind in (("app.js", "javascript"), ("style.css", "css"), ("map.js", "java")):
            async with session.get(f"{playground.url}web/{asset}") as response:
                assert response.status == 200 and kind in response.content_type
        for hidden in ("web/webchat.py", "web/..%2Fwebchat.py", "web/%2E%2E/control.py"):
            async with session.get(playground.url + hidden) as response:
                assert response.status == 404, hidden

        state = await get_json(session, playground.url + "playground")
        roles = {p["id"]: p["role"] for p in state["personas"]}
        assert roles == {
            ANNA: "newcomer",
            PETRO: "resident",
            EMMA: "resident",
            IVAN: "volunteer",
            OLGA: "coordinator",
            SERGEY: "admin",
        }
        olga = next(p for p in state["personas"] if p["id"] == OLGA)
        assert olga["center"] == "Соседи на Малышева"
        assert "Екатеринбург" in {c["name"] for c in state["cities"]}
        assert state["clock"]["offset_seconds"] == 0 and len(state["centers"]) > 20

        # The bot handles updates as concurrent tasks, as in production: wait for it to go quiet.
        async with FakeTelegramClient(playground.url, timeout=30, settle=0.5) as tg:
            users = {u["id"]: u for u in await tg.request("GET", "/control/users")}
            assert set(users) == set(roles) and users[PETRO]["language_code"] == "uk"
            # Those who use the bot already said /start; the newcomer has not.
            welcome = await eventually(lambda: bot_texts(tg, OLGA))
            assert welcome == ["С возвращением, Ольга!"]
            assert (await tg.chat(ANNA))["messages"] == []
            assert not (await tg.chat(ANNA))["started"]

            menus = {
                str(entry["scope"].get("chat_id")): [c["command"] for c in entry["commands"]]
                for entry in await tg.commands()
            }
            assert "coord" in menus[str(OLGA)] and "admin" in menus[str(SERGEY)]

            # The newcomer meets the consent screen: the bot polls the playground's server.
            greeting, consent = await FakeUser(tg, users[ANNA]).send("/start")
            assert "Анна" in greeting.text and "Согласие" in consent.text
            assert consent.buttons[0][0] == "✅ Согласен(на)"


async def test_the_clock_moves_forward_and_brings_what_came_due(tmp_path):
    quiet = {"QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"}  # none: it is any hour
    async with (
        running_playground(tmp_path, **quiet) as playground,
        aiohttp.ClientSession() as session,
    ):
        for bad in ({}, {"minutes": "soon"}, {"minutes": 0}, {"minutes": 43201}):
            status, answer = await post_clock(session, playground.url, bad)
            assert status == 400 and "minutes" in answer["error"]

        status, answer = await post_clock(session, playground.url, {"minutes": 60})
        assert status == 200 and answer["clock"]["offset_seconds"] == 3600
        assert {"waitlist", "reminders", "ratings", "digest"} <= set(answer["ran"])
        state = await get_json(session, playground.url + "playground")
        assert state["clock"]["offset_seconds"] == 3600

        async with FakeTelegramClient(playground.url, timeout=30) as tg:
            # Emma signed up for something more than a day ahead: a day or two on, her
            # reminder arrives, stamped with the playground's time.
            reminder = None
            for _ in range(3):
                status, answer = await post_clock(session, playground.url, {"minutes": 1440})
                assert status == 200

                async def reminded():
                    texts = await bot_texts(tg, EMMA)
                    return next((t for t in texts if t.startswith("⏰ Reminder:")), None)

                reminder = await eventually(reminded, seconds=5)
                if reminder:
                    break
            assert reminder, await bot_texts(tg, EMMA)
            [message] = [m for m in await tg.messages(EMMA) if m.text == reminder]
            assert message.buttons == [["✅ I'm coming", "❌ Can't make it"]]
            assert message.raw["date"] > time.time() + answer["clock"]["offset_seconds"] - 60


def test_the_port_must_be_free(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "playground"],
            cwd=tmp_path,
            env=playground_env(PLAYGROUND_PORT=str(port), BOT_TOKEN="123:abc"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"Setting PLAYGROUND_PORT: cannot listen on 127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_names_the_playground(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=tmp_path,
        env=playground_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "playground" in result.stdout


# -- the fake server's long polls, which the page watches the chats with ----------------------


@pytest.fixture
async def fake():
    async with FakeTelegram() as server, FakeTelegramClient(server.base_url) as tg:
        yield server, tg


async def test_activity_waits_for_a_change_and_names_the_chats(fake):
    server, tg = fake
    anna = await tg.new_user("Anna", started=True)
    boris = await tg.new_user("Boris", started=True)
    now = await tg.request("GET", "/control/activity")
    assert now == {"seq": 0, "chats": []}

    waiting = asyncio.create_task(tg.request("GET", "/control/activity?since=0&wait=10"))
    await asyncio.sleep(0.3)
    assert not waiting.done(), "nothing changed yet"
    await anna.send("hello", wait=False)
    changed = await asyncio.wait_for(waiting, 5)
    assert [c["chat_id"] for c in changed["chats"]] == [anna.id]
    assert changed["chats"][0]["new_from_bot"] == 0 and changed["seq"] == 1

    # A message from the bot counts as new; nothing at all after the wait is an empty answer.
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    bot = Bot(server.token, session=session)
    try:
        await bot.send_message(boris.id, "<b>hi</b>", parse_mode="HTML")
    finally:
        await session.close()
    changed = await tg.request("GET", "/control/activity?since=1&wait=5")
    assert changed["chats"] == [{"chat_id": boris.id, "seq": 2, "new_from_bot": 1}]
    quiet = await tg.request("GET", "/control/activity?since=2&wait=1")
    assert quiet == {"seq": 2, "chats": []}


async def test_a_chat_read_can_wait_for_that_chat(fake):
    _server, tg = fake
    anna = await tg.new_user("Anna", started=True)
    boris = await tg.new_user("Boris", started=True)
    waiting = asyncio.create_task(tg.request("GET", f"/control/chats/{anna.id}?since=0&wait=10"))
    await boris.send("not Anna's chat", wait=False)
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await anna.send("hers", wait=False)
    view = await asyncio.wait_for(waiting, 5)
    assert [m["text"] for m in view["messages"]] == ["hers"]
    with pytest.raises(FakeTelegramError, match="wait must be an integer"):
        await tg.request("GET", f"/control/chats/{anna.id}?wait=soon")
