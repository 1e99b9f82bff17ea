"""The bot in webhook mode against the fake Telegram, which delivers updates to its webhook."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.app import create_bot
from bot.webhook import serve_webhook
from fake_telegram.client import FakeTelegramClient
from fake_telegram.server import FakeTelegram
from tests.conftest import (
    TOKEN,
    BotEnv,
    Clock,
    PlainHttpSession,
    make_settings,
    prepare_database,
)

SECRET = "the-Webhook_secret-42"
HOOK_PATH = "/telegram/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class HookEnv(BotEnv):
    base_url: str = ""  # the bot's webhook server

    @property
    def hook_url(self) -> str:
        return self.base_url + HOOK_PATH

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as http, http.get(self.base_url + path) as response:
            return response.status, await response.text()

    async def post_update(self, update: dict, *, secret: str | None = SECRET) -> int:
        """Deliver an update to the webhook as Telegram would; the answer's status."""
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.hook_url, json=update, headers=headers) as response,
        ):
            return response.status


@pytest.fixture
async def hook_env(request, tmp_path, dispatcher, caplog):
    """Like ``bot_env``, but the bot runs as a webhook server; the acting methods wait until
    the bot has gone quiet, since the webhook answers before it handles an update."""
    dispatcher.storage.storage.clear()
    caplog.set_level(logging.WARNING)
    marker = request.node.get_closest_marker("settings")
    overrides = marker.kwargs if marker else {}
    async with FakeTelegram(token=TOKEN) as server:
        port = free_port()
        settings = make_settings(
            tmp_path,
            server.base_url,
            webhook_url=f"http://127.0.0.1:{port}{HOOK_PATH}",
            webhook_secret=SECRET,
            webhook_port=port,
            **overrides,
        )
        await prepare_database(settings, demo=True)
        clock = Clock(datetime.now(UTC).replace(microsecond=0))
        bot = create_bot(settings, PlainHttpSession)
        stop = asyncio.Event()
        ready = asyncio.Event()
        serving = asyncio.create_task(
            serve_webhook(
                dispatcher, bot, settings, stop=stop, started=lambda _: ready.set(), clock=clock
            )
        )
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({serving, waiting}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if serving.done():
            serving.result()
        assert ready.is_set(), "the webhook server did not start"
        try:
            async with FakeTelegramClient(server.base_url, settle=0.3) as tg:
                env = HookEnv(
                    tg,
                    server,
                    dispatcher["db"],
                    settings,
                    clock,
                    dispatcher,
                    bot,
                    base_url=f"http://127.0.0.1:{port}",
                )
                yield env
                unanswered = await tg.unanswered_callbacks()
                assert not unanswered, f"callback queries left unanswered: {unanswered}"
        finally:
            stop.set()
            await serving
    if request.node.get_closest_marker("allow_errors") is None:
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]


def start_update(update_id: int, user: dict, text: str = "/start") -> dict:
    """A private message as Telegram sends it, from a user the fake server knows."""
    sender = {k: v for k, v in user.items() if k in {"id", "first_name", "language_code"}}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": {"is_bot": False, **sender},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }
