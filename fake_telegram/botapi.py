"""The Bot API: ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>``.

``/bot<token>/<method>`` speaks the Bot API wire format (query string, url-encoded form,
multipart form or JSON in; ``{"ok": ..., "result": ...}`` out, see :mod:`fake_telegram.wire`)
and ``/file/bot<token>/<file_path>`` serves stored files. Validation reproduces the Telegram
errors that catch real bot bugs: HTML that does not parse, empty or too long texts, bad inline
keyboards, edits that change nothing, unknown chats, users who blocked the bot, answers to
stale callback queries. Only ``parse_mode=HTML`` is understood.

Every call first meets the faults and rate limits set through the control API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiohttp import web

from fake_telegram.html import HtmlParseError, parse_html, strip_text
from fake_telegram.state import (
    DEFAULT_UPDATE_TYPES,
    Chat,
    Message,
    StoredFile,
    Telegram,
    Webhook,
    compact,
    image_size,
    snapshot,
)
from fake_telegram.wire import ApiError, Params, Upload, api_response, bad, read_params

__all__ = ["INLINE_BUTTON_ACTIONS", "MAX_UPLOAD_BYTES", "BotApi", "Handler", "location_dict"]

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
DELETE_WINDOW_SECONDS = 48 * 3600

INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")

Handler = Callable[[Params], Awaitable[Any]]


class BotApi(Telegram):
    """The Bot API methods acting on the in-memory Telegram, behind faults and rate limits."""

    def __init__(self, **identity: Any) -> None:
        super().__init__(**identity)
        self._methods = self._method_table()

    # -- dispatch ------------------------------------------------------------------------------

    def _method_table(self) -> dict[str, tuple[str, Handler]]:
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": self._accept,
            "close": self._accept,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendLocation": self._send_location,
            "sendVenue": self._send_venue,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._storing("setMyDescription"),
            "getMyDescription": self._my_description,
            "setMyShortDescription": self._storing("setMyShortDescription"),
            "getMyShortDescription": self._my_short_description,
            "setMyName": self._storing("setMyName"),
            "setChatMenuButton": self._storing("setChatMenuButton"),
        }
        return {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return api_response(ApiError(401, "Unauthorized"))
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            self._s.calls[request.match_info["method"]] += 1
            return api_response(ApiError(404, "Not Found"))
        name, handler = entry
        try:
            params = await read_params(request)
        except ApiError as error:
            return api_response(error)
        return api_response(await self._call(name, handler, params))

    async def _call(self, name: str, handler: Handler, params: Params) -> Any:
        """Run one Bot API method; returns its result or the ApiError it ended with."""
        self._s.calls[name] += 1
        # Long polls are idle time, not bot activity, for the "settle" wait.
        busy = name != "getUpdates"
        self._inflight += busy
        try:
            await self._apply_fault(name, params)
            self._check_rate_limit(name, params)
            result = await handler(params)
            self._record_send(name, params)
            return result
        except ApiError as error:
            self._s.errors[name] += 1
            return error
        except Exception as error:
            # A bug of this fake must not look like a flaky Telegram to the bot: log it loudly.
            log.exception("fake Telegram failed on %s", name)
            self._s.errors[name] += 1
            return ApiError(500, f"Internal Server Error: fake server bug: {error!r}")
        finally:
            self._inflight -= busy
            self._last_call = time.monotonic()

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return api_response(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        stored = next((f for f in self._s.files.values() if f.file_path == path), None)
        if stored is None:
            return api_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type or "image/jpeg")

    # -- faults and rate limits ----------------------------------------------------------------

    async def _apply_fault(self, name: str, params: Params) -> None:
        rule = next((r for r in self._s.faults if r.matches(name, params)), None)
        if rule is None:
            return
        rule.hits += 1
        self._s.faults_triggered += 1
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                self._s.faults.remove(rule)
        if rule.latency > 0:
            await asyncio.sleep(rule.latency)
        error = rule.error()
        if error is not None:
            raise error

    def _windows(self, name: str, params: Params) -> list[tuple[deque[float], int]]:
        if not _is_rate_limited(name):
            return []
        windows = []
        if self._s.global_per_second:
            windows.append((self._s.global_window, self._s.global_per_second))
        chat_id = params.raw("chat_id")
        if self._s.per_chat_per_second and chat_id is not None:
            window = self._s.chat_windows.setdefault(str(chat_id), deque())
            windows.append((window, self._s.per_chat_per_second))
        return windows

    def _check_rate_limit(self, name: str, params: Params) -> None:
        now = self._clock()
        for window, limit in self._windows(name, params):
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self._s.rate_limited += 1
                retry_after = max(1, math.ceil(window[0] + 1.0 - now))
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _record_send(self, name: str, params: Params) -> None:
        now = self._clock()
        for window, _limit in self._windows(name, params):
            window.append(now)

    # -- identity, polling, webhooks -----------------------------------------------------------

    async def _get_me(self, _p: Params) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _accept(self, _p: Params) -> bool:
        return True

    def _ensure_no_webhook(self) -> None:
        if self._s.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )

    def _set_allowed_updates(self, p: Params) -> None:
        allowed = p.json("allowed_updates")
        if allowed is None:
            return  # Telegram keeps the previous setting
        if not isinstance(allowed, list):
            raise bad("can't parse allowed_updates JSON object")
        self._s.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES

    async def _get_updates(self, p: Params) -> list[dict[str, Any]]:
        self._ensure_no_webhook()
        offset = p.int("offset") or 0
        limit = min(max(p.int("limit") or 100, 1), 100)
        timeout = max(p.float("timeout") or 0.0, 0.0)
        self._set_allowed_updates(p)
        self._confirm_offset(offset)
        me = object()
        self._poller = me
        self._notify()  # an older long poll of another instance ends with a conflict
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            event = self._changed
            if self._poller is not me:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            self._ensure_no_webhook()
            batch = self._deliverable(limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or remaining <= 0 or self._closing:
                return [update.payload for update in batch]
            await self._wait(event, remaining)

    async def _set_webhook(self, p: Params) -> bool:
        url = p.text("url") or ""
        if not url:
            return await self._delete_webhook(p)
        if not re.match(r"^https?://[^/\s]+", url):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.text("secret_token")
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        self._set_allowed_updates(p)
        if p.bool("drop_pending_updates"):
            self._drop_pending()
        self._s.webhook = Webhook(url, secret, p.int("max_connections") or 40)
        self._poller = None
        self._notify()
        self._start_webhook_worker()
        return True

    async def _delete_webhook(self, p: Params) -> bool:
        if p.bool("drop_pending_updates"):
            self._drop_pending()
        self._s.webhook = None
        self._notify()
        return True

    async def _get_webhook_info(self, _p: Params) -> dict[str, Any]:
        hook = self._s.webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._s.pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["allowed_updates"] = sorted(self._s.allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _start_webhook_worker(self) -> None:
        """Start delivering updates to the webhook just set (see :class:`FakeTelegram`)."""
        raise NotImplementedError

    # -- sending -------------------------------------------------------------------------------

    def _find_chat(self, raw: Any) -> Chat | None:
        if isinstance(raw, str) and raw.startswith("@"):
            name = raw[1:].lower()
            return next(
                (c for c in self._s.chats.values() if (c.username or "").lower() == name), None
            )
        try:
            return self._s.chats.get(int(raw))
        except (TypeError, ValueError):
            return None

    def _chat(self, p: Params) -> Chat:
        raw = p.raw("chat_id")
        if raw is None:
            raise bad("chat_id is empty")
        chat = self._find_chat(raw)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _writable_chat(self, p: Params) -> Chat:
        chat = self._chat(p)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _formatted(
        self,
        p: Params,
        field_name: str,
        entities_name: str,
        *,
        limit: int,
        too_long: str,
        empty: str | None = None,
    ) -> tuple[str | None, list[dict[str, Any]], str | None]:
        """Text or caption after parse_mode / entities: (plain text, entities, html)."""
        raw = p.text(field_name)
        if raw is None:
            if empty:
                raise bad(empty)
            return None, [], None
        explicit = p.json(entities_name)
        parse_mode = (p.text("parse_mode") or "").strip()
        html: str | None = None
        if explicit is not None:
            text, entities = raw, _check_entities(explicit, entities_name)
        elif parse_mode.lower() == "html":
            try:
                text, entities = parse_html(raw)
            except HtmlParseError as error:
                raise bad(f"can't parse entities: {error}") from None
            html = raw
        elif parse_mode:
            raise bad(f"unsupported parse_mode {parse_mode!r}: this fake server knows only HTML")
        else:
            text, entities = raw, []
        text, entities = strip_text(text, entities)
        if not text:
            if empty:
                raise bad(empty)
            return None, [], None
        if len(text) > limit:
            raise bad(too_long)
        return text, entities, html if html is not None else _unparse(text, entities)

    def _caption(self, p: Params) -> tuple[dict[str, Any], str | None]:
        caption, entities, html = self._formatted(
            p,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            too_long="message caption is too long",
        )
        content: dict[str, Any] = {}
        if caption is not None:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content, html

    def _reply_markup(self, p: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = p.json("reply_markup", what="reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            _check_inline_keyboard(markup["inline_keyboard"])
            return markup
        if inline_only:
            raise bad("inline keyboard expected")
        if "keyboard" in markup:
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and len(str(placeholder)) > MAX_PLACEHOLDER_CHARS:
                raise bad("can't parse reply keyboard markup JSON object")
            return {**markup, "keyboard": _check_reply_keyboard(markup["keyboard"])}
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, p: Params, chat: Chat) -> dict[str, Any] | None:
        parameters = p.json("reply_parameters") or {}
        if not isinstance(parameters, dict):
            raise bad("can't parse reply parameters JSON object")
        message_id = parameters.get("message_id") or p.int("reply_to_message_id")
        if not message_id:
            return None
        target = chat.live(int(message_id))
        if target is None:
            allowed = parameters.get("allow_sending_without_reply") or p.bool(
                "allow_sending_without_reply"
            )
            if allowed:
                return None
            raise bad("message to be replied not found")
        return {k: snapshot(v) for k, v in target.data.items() if k != "reply_to_message"}

    def _send(
        self, p: Params, chat: Chat, content: dict[str, Any], html: str | None
    ) -> dict[str, Any]:
        markup = self._reply_markup(p)
        reply_to = self._reply_to(p, chat)
        data: dict[str, Any] = {
            "message_id": chat.next_message_id(),
            "from": self._bot_user(),
            "chat": chat.api(),
            "date": int(self._clock()),
            **content,
        }
        if reply_to is not None:
            data["reply_to_message"] = reply_to
        link_preview = p.json("link_preview_options")
        if isinstance(link_preview, dict) and "text" in content:
            data["link_preview_options"] = link_preview
        if p.bool("protect_content"):
            data["has_protected_content"] = True
        keyboard = None
        if markup is not None and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        else:
            keyboard = markup
        message = Message(data, "bot", html, self._s.next_seq(), reply_keyboard=keyboard)
        self._add_message(chat, message)
        if keyboard is not None and "keyboard" in keyboard:
            chat.reply_keyboard = {"markup": keyboard, "message_id": message.message_id}
        elif keyboard is not None and keyboard.get("remove_keyboard"):
            chat.reply_keyboard = None
        return data

    async def _send_message(self, p: Params) -> dict[str, Any]:
        chat = self._writable_chat(p)
        text, entities, html = self._formatted(
            p,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="message is too long",
            empty="message text is empty",
        )
        return self._send(p, chat, compact({"text": text, "entities": entities or None}), html)

    async def _send_location(self, p: Params) -> dict[str, Any]:
        chat = self._writable_chat(p)
        return self._send(p, chat, {"location": _location(p)}, None)

    async def _send_venue(self, p: Params) -> dict[str, Any]:
        chat = self._writable_chat(p)
        location = _location(p)
        venue = {
            "location": location,
            "title": p.text("title", required=True),
            "address": p.text("address", required=True),
        }
        for extra in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if p.text(extra) is not None:
                venue[extra] = p.text(extra)
        return self._send(p, chat, {"venue": venue, "location": location}, None)

    async def _send_photo(self, p: Params) -> dict[str, Any]:
        chat = self._writable_chat(p)
        stored = self._input_file(p, "photo", "photo")
        caption, html = self._caption(p)
        content = {"photo": stored.photo_sizes(), **caption}
        if p.bool("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(p, chat, content, html)

    async def _send_document(self, p: Params) -> dict[str, Any]:
        chat = self._writable_chat(p)
        stored = self._input_file(p, "document", "document")
        caption, html = self._caption(p)
        return self._send(p, chat, {"document": stored.document(), **caption}, html)

    async def _send_chat_action(self, p: Params) -> bool:
        chat = self._writable_chat(p)
        action = p.text("action", required=True)
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        chat.actions.append({"action": action, "date": int(self._clock())})
        return True

    # -- files ---------------------------------------------------------------------------------

    def _input_file(self, p: Params, name: str, kind: str) -> StoredFile:
        value = p.file(name)
        if value is None:
            raise bad(f"there is no {name} in the request")
        if isinstance(value, Upload):
            return self._store_upload(value, kind)
        stored = self._s.files.get(value)
        if stored is None:
            # Telegram would fetch an HTTP URL; this server is offline, so it cannot.
            raise bad("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad("type of file mismatch")
        return stored

    def _store_upload(self, upload: Upload, kind: str) -> StoredFile:
        if not upload.data:
            raise bad("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        mime_type = mimetypes.guess_type(upload.filename)[0]
        if mime_type is None and upload.content_type not in (None, "application/octet-stream"):
            mime_type = upload.content_type
        if kind == "photo":
            size = image_size(upload.data)
            if size is None:
                raise bad("IMAGE_PROCESS_FAILED")
            return self._store_file("photo", upload.data, "image/jpeg", size=size)
        return self._store_file(
            kind,
            upload.data,
            mime_type or "application/octet-stream",
            file_name=upload.filename,
        )

    async def _get_file(self, p: Params) -> dict[str, Any]:
        stored = self._s.files.get(p.text("file_id", required=True) or "")
        if stored is None:
            raise bad("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad("file is too big")
        return {**stored.base(), "file_path": stored.file_path}

    # -- editing and deleting ------------------------------------------------------------------

    def _message_to_edit(self, p: Params) -> Message:
        if p.raw("chat_id") is None and p.raw("inline_message_id") is not None:
            raise bad("message to edit not found")  # inline mode is not faked
        chat = self._chat(p)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        message = chat.live(p.int("message_id", required=True) or 0)
        if message is None:
            raise bad("message to edit not found")
        if message.sender != "bot":
            raise bad("message can't be edited")
        return message

    def _apply_edit(
        self,
        message: Message,
        content: dict[str, Any],
        html: str | None,
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        data = message.data
        keys = ("text", "entities", "caption", "caption_entities")
        before = ({k: data.get(k) for k in keys}, data.get("reply_markup"))
        after_content = {k: content.get(k, data.get(k)) for k in keys}
        if not _text_changed(before[0], after_content) and _same(before, (after_content, markup)):
            raise bad(NOT_MODIFIED)
        for key, value in after_content.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        if markup is None:
            data.pop("reply_markup", None)
        else:
            data["reply_markup"] = markup
        data["edit_date"] = int(self._clock())
        if html is not None:
            message.html = html
        message.edit_count += 1
        message.seq = self._s.next_seq()
        return data

    async def _edit_message_text(self, p: Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        if "text" not in message.data:
            raise bad("there is no text in the message to edit")
        text, entities, html = self._formatted(
            p,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="MESSAGE_TOO_LONG",
            empty="message text is empty",
        )
        markup = self._reply_markup(p, inline_only=True)
        return self._apply_edit(message, {"text": text, "entities": entities or None}, html, markup)

    async def _edit_message_caption(self, p: Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        if "text" in message.data:
            raise bad("there is no caption in the message to edit")
        caption, html = self._caption(p)
        content = {"caption": caption.get("caption"), "caption_entities": None, **caption}
        markup = self._reply_markup(p, inline_only=True)
        return self._apply_edit(message, content, html, markup)

    async def _edit_message_reply_markup(self, p: Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        markup = self._reply_markup(p, inline_only=True)
        return self._apply_edit(message, {}, None, markup)

    async def _delete_message(self, p: Params) -> bool:
        chat = self._chat(p)
        message = chat.live(p.int("message_id", required=True) or 0)
        if message is None:
            raise bad("message to delete not found")
        if self._clock() - message.data["date"] > DELETE_WINDOW_SECONDS:
            raise bad("message can't be deleted for everyone")
        message.deleted = True
        message.seq = self._s.next_seq()
        return True

    # -- callback queries, commands, chats -----------------------------------------------------

    async def _answer_callback_query(self, p: Params) -> bool:
        query = self._s.callbacks.get(p.text("callback_query_id", required=True) or "")
        if query is None or query.answered:
            raise bad(QUERY_TOO_OLD)
        text = p.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad("MESSAGE_TOO_LONG")
        query.answered = True
        self._done(self._s.callbacks, query.id)
        query.answer = {
            "text": text,
            "show_alert": p.bool("show_alert"),
            "url": p.text("url"),
            "cache_time": p.int("cache_time") or 0,
        }
        return True

    def _command_key(self, p: Params) -> tuple[str, str]:
        scope = p.json("scope", what="BotCommandScope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise bad("can't parse BotCommandScope JSON object")
        if "chat_id" in scope and self._find_chat(scope["chat_id"]) is None:
            raise bad("chat not found")
        return json.dumps(scope, sort_keys=True), p.text("language_code") or ""

    async def _set_my_commands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list):
            raise bad("commands is empty" if commands is None else "can't parse commands")
        for command in commands:
            if not isinstance(command, dict) or not BOT_COMMAND_RE.fullmatch(
                str(command.get("command", "")).removeprefix("/")
            ):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._command_key(p)
        stored = [
            {"command": str(c["command"]).removeprefix("/"), "description": c["description"]}
            for c in commands
        ]
        if stored:
            self._s.commands[key] = stored
        else:
            self._s.commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: Params) -> list[dict[str, str]]:
        return self._s.commands.get(self._command_key(p), [])

    async def _delete_my_commands(self, p: Params) -> bool:
        self._s.commands.pop(self._command_key(p), None)
        return True

    def _storing(self, method: str) -> Handler:
        """setMyDescription and friends: nothing to check, but worth reading back."""

        async def store(p: Params) -> bool:
            self._s.settings.setdefault(method, {})[p.text("language_code") or ""] = dict(p.values)
            return True

        return store

    def _setting(self, method: str, p: Params, key: str) -> dict[str, str]:
        stored = self._s.settings.get(method, {}).get(p.text("language_code") or "", {})
        return {key: str(stored.get(key, ""))}

    async def _my_description(self, p: Params) -> dict[str, str]:
        return self._setting("setMyDescription", p, "description")

    async def _my_short_description(self, p: Params) -> dict[str, str]:
        return self._setting("setMyShortDescription", p, "short_description")

    async def _get_chat(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **chat.api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
        }


# -- helpers -----------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _text_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the text or caption differs, a sure sign that the edit modifies the message.

    Lets the usual edit skip :func:`_same`, whose two JSON encodings of a long text and its
    keyboard cost more than the rest of the edit. Strings and None encode alike exactly when
    they are equal, so the answer is the same as :func:`_same` would give.
    """
    for key in ("text", "caption"):
        old, new = before.get(key), after.get(key)
        if isinstance(old, str | None) and isinstance(new, str | None) and old != new:
            return True
    return False


def _is_rate_limited(method: str) -> bool:
    return method.startswith(("send", "edit")) and method != "sendChatAction"


def _unparse(text: str, entities: list[dict[str, Any]]) -> str:
    if not entities:
        return escape(text, quote=False)
    # Imported late: aiogram's types take seconds to import, the CLI should start at once.
    from aiogram.types import MessageEntity
    from aiogram.utils.text_decorations import html_decoration

    try:
        return html_decoration.unparse(text, [MessageEntity(**e) for e in entities])
    except (TypeError, ValueError):
        return escape(text, quote=False)


def _check_entities(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in value
    ):
        raise bad(f"can't parse {name} JSON object")
    return value


MAX_INLINE_BUTTONS = 100
MAX_BUTTONS_IN_ROW = 8
MAX_PLACEHOLDER_CHARS = 64


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
    buttons = list(itertools.chain.from_iterable(rows))
    # Telegram's limits: at most 8 buttons in a row and 100 in a keyboard.
    if len(buttons) > MAX_INLINE_BUTTONS or any(len(row) > MAX_BUTTONS_IN_ROW for row in rows):
        raise bad("reply markup is too long")
    for button in buttons:
        _check_inline_button(button)


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad(prefix + 'Can\'t find field "text"')
    actions = [action for action in INLINE_BUTTON_ACTIONS if action in button]
    if not str(button["text"]).strip():
        raise bad("text buttons are unallowed in the inline keyboard")
    if not actions:
        raise bad(prefix + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad(prefix + "InlineKeyboardButton must have exactly one optional field")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise bad("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
        raise bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _check_reply_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad("can't parse reply keyboard markup JSON object")
    result = []
    for row in rows:
        buttons = [b if isinstance(b, dict) else {"text": str(b)} for b in row]
        if any(not str(b.get("text", "")).strip() for b in buttons):
            raise bad("can't parse keyboard button: Text must be non-empty")
        result.append(buttons)
    return result


def _location(p: Params) -> dict[str, Any]:
    latitude = p.float("latitude", required=True)
    longitude = p.float("longitude", required=True)
    location = location_dict(latitude, longitude)
    accuracy = p.float("horizontal_accuracy")
    if accuracy is not None:
        location["horizontal_accuracy"] = accuracy
    return location


def location_dict(latitude: float, longitude: float) -> dict[str, Any]:
    """A Location object; a point off the globe is refused as Telegram does."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad("wrong latitude or longitude specified")
    return {"latitude": latitude, "longitude": longitude}
