"""An async client for the fake server's control API, so that tests read like a user's story.

    async with FakeTelegramClient(tg.base_url) as tg_ctl:
        anna = await tg_ctl.new_user(first_name="Anna", language_code="ru")
        [welcome] = await anna.send("/start")
        assert welcome.buttons == [["Accept"]]
        [edited] = await anna.press("Accept")

Acting methods wait until the bot confirmed the update (polling moved its offset past it, or
the webhook answered 2xx) and return the bot's messages in that chat that were created or
edited since the action. With aiogram's polling that means "handled" only with
``handle_as_tasks=False``; otherwise pass ``settle`` to also wait for the bot to go quiet.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp

__all__ = ["ChatMessage", "FakeTelegramClient", "FakeTelegramError", "FakeUser", "UpdateDropped"]


class FakeTelegramError(RuntimeError):
    """The control API refused an action, or a wait timed out."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class UpdateDropped(FakeTelegramError):
    """The bot never receives the update: its allowed_updates leave that type out."""


@dataclass
class ChatMessage:
    """One message of a chat as the fake server stores it, with shortcuts for assertions."""

    message_id: int
    chat_id: int
    sender: str
    text: str | None
    caption: str | None
    html: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    reply_keyboard_markup: dict[str, Any] | None
    location: dict[str, Any] | None
    venue: dict[str, Any] | None
    contact: dict[str, Any] | None
    sticker: dict[str, Any] | None
    photo: list[dict[str, Any]] | None
    document: dict[str, Any] | None
    reply_to_message_id: int | None
    edit_count: int
    deleted: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ChatMessage:
        return cls(
            message_id=record["message_id"],
            chat_id=record["chat_id"],
            sender=record["sender"],
            text=record["text"],
            caption=record["caption"],
            html=record["html"],
            entities=record["entities"],
            reply_markup=record["reply_markup"],
            reply_keyboard_markup=record["reply_keyboard"],
            location=record["location"],
            venue=record["venue"],
            contact=record["contact"],
            sticker=record["sticker"],
            photo=record["photo"],
            document=record["document"],
            reply_to_message_id=record["reply_to_message_id"],
            edit_count=record["edit_count"],
            deleted=record["deleted"],
            raw=record["message"],
        )

    @property
    def from_bot(self) -> bool:
        return self.sender == "bot"

    @property
    def inline_buttons(self) -> list[list[dict[str, Any]]]:
        return (self.reply_markup or {}).get("inline_keyboard", [])

    @property
    def buttons(self) -> list[list[str]]:
        """Labels of the inline keyboard, row by row."""
        return [[button["text"] for button in row] for row in self.inline_buttons]

    @property
    def callback_data(self) -> dict[str, str]:
        """Label -> callback_data of the inline buttons that have one."""
        return {
            button["text"]: button["callback_data"]
            for row in self.inline_buttons
            for button in row
            if "callback_data" in button
        }

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard this message brought, if it brought one."""
        markup = self.reply_keyboard_markup or {}
        if "keyboard" not in markup:
            return None
        return [[button["text"] for button in row] for row in markup["keyboard"]]

    @property
    def removes_keyboard(self) -> bool:
        return bool((self.reply_keyboard_markup or {}).get("remove_keyboard"))


class FakeTelegramClient:
    """Control API client. Owns an aiohttp session; use it as an async context manager."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, settle: float = 0.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.settle = settle
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, raw: bool = False
    ) -> Any:
        """Call a control route and decode its JSON (``raw``: return the bytes as they are).

        Raises FakeTelegramError on a 4xx/5xx answer.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, self.base_url + path, json=body) as response:
            if response.status >= 400:
                text = await response.text()
                if response.content_type == "application/json":
                    text = (await response.json()).get("error", text)
                raise FakeTelegramError(response.status, text)
            return await response.read() if raw else await response.json()

    # -- users and chats -----------------------------------------------------------------------

    async def new_user(
        self,
        first_name: str = "Test",
        *,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        phone_number: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        body = {
            "id": id,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "phone_number": phone_number,
            "started": started,
        }
        created = await self.request("POST", "/control/users", body)
        return FakeUser(self, created["user"])

    async def new_group(
        self,
        title: str,
        *,
        id: int | None = None,
        supergroup: bool = False,
    ) -> dict[str, Any]:
        body = {"title": title, "id": id, "type": "supergroup" if supergroup else "group"}
        return await self.request("POST", "/control/chats", body)

    async def chat(self, chat_id: int, *, since: int = 0, sender: str | None = None) -> Any:
        query = f"?since={since}" + (f"&sender={sender}" if sender else "")
        return await self.request("GET", f"/control/chats/{chat_id}{query}")

    async def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        view = await self.chat(chat_id)
        messages = [ChatMessage.from_record(r) for r in view["messages"]]
        return [m for m in messages if include_deleted or not m.deleted]

    async def bot_messages_since(self, chat_id: int, seq: int) -> list[ChatMessage]:
        """Bot messages of the chat created or edited after ``seq``, deleted ones left out."""
        view = await self.chat(chat_id, since=seq, sender="bot")
        messages = [ChatMessage.from_record(r) for r in view["messages"]]
        return sorted((m for m in messages if not m.deleted), key=lambda m: m.message_id)

    # -- updates -------------------------------------------------------------------------------

    async def wait_confirmed(
        self,
        update_id: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the server enforces it
        settle: float | None = None,
    ) -> str:
        """Wait until the bot confirmed the update; returns "confirmed" or "dropped"."""
        body = {
            "timeout": self.timeout if timeout is None else timeout,
            "settle": self.settle if settle is None else settle,
        }
        result = await self.request("POST", f"/control/updates/{update_id}/wait", body)
        return str(result["status"])

    async def pending_updates(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/control/updates"))["pending"]

    # -- inspection ----------------------------------------------------------------------------

    async def file_bytes(self, file_id: str) -> bytes:
        return bytes(await self.request("GET", f"/control/files/{file_id}", raw=True))

    async def callbacks(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        query = "" if chat_id is None else f"?chat_id={chat_id}"
        return await self.request("GET", f"/control/callbacks{query}")

    async def unanswered_callbacks(self) -> list[dict[str, Any]]:
        return [query for query in await self.callbacks() if not query["answered"]]

    async def commands(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/control/commands")

    async def stats(self) -> dict[str, Any]:
        return await self.request("GET", "/control/stats")

    async def reset(self) -> None:
        await self.request("POST", "/control/reset")

    # -- faults and limits ---------------------------------------------------------------------

    async def add_fault(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        latency: float = 0.0,
    ) -> int:
        """Make matching calls fail (and/or slow); ``times=None`` keeps the rule until removed."""
        body = {
            "method": method,
            "chat_id": chat_id,
            "error_code": error_code,
            "description": description,
            "retry_after": retry_after,
            "times": times,
            "latency": latency,
        }
        return int((await self.request("POST", "/control/faults", body))["id"])

    async def remove_fault(self, fault_id: int) -> None:
        await self.request("DELETE", f"/control/faults/{fault_id}")

    async def clear_faults(self) -> None:
        await self.request("DELETE", "/control/faults")

    async def set_rate_limits(
        self, *, global_per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> dict[str, Any]:
        body = {"global_per_second": global_per_second, "per_chat_per_second": per_chat_per_second}
        return await self.request("PUT", "/control/rate_limits", body)


class FakeUser:
    """A Telegram user driven by a test. Actions return the bot's reaction (see module doc)."""

    def __init__(self, client: FakeTelegramClient, info: dict[str, Any]) -> None:
        self.client = client
        self.info = info
        self.id: int = info["id"]
        self.last_action: dict[str, Any] = {}

    @property
    def chat_id(self) -> int:
        return self.id

    async def _act(
        self, action: str, body: dict[str, Any], *, wait: bool, may_drop: bool = False
    ) -> list[ChatMessage] | int:
        self.last_action = await self.client.request(
            "POST", f"/control/users/{self.id}/{action}", body
        )
        update_id = int(self.last_action["update_id"])
        if not wait:
            return update_id
        status = await self.client.wait_confirmed(update_id)
        if status == "dropped" and not may_drop:
            raise UpdateDropped(
                409, f"update {update_id} ({action}) was dropped: the bot's allowed_updates skip it"
            )
        chat_id = int(self.last_action["chat_id"])
        return await self.client.bot_messages_since(chat_id, int(self.last_action["seq"]))

    async def send(
        self,
        text: str,
        *,
        wait: bool = True,
        reply_to: int | None = None,
        chat_id: int | None = None,
    ) -> Any:
        body = {"text": text, "reply_to_message_id": reply_to, "chat_id": chat_id or self.id}
        return await self._act("send", body, wait=wait)

    async def send_location(self, latitude: float, longitude: float, *, wait: bool = True) -> Any:
        body = {"location": {"latitude": latitude, "longitude": longitude}}
        return await self._act("send", body, wait=wait)

    async def send_contact(
        self,
        phone_number: str | None = None,
        *,
        first_name: str | None = None,
        wait: bool = True,
    ) -> Any:
        """Share a contact; without arguments the user's own one."""
        contact = {"phone_number": phone_number, "first_name": first_name} if phone_number else {}
        return await self._act("send", {"contact": contact}, wait=wait)

    async def send_sticker(self, emoji: str = "👍", *, wait: bool = True) -> Any:
        return await self._act("send", {"sticker": {"emoji": emoji}}, wait=wait)

    async def send_photo(
        self, data: bytes | None = None, *, caption: str | None = None, wait: bool = True
    ) -> Any:
        photo = {"data_base64": base64.b64encode(data).decode() if data else None}
        return await self._act("send", {"photo": photo, "caption": caption}, wait=wait)

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        wait: bool = True,
    ) -> Any:
        document = {
            "data_base64": base64.b64encode(data).decode(),
            "file_name": file_name,
            "mime_type": mime_type,
        }
        return await self._act("send", {"document": document, "caption": caption}, wait=wait)

    async def edit(self, message_id: int, text: str, *, wait: bool = True) -> Any:
        return await self._act("edit", {"message_id": message_id, "text": text}, wait=wait)

    async def press(
        self,
        label: str,
        *,
        message_id: int | None = None,
        kind: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        wait: bool = True,
    ) -> Any:
        """Press the button with this label: inline (newest message first) or reply keyboard."""
        body = {
            "label": label,
            "message_id": message_id,
            "kind": kind,
            "latitude": latitude,
            "longitude": longitude,
        }
        return await self._act("press", {k: v for k, v in body.items() if v is not None}, wait=wait)

    async def callback(self, message_id: int, data: str, *, wait: bool = True) -> Any:
        """A forged callback query: any data, as a modified client could send it."""
        return await self._act("callback", {"message_id": message_id, "data": data}, wait=wait)

    async def block(self, *, wait: bool = True) -> Any:
        return await self._act("block", {}, wait=wait, may_drop=True)

    async def unblock(self, *, wait: bool = True) -> Any:
        return await self._act("unblock", {}, wait=wait, may_drop=True)

    async def messages(self, *, include_deleted: bool = False) -> list[ChatMessage]:
        return await self.client.messages(self.id, include_deleted=include_deleted)

    async def last_bot_message(self) -> ChatMessage | None:
        return next((m for m in reversed(await self.messages()) if m.from_bot), None)

    async def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard currently shown in the private chat."""
        current = (await self.client.chat(self.id))["reply_keyboard"]
        if current is None:
            return None
        return [[button["text"] for button in row] for row in current["markup"]["keyboard"]]
