"""The control API under ``/control``: act as Telegram users, look into chats, inject faults.

Control API: JSON in and out under ``/control``; errors are ``{"error": "..."}`` with a 4xx.

Users and chats
  POST /control/users                {id?, first_name?, last_name?, username?, language_code?,
                                      phone_number?, started?} -> {user, chat}. The private
                                      chat id is the user id. Until the user writes (or
                                      ``started`` is true) the bot gets 403 "bot can't initiate
                                      conversation with a user", as on Telegram.
  GET  /control/users                -> [user]
  POST /control/chats                {title, type?: group|supergroup, id?, username?} -> chat
  GET  /control/chats/{chat_id}      ?since=SEQ&sender=bot|user -> {chat, blocked, started,
                                      reply_keyboard, chat_actions, messages: [record]}; a
                                      record carries text, caption, html, entities,
                                      reply_markup, reply_keyboard, location, venue, contact,
                                      sticker, photo, document, edit_count, deleted, sender,
                                      seq and the exact Bot API ``message``.
                                      ``wait=SECONDS`` (at most 60) holds the answer until
                                      something changed after ``since`` (a long poll).
  GET  /control/activity             ?since=SEQ&wait=SECONDS -> {seq, chats: [{chat_id, seq,
                                      new_from_bot}]}: the chats that changed after ``since``,
                                      with how many new messages the bot sent there; ``wait``
                                      as above. The web chat watches every chat with it.

Acting as a user. Each answers {update_id, seq, chat_id, message?, callback_query_id?}; pass
``seq`` as ``since`` when reading the chat to see only what changed after the action.
  POST /control/users/{id}/send      {text} | {location: {latitude, longitude}} | {contact: {}}
                                      | {sticker: {emoji?}} | {photo: {data_base64?}}
                                      | {document: {data_base64, file_name, mime_type?}};
                                      optional caption, chat_id, reply_to_message_id
  POST /control/users/{id}/edit      {message_id, text, chat_id?} -> an edited_message update
  POST /control/users/{id}/press     {label, message_id?, kind?: inline|reply, latitude?,
                                      longitude?, chat_id?} -> a callback_query for an inline
                                      button, a message for a reply-keyboard button; 404 when no
                                      button with that label is on screen
  POST /control/users/{id}/callback  {message_id, data, chat_id?}: a forged callback query
  POST /control/users/{id}/block     -> my_chat_member, member -> kicked
  POST /control/users/{id}/unblock   -> my_chat_member, kicked -> member

Updates
  GET  /control/updates              -> {pending: [update], allowed_updates, webhook}
  POST /control/updates/{id}/wait    {timeout?: 5, settle?: 0} -> {update_id, status} where
                                      status is "confirmed" (a later getUpdates passed a higher
                                      offset, or the webhook answered 2xx) or "dropped" (the
                                      bot's allowed_updates filter it out); 408 on timeout.
                                      ``settle`` also waits until the bot made no API call
                                      for that many seconds.

Inspection
  GET  /control/callbacks            ?chat_id= -> [{id, user_id, chat_id, message_id, data,
                                      update_id, answered, answer}]
  GET  /control/files/{file_id}      -> the file's bytes
  GET  /control/commands             -> [{scope, language_code, commands}]
  GET  /control/stats                -> {calls, errors, rate_limited, faults_triggered,
                                      pending_updates}

Faults and limits
  POST   /control/faults             {method?, chat_id?, error_code?, description?,
                                      retry_after?, times?: 1 (null: until removed),
                                      latency?: seconds} -> {id}. A rule without a method
                                      never matches getUpdates, so polling keeps working.
  GET    /control/faults             DELETE /control/faults  DELETE /control/faults/{id}
  GET|PUT /control/rate_limits       {global_per_second?, per_chat_per_second?}: sliding 1 s
                                      windows over send*/edit* calls, 429 with retry_after
                                      beyond them; null switches a limit off.
  POST   /control/reset              forget all state, counters, faults and limits
  GET    /control                    -> the list of routes
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiohttp import web

from fake_telegram.botapi import INLINE_BUTTON_ACTIONS, location_dict
from fake_telegram.html import utf16_len
from fake_telegram.state import (
    Callback,
    Chat,
    Fault,
    Message,
    Telegram,
    User,
    compact,
    image_size,
    snapshot,
)
from fake_telegram.wire import ApiError

__all__ = ["ControlApi"]

# A 1x1 PNG, the photo a user sends when the test does not care about its pixels.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


class _ControlError(Exception):
    """A refused control request: ``{"error": message}`` with a 4xx status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlApi(Telegram):
    """The ``/control`` routes: users, chats and updates to drive the bot, faults to upset it."""

    # -- plumbing ------------------------------------------------------------------------------

    def _control(
        self, handler: Callable[[web.Request], Awaitable[Any]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                result = await handler(request)
            except _ControlError as error:
                return web.json_response({"error": error.message}, status=error.status)
            except ApiError as error:
                return web.json_response({"error": error.description}, status=400)
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response(result)

        return wrapped

    def _control_routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]]:
        return [
            ("GET", "/control", self._c_index),
            ("POST", "/control/reset", self._c_reset),
            ("GET", "/control/stats", self._c_stats),
            ("GET", "/control/users", self._c_list_users),
            ("POST", "/control/users", self._c_create_user),
            ("POST", "/control/chats", self._c_create_chat),
            ("GET", "/control/chats/{chat_id}", self._c_chat),
            ("GET", "/control/activity", self._c_activity),
            ("POST", "/control/users/{user_id}/send", self._c_send),
            ("POST", "/control/users/{user_id}/edit", self._c_edit),
            ("POST", "/control/users/{user_id}/press", self._c_press),
            ("POST", "/control/users/{user_id}/callback", self._c_callback),
            ("POST", "/control/users/{user_id}/block", self._c_block),
            ("POST", "/control/users/{user_id}/unblock", self._c_unblock),
            ("GET", "/control/updates", self._c_updates),
            ("POST", "/control/updates/{update_id}/wait", self._c_wait),
            ("GET", "/control/callbacks", self._c_callbacks),
            ("GET", "/control/files/{file_id}", self._c_file),
            ("GET", "/control/commands", self._c_commands),
            ("GET", "/control/faults", self._c_faults),
            ("POST", "/control/faults", self._c_add_fault),
            ("DELETE", "/control/faults", self._c_clear_faults),
            ("DELETE", "/control/faults/{fault_id}", self._c_remove_fault),
            ("GET", "/control/rate_limits", self._c_rate_limits),
            ("PUT", "/control/rate_limits", self._c_set_rate_limits),
        ]

    async def _c_index(self, _request: web.Request) -> dict[str, Any]:
        return {"routes": [f"{m} {path}" for m, path, _ in self._control_routes()]}

    async def _c_reset(self, _request: web.Request) -> dict[str, Any]:
        self.reset()
        return {"ok": True}

    async def _c_stats(self, _request: web.Request) -> dict[str, Any]:
        return self.stats()

    # -- users and chats -----------------------------------------------------------------------

    def _user(self, request: web.Request) -> User:
        user = self._s.users.get(_int(request.match_info["user_id"], "user_id"))
        if user is None:
            raise _ControlError(404, f"no user {request.match_info['user_id']}")
        return user

    def _user_chat(self, user: User, body: dict[str, Any]) -> Chat:
        chat_id = body.get("chat_id", user.id)
        chat = self._s.chats.get(_int(chat_id, "chat_id"))
        if chat is None:
            raise _ControlError(404, f"no chat {chat_id}")
        if chat.blocked:
            raise _ControlError(409, f"user {user.id} blocked the bot; unblock it first")
        return chat

    async def _c_list_users(self, _request: web.Request) -> list[dict[str, Any]]:
        return [user.api() for user in self._s.users.values()]

    async def _c_create_user(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        user_id = _int(body.get("id") or self._free_id(100_000_001, 1), "id")
        if user_id in self._s.chats or user_id <= 0:
            raise _ControlError(409, f"id {user_id} is taken or not a user id")
        user = User(
            id=user_id,
            first_name=str(body.get("first_name") or f"User {user_id}"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            phone_number=str(body.get("phone_number") or f"+7900{user_id % 10_000_000:07d}"),
        )
        chat = Chat(id=user_id, type="private", user=user, started=bool(body.get("started")))
        self._s.users[user_id] = user
        self._s.chats[user_id] = chat
        return {"user": user.api(), "chat": chat.api()}

    def _free_id(self, start: int, step: int) -> int:
        candidate = start
        while candidate in self._s.chats:
            candidate += step
        return candidate

    async def _c_create_chat(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        kind = body.get("type", "group")
        if kind not in ("group", "supergroup"):
            raise _ControlError(400, "type must be group or supergroup")
        start = -1_000_000_000_001 if kind == "supergroup" else -1001
        chat_id = _int(body.get("id") or self._free_id(start, -1), "id")
        if chat_id in self._s.chats or chat_id >= 0:
            raise _ControlError(409, f"chat id {chat_id} is taken or not a group id")
        title = str(body.get("title") or f"Group {-chat_id}")
        chat = Chat(id=chat_id, type=kind, title=title, username=body.get("username"))
        self._s.chats[chat_id] = chat
        return chat.api()

    async def _c_chat(self, request: web.Request) -> dict[str, Any]:
        chat = self._s.chats.get(_int(request.match_info["chat_id"], "chat_id"))
        if chat is None:
            raise _ControlError(404, f"no chat {request.match_info['chat_id']}")
        since = _int(request.query.get("since", "0"), "since")
        await self._until_changed(since, request, chat)
        sender = request.query.get("sender")
        messages = [
            _record(m)
            for m in chat.messages.values()
            if m.seq > since and (sender is None or m.sender == sender)
        ]
        return {
            "chat": chat.api(),
            "blocked": chat.blocked,
            "started": chat.started,
            "reply_keyboard": chat.reply_keyboard,
            "chat_actions": list(chat.actions),
            "messages": messages,
        }

    async def _c_activity(self, request: web.Request) -> dict[str, Any]:
        since = _int(request.query.get("since", "0"), "since")
        await self._until_changed(since, request)
        changed = []
        for chat in self._s.chats.values():
            fresh = [m for m in chat.messages.values() if m.seq > since]
            if fresh:
                new_from_bot = sum(
                    m.sender == "bot" and not m.deleted and not m.edit_count for m in fresh
                )
                changed.append(
                    {
                        "chat_id": chat.id,
                        "seq": max(m.seq for m in fresh),
                        "new_from_bot": new_from_bot,
                    }
                )
        return {"seq": self._s.seq, "chats": changed}

    async def _until_changed(
        self, since: int, request: web.Request, chat: Chat | None = None
    ) -> None:
        """A long poll: wait (``?wait=`` seconds) until a message changed after ``since``, in
        ``chat`` or anywhere. Messages are numbered by one counter, so reading it is enough;
        a look ten times a second keeps the Bot API's own paths free of any bookkeeping."""
        seconds = min(float(_int(request.query.get("wait", "0"), "wait") or 0), 60.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and loop.time() < deadline:
            if self._s.seq > since and (
                chat is None or any(m.seq > since for m in chat.messages.values())
            ):
                return
            await asyncio.sleep(0.1)

    # -- acting as a user ----------------------------------------------------------------------

    def _user_message(
        self,
        user: User,
        chat: Chat,
        content: dict[str, Any],
        reply_to_message_id: int | None = None,
    ) -> Message:
        data: dict[str, Any] = {
            "message_id": chat.next_message_id(),
            "from": user.api(),
            "chat": chat.api(),
            "date": int(self._clock()),
            **content,
        }
        if reply_to_message_id:
            target = chat.live(reply_to_message_id)
            if target is None:
                raise _ControlError(404, f"no message {reply_to_message_id} to reply to")
            data["reply_to_message"] = {
                k: snapshot(v) for k, v in target.data.items() if k != "reply_to_message"
            }
        html = escape(content["text"], quote=False) if "text" in content else None
        message = Message(data, "user", html, self._s.next_seq())
        self._add_message(chat, message)
        chat.started = True
        return message

    def _post_message(
        self, user: User, chat: Chat, content: dict[str, Any], reply_to: int | None = None
    ) -> dict[str, Any]:
        seq = self._s.seq
        message = self._user_message(user, chat, content, reply_to)
        update = self._enqueue("message", message.data)
        return {
            "update_id": update.update_id,
            "seq": seq,
            "chat_id": chat.id,
            "message": message.data,
        }

    async def _c_send(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request)
        body = await _json_body(request)
        chat = self._user_chat(user, body)
        content = self._user_content(user, body)
        reply_to = body.get("reply_to_message_id")
        return self._post_message(user, chat, content, _int(reply_to, "reply_to_message_id"))

    def _user_content(self, user: User, body: dict[str, Any]) -> dict[str, Any]:
        if "text" in body:
            return _user_text(str(body["text"]))
        if "location" in body:
            location = body["location"] or {}
            return {"location": _location_dict(location.get("latitude"), location.get("longitude"))}
        if "contact" in body:
            return {"contact": _contact(user, body["contact"] or {})}
        caption = {"caption": body["caption"]} if body.get("caption") else {}
        if "sticker" in body:
            return {"sticker": self._sticker((body["sticker"] or {}).get("emoji", "👍"))}
        if "photo" in body:
            data = _b64((body["photo"] or {}).get("data_base64")) or TINY_PNG
            size = image_size(data)
            if size is None:
                raise _ControlError(400, "photo data is not a PNG, JPEG, GIF or WebP image")
            stored = self._store_file("photo", data, "image/jpeg", size=size)
            return {"photo": stored.photo_sizes(), **caption}
        if "document" in body:
            document = body["document"] or {}
            data = _b64(document.get("data_base64")) or b""
            name = str(document.get("file_name") or "file.bin")
            mime = document.get("mime_type") or mimetypes.guess_type(name)[0]
            stored = self._store_file(
                "document", data, mime or "application/octet-stream", file_name=name
            )
            return {"document": stored.document(), **caption}
        raise _ControlError(
            400, "send needs one of text, location, contact, sticker, photo, document"
        )

    def _sticker(self, emoji: str) -> dict[str, Any]:
        stored = self._store_file("sticker", b"RIFF\0\0\0\0WEBP", "image/webp", size=(512, 512))
        return {
            **stored.base(),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }

    async def _c_edit(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request)
        body = await _json_body(request)
        chat = self._user_chat(user, body)
        message = chat.live(_int(body.get("message_id"), "message_id"))
        if message is None or message.data["from"]["id"] != user.id:
            raise _ControlError(404, f"user {user.id} has no message {body.get('message_id')}")
        if "text" not in message.data:
            raise _ControlError(400, "only text messages can be edited here")
        seq = self._s.seq
        content = _user_text(str(body.get("text", "")))
        message.data.pop("entities", None)
        message.data.update(content, edit_date=int(self._clock()))
        message.html = escape(content["text"], quote=False)
        message.edit_count += 1
        message.seq = self._s.next_seq()
        update = self._enqueue("edited_message", message.data)
        return {"update_id": update.update_id, "seq": seq, "chat_id": chat.id}

    async def _c_press(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request)
        body = await _json_body(request)
        chat = self._user_chat(user, body)
        label = str(body.get("label", ""))
        kind = body.get("kind")
        message_id = _int(body.get("message_id"), "message_id")
        inline = None
        if kind != "reply":
            inline = _find_inline_button(chat, label, message_id)
        reply = None
        if kind != "inline" and message_id is None:
            reply = _find_reply_button(chat, label)
        if inline is not None and reply is not None:
            # Both on screen: the newer one is what the user is looking at.
            keyboard_message = (chat.reply_keyboard or {}).get("message_id", 0)
            if keyboard_message > inline[0].message_id:
                inline = None
        if inline is not None:
            return self._press_inline(user, chat, *inline)
        if reply is not None:
            return self._press_reply(user, chat, reply, body)
        raise _ControlError(404, _not_on_screen(chat, label, message_id))

    def _press_inline(
        self, user: User, chat: Chat, message: Message, button: dict[str, Any]
    ) -> dict[str, Any]:
        if "callback_data" not in button:
            action = next((a for a in INLINE_BUTTON_ACTIONS if a in button), "none")
            raise _ControlError(
                400,
                f"button {button['text']!r} is a {action} button: pressing it sends the bot "
                "no update",
            )
        return self._callback_query(user, chat, message, str(button["callback_data"]))

    def _callback_query(
        self, user: User, chat: Chat, message: Message, data: str
    ) -> dict[str, Any]:
        seq = self._s.seq
        query_id = str(4_000_000_000_000_000_000 + next(self._s.ids))
        query = {
            "id": query_id,
            "from": user.api(),
            "message": message.data,
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        update = self._enqueue("callback_query", query)
        self._s.callbacks[query_id] = Callback(
            query_id, user.id, chat.id, message.message_id, data, update.update_id
        )
        return {
            "update_id": update.update_id,
            "seq": seq,
            "chat_id": chat.id,
            "callback_query_id": query_id,
        }

    def _press_reply(
        self, user: User, chat: Chat, button: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        if button.get("request_location"):
            if body.get("latitude") is None or body.get("longitude") is None:
                raise _ControlError(400, "this button shares a location: pass latitude, longitude")
            content = {"location": _location_dict(body["latitude"], body["longitude"])}
        elif button.get("request_contact"):
            content = {"contact": _contact(user, {})}
        elif any(k in button for k in ("request_users", "request_chat", "request_poll", "web_app")):
            raise _ControlError(400, f"button {button['text']!r} is not supported by this fake")
        else:
            content = _user_text(button["text"])
        keyboard = chat.reply_keyboard
        if keyboard is not None and keyboard["markup"].get("one_time_keyboard"):
            chat.reply_keyboard = None
        return self._post_message(user, chat, content)

    async def _c_callback(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request)
        body = await _json_body(request)
        chat = self._user_chat(user, body)
        message = chat.live(_int(body.get("message_id"), "message_id"))
        if message is None:
            raise _ControlError(404, f"no message {body.get('message_id')} in chat {chat.id}")
        return self._callback_query(user, chat, message, str(body.get("data", "")))

    async def _c_block(self, request: web.Request) -> dict[str, Any]:
        return self._set_blocked(self._user(request), blocked=True)

    async def _c_unblock(self, request: web.Request) -> dict[str, Any]:
        return self._set_blocked(self._user(request), blocked=False)

    def _set_blocked(self, user: User, *, blocked: bool) -> dict[str, Any]:
        chat = self._s.chats[user.id]
        if chat.blocked == blocked:
            raise _ControlError(409, f"user {user.id} is already {'un' * (not blocked)}blocked")
        seq = self._s.seq
        chat.blocked = blocked
        member = {"user": self._bot_user(), "status": "member"}
        kicked = {"user": self._bot_user(), "status": "kicked", "until_date": 0}
        update = self._enqueue(
            "my_chat_member",
            {
                "chat": chat.api(),
                "from": user.api(),
                "date": int(self._clock()),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )
        return {"update_id": update.update_id, "seq": seq, "chat_id": chat.id}

    # -- updates and inspection ----------------------------------------------------------------

    async def _c_updates(self, _request: web.Request) -> dict[str, Any]:
        hook = self._s.webhook
        return {
            "pending": [u.payload for u in self._s.pending],
            "allowed_updates": sorted(self._s.allowed_updates),
            "webhook": None
            if hook is None
            else {
                "url": hook.url,
                "secret_token": hook.secret_token,
                "last_error_message": hook.last_error_message,
            },
        }

    async def _c_wait(self, request: web.Request) -> dict[str, Any]:
        update_id = _int(request.match_info["update_id"], "update_id")
        update = self._s.updates.get(update_id)
        if update is None:
            raise _ControlError(404, f"no update {update_id}")
        body = await _json_body(request)
        timeout = float(body.get("timeout", 5.0))
        settle = float(body.get("settle", 0.0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while update.status == "pending":
            event = self._changed
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _ControlError(
                    408,
                    f"update {update_id} ({update.kind}) was not confirmed within {timeout} s: "
                    "is the bot polling or is its webhook set?",
                )
            await self._wait(event, remaining)
        if update.status == "confirmed" and settle > 0:
            await self._until_idle(settle, deadline)
        return {"update_id": update_id, "status": update.status}

    async def _until_idle(self, quiet: float, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            idle_for = time.monotonic() - self._last_call
            if self._inflight == 0 and idle_for >= quiet:
                return
            await asyncio.sleep(max(quiet - idle_for, 0.005))

    async def _c_callbacks(self, request: web.Request) -> list[dict[str, Any]]:
        chat_id = request.query.get("chat_id")
        return [
            q.record()
            for q in self._s.callbacks.values()
            if chat_id is None or str(q.chat_id) == chat_id
        ]

    async def _c_file(self, request: web.Request) -> web.Response:
        stored = self._s.files.get(request.match_info["file_id"])
        if stored is None:
            raise _ControlError(404, f"no file {request.match_info['file_id']}")
        return web.Response(body=stored.data, content_type=stored.mime_type or "image/jpeg")

    async def _c_commands(self, _request: web.Request) -> list[dict[str, Any]]:
        return [
            {"scope": json.loads(scope), "language_code": language, "commands": commands}
            for (scope, language), commands in self._s.commands.items()
        ]

    # -- faults and limits ---------------------------------------------------------------------

    async def _c_faults(self, _request: web.Request) -> list[dict[str, Any]]:
        return [rule.record() for rule in self._s.faults]

    async def _c_add_fault(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        if body.get("error_code") is None and not body.get("latency"):
            raise _ControlError(400, "a fault needs an error_code, a latency or both")
        rule = Fault(
            id=next(self._s.ids),
            method=body.get("method"),
            chat_id=None if body.get("chat_id") is None else str(body["chat_id"]),
            error_code=_int(body.get("error_code"), "error_code"),
            description=body.get("description"),
            retry_after=_int(body.get("retry_after"), "retry_after"),
            times=_int(body.get("times", 1), "times"),
            latency=float(body.get("latency") or 0.0),
        )
        self._s.faults.append(rule)
        return {"id": rule.id}

    async def _c_clear_faults(self, _request: web.Request) -> dict[str, Any]:
        self._s.faults.clear()
        return {"ok": True}

    async def _c_remove_fault(self, request: web.Request) -> dict[str, Any]:
        fault_id = _int(request.match_info["fault_id"], "fault_id")
        self._s.faults = [rule for rule in self._s.faults if rule.id != fault_id]
        return {"ok": True}

    async def _c_rate_limits(self, _request: web.Request) -> dict[str, Any]:
        return {
            "global_per_second": self._s.global_per_second,
            "per_chat_per_second": self._s.per_chat_per_second,
            "rate_limited": self._s.rate_limited,
        }

    async def _c_set_rate_limits(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        if "global_per_second" in body:
            self._s.global_per_second = _int(body["global_per_second"], "global_per_second")
        if "per_chat_per_second" in body:
            self._s.per_chat_per_second = _int(body["per_chat_per_second"], "per_chat_per_second")
        return await self._c_rate_limits(request)


# -- helpers -----------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise _ControlError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _ControlError(400, "the body must be a JSON object")
    return body


def _int(value: Any, name: str) -> Any:
    """An int from a control request, None staying None; a 400 answer otherwise."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ControlError(400, f"{name} must be an integer, not {value!r}") from None


def _location_dict(latitude: Any, longitude: Any) -> dict[str, Any]:
    """A Location object from a control request; the Bot API checks its range."""
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        raise _ControlError(400, "latitude and longitude must be numbers") from None
    return location_dict(lat, lon)


def _contact(user: User, given: dict[str, Any]) -> dict[str, Any]:
    if not given:
        given = {"phone_number": user.phone_number, "user_id": user.id}
        given |= {"first_name": user.first_name, "last_name": user.last_name}
    return compact(
        {
            "phone_number": str(given.get("phone_number") or user.phone_number),
            "first_name": str(given.get("first_name") or user.first_name),
            "last_name": given.get("last_name"),
            "user_id": given.get("user_id"),
        }
    )


def _user_text(text: str) -> dict[str, Any]:
    """A user's text with the bot_command entities Telegram would detect in it."""
    if not text.strip():
        raise _ControlError(400, "Telegram clients do not send empty messages")
    entities = [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in COMMAND_RE.finditer(text)
    ]
    return compact({"text": text, "entities": entities or None})


def _record(message: Message) -> dict[str, Any]:
    data = message.data
    fields = ("text", "caption", "location", "venue", "contact", "sticker", "photo", "document")
    return {
        "message_id": message.message_id,
        "chat_id": data["chat"]["id"],
        "date": data["date"],
        "sender": message.sender,
        "from_id": data["from"]["id"],
        **{name: data.get(name) for name in fields},
        "html": message.html,
        "entities": data.get("entities") or data.get("caption_entities") or [],
        "reply_markup": data.get("reply_markup"),
        "reply_keyboard": message.reply_keyboard,
        "reply_to_message_id": (data.get("reply_to_message") or {}).get("message_id"),
        "edit_count": message.edit_count,
        "deleted": message.deleted,
        "seq": message.seq,
        "message": data,
    }


def _find_inline_button(
    chat: Chat, label: str, message_id: int | None
) -> tuple[Message, dict[str, Any]] | None:
    if message_id is not None:
        candidates = [m for m in [chat.live(message_id)] if m is not None]
    else:
        candidates = [m for m in reversed(chat.messages.values()) if not m.deleted]
    for message in candidates:
        rows = (message.data.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in itertools.chain.from_iterable(rows):
            if button.get("text") == label:
                return message, button
    return None


def _find_reply_button(chat: Chat, label: str) -> dict[str, Any] | None:
    if chat.reply_keyboard is None:
        return None
    rows = chat.reply_keyboard["markup"]["keyboard"]
    return next((b for b in itertools.chain.from_iterable(rows) if b["text"] == label), None)


def _not_on_screen(chat: Chat, label: str, message_id: Any) -> str:
    visible: list[str] = []
    if chat.reply_keyboard is not None:
        rows = chat.reply_keyboard["markup"]["keyboard"]
        visible += [b["text"] for b in itertools.chain.from_iterable(rows)]
    for message in chat.messages.values():
        if not message.deleted and (message_id is None or message.message_id == message_id):
            rows = (message.data.get("reply_markup") or {}).get("inline_keyboard", [])
            visible += [b.get("text", "") for b in itertools.chain.from_iterable(rows)]
    where = f"message {message_id}" if message_id is not None else f"chat {chat.id}"
    return f"no button {label!r} on screen in {where}; visible buttons: {visible}"


def _b64(value: Any) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise _ControlError(400, "data_base64 is not valid base64") from None
