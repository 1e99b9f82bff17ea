"""The fake's memory: users, chats, messages, files, callback queries and the update queue.

The dataclasses are the data model; :class:`Telegram` holds them together with what outlives
a reset and is what both the Bot API (:mod:`fake_telegram.botapi`) and the control API
(:mod:`fake_telegram.control`) act on.

Stored data is changed in place (an edit rewrites a message's ``data``), so whatever must keep
showing the past, such as an update's payload or a replied-to message, holds a
:func:`snapshot`. Answers need no copy: both APIs JSON-encode a handler's result as soon as it
returns, before anything else can run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mimetypes
import secrets
import struct
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_telegram.wire import ApiError, Params

__all__ = [
    "DEFAULT_UPDATE_TYPES",
    "Callback",
    "Chat",
    "Fault",
    "Message",
    "State",
    "StoredFile",
    "Telegram",
    "Update",
    "User",
    "Webhook",
    "compact",
    "image_size",
    "snapshot",
]

# Telegram leaves these out unless a bot asks for them by name.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
    | OPT_IN_UPDATE_TYPES
)
DEFAULT_UPDATE_TYPES = UPDATE_TYPES - OPT_IN_UPDATE_TYPES


# -- the data model ----------------------------------------------------------------------------


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str = ""

    def api(self) -> dict[str, Any]:
        return compact(
            {
                "id": self.id,
                "is_bot": False,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
                "language_code": self.language_code,
            }
        )


@dataclass
class Message:
    data: dict[str, Any]  # exactly what the Bot API returns for this message
    sender: str  # "bot" or "user"
    html: str | None
    seq: int  # bumped on every change, so readers can ask for "changed since"
    reply_keyboard: dict[str, Any] | None = None  # a non-inline markup it carried
    edit_count: int = 0
    deleted: bool = False

    @property
    def message_id(self) -> int:
        return int(self.data["message_id"])


@dataclass
class Chat:
    id: int
    type: str
    user: User | None = None
    title: str | None = None
    username: str | None = None
    started: bool = True
    blocked: bool = False
    messages: dict[int, Message] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None  # {"markup": ..., "message_id": ...}
    actions: list[dict[str, Any]] = field(default_factory=list)
    chat_instance: str = field(default_factory=lambda: str(secrets.randbits(62)))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def api(self) -> dict[str, Any]:
        if self.user is not None:
            info = {
                "first_name": self.user.first_name,
                "last_name": self.user.last_name,
                "username": self.user.username,
            }
        else:
            info = {"title": self.title, "username": self.username}
        return compact({"id": self.id, "type": self.type, **info})

    def next_message_id(self) -> int:
        return next(self._ids)

    def live(self, message_id: int) -> Message | None:
        message = self.messages.get(message_id)
        return None if message is None or message.deleted else message


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # photo, document or sticker: Telegram refuses to mix them up
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    def base(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [{**self.base(), "width": self.width, "height": self.height}]

    def document(self) -> dict[str, Any]:
        return compact({**self.base(), "file_name": self.file_name, "mime_type": self.mime_type})


@dataclass
class Callback:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    update_id: int
    answered: bool = False
    answer: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "update_id": self.update_id,
            "answered": self.answered,
            "answer": self.answer,
        }


@dataclass
class Update:
    update_id: int
    kind: str
    payload: dict[str, Any]
    status: str = "pending"  # pending, confirmed or dropped


@dataclass
class Fault:
    id: int
    method: str | None
    chat_id: str | None
    error_code: int | None
    description: str | None
    retry_after: int | None
    times: int | None
    latency: float
    hits: int = 0

    def matches(self, method: str, params: Params) -> bool:
        if self.method is None and method == "getUpdates":
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(params.raw("chat_id")) == self.chat_id

    def error(self) -> ApiError | None:
        if self.error_code is None:
            return None
        retry_after = self.retry_after
        if self.error_code == 429 and retry_after is None:
            retry_after = 1
        return ApiError(
            self.error_code,
            self.description or _default_description(self.error_code, retry_after),
            retry_after,
        )

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "chat_id": self.chat_id,
            "error_code": self.error_code,
            "description": self.description,
            "retry_after": self.retry_after,
            "times": self.times,
            "latency": self.latency,
            "hits": self.hits,
        }


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class State:
    """Everything a reset forgets."""

    users: dict[int, User] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    callbacks: dict[str, Callback] = field(default_factory=dict)
    updates: dict[int, Update] = field(default_factory=dict)
    pending: list[Update] = field(default_factory=list)
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    webhook: Webhook | None = None
    faults: list[Fault] = field(default_factory=list)
    global_per_second: int | None = None
    per_chat_per_second: int | None = None
    global_window: deque[float] = field(default_factory=deque)
    chat_windows: dict[str, deque[float]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    faults_triggered: int = 0
    seq: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    done: deque[tuple[dict[Any, Any], Any]] = field(default_factory=deque)  # see Telegram

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


# -- the in-memory Telegram --------------------------------------------------------------------


class Telegram:
    """The bot's identity, its in-memory world and the update queue both APIs share."""

    def __init__(
        self,
        *,
        token: str,
        bot_id: int,
        bot_username: str,
        bot_name: str,
        clock: Callable[[], float],
        history: int | None = None,
    ) -> None:
        """``history``: remember only the newest this many of what is done with (messages,
        updates once confirmed or dropped, answered callback queries), for a server that
        runs a long load in the process it measures; None remembers everything."""
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_name = bot_name
        self._clock = clock
        self._history = history
        self._s = State()
        # Update ids survive a reset: a bot that keeps polling across it must not confirm new
        # updates with the offset it remembers from before.
        self._update_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._poller: object | None = None
        self._closing = False
        self._inflight = 0
        self._last_call = 0.0

    def stats(self) -> dict[str, Any]:
        """Call counters per method, errors per method, 429s from rate limits, faults hit."""
        return {
            "calls": dict(self._s.calls),
            "errors": dict(self._s.errors),
            "rate_limited": self._s.rate_limited,
            "faults_triggered": self._s.faults_triggered,
            "pending_updates": len(self._s.pending),
        }

    def reset(self) -> None:
        """Forget users, chats, messages, updates, files, counters, faults and limits."""
        self._s = State()
        self._poller = None
        self._notify()

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    # -- the update queue ----------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake everybody waiting for a change (long polls, webhook worker, control waits)."""
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def _enqueue(self, kind: str, obj: dict[str, Any]) -> Update:
        update_id = next(self._update_ids)
        update = Update(update_id, kind, {"update_id": update_id, kind: snapshot(obj)})
        self._s.updates[update_id] = update
        self._s.pending.append(update)
        self._notify()
        return update

    def _settle(self, update: Update, status: str) -> None:
        update.status = status
        if update in self._s.pending:
            self._s.pending.remove(update)
        self._done(self._s.updates, update.update_id)
        self._notify()

    def _add_message(self, chat: Chat, message: Message) -> None:
        chat.messages[message.message_id] = message
        self._done(chat.messages, message.message_id)  # nothing is pending on a message

    def _done(self, store: dict[Any, Any], key: Any) -> None:
        """``store[key]`` is done with: under a history limit, the oldest such is forgotten."""
        if self._history is None:
            return
        self._s.done.append((store, key))
        if len(self._s.done) > self._history:
            old_store, old_key = self._s.done.popleft()
            old_store.pop(old_key, None)

    def _confirm_offset(self, offset: int) -> None:
        if offset > 0:
            for update in [u for u in self._s.pending if u.update_id < offset]:
                self._settle(update, "confirmed")
        elif offset < 0:
            # A negative offset keeps only the last -offset updates and forgets the rest.
            for update in self._s.pending[:offset]:
                self._settle(update, "dropped")

    def _deliverable(self, limit: int) -> list[Update]:
        batch: list[Update] = []
        for update in list(self._s.pending):
            if update.kind not in self._s.allowed_updates:
                self._settle(update, "dropped")
            elif len(batch) < limit:
                batch.append(update)
        return batch

    def _drop_pending(self) -> None:
        for update in list(self._s.pending):
            self._settle(update, "dropped")

    # -- files ---------------------------------------------------------------------------------

    def _store_file(
        self,
        kind: str,
        data: bytes,
        mime_type: str,
        *,
        file_name: str | None = None,
        size: tuple[int, int] = (0, 0),
    ) -> StoredFile:
        number = next(self._s.ids)
        prefix = {"photo": "AgAC", "sticker": "CAAC"}.get(kind, "BQAC")
        extension = {"photo": ".jpg", "sticker": ".webp"}.get(kind) or (
            mimetypes.guess_extension(mime_type) or ""
        )
        stored = StoredFile(
            file_id=f"{prefix}{number}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{number}{secrets.token_urlsafe(6)}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{number}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            width=size[0],
            height=size[1],
        )
        self._s.files[stored.file_id] = stored
        return stored


# -- helpers -----------------------------------------------------------------------------------


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def snapshot(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars).

    Several times cheaper than :func:`copy.deepcopy`, which keeps a memo for shared and cyclic
    references that JSON data does not have.
    """
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snapshot(item) for item in value]
    return value


def _default_description(code: int, retry_after: int | None) -> str:
    return {
        400: "Bad Request: injected fault",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: injected fault",
        429: f"Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }.get(code, f"Error {code}")


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if it is none of these."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None
