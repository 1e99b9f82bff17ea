"""A fake Telegram Bot API server for tests and local runs, plus a client for its control API.

See :mod:`fake_telegram.server` for the server, :mod:`fake_telegram.botapi` and
:mod:`fake_telegram.control` for its routes, and :mod:`fake_telegram.client` for the client.
"""

from fake_telegram.client import (
    ChatMessage,
    FakeTelegramClient,
    FakeTelegramError,
    FakeUser,
    UpdateDropped,
)
from fake_telegram.server import ApiError, FakeTelegram

__all__ = [
    "ApiError",
    "ChatMessage",
    "FakeTelegram",
    "FakeTelegramClient",
    "FakeTelegramError",
    "FakeUser",
    "UpdateDropped",
]
