"""A fake Telegram Bot API server with a control API for acting as users.

A real aiogram ``Bot`` talks HTTP to it::

    async with FakeTelegram() as tg:
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
        bot = Bot(tg.token, session=session)

Everything lives in memory (:mod:`fake_telegram.state`). The routes are documented where they
are implemented: the Bot API in :mod:`fake_telegram.botapi`, the control API in
:mod:`fake_telegram.control`, the web chat at ``/`` in :mod:`fake_telegram.webchat`. This
module assembles them into one aiohttp application, starts and stops it, and delivers
updates to a webhook when the bot sets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Self

import aiohttp
from aiohttp import web

from fake_telegram.botapi import MAX_UPLOAD_BYTES, BotApi
from fake_telegram.control import ControlApi
from fake_telegram.state import Update, Webhook
from fake_telegram.webchat import add_web_chat
from fake_telegram.wire import ApiError, Params, Upload, read_multipart

__all__ = ["ApiError", "FakeTelegram"]

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 30.0
WEBHOOK_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)


def _chat_key(update: Update) -> str:
    """What orders an update among others: its chat, else its sender, else itself."""
    body = update.payload.get(update.kind)
    if isinstance(body, dict):
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return f"chat:{chat['id']}"
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return f"user:{sender['id']}"
    return f"update:{update.update_id}"


class FakeTelegram(BotApi, ControlApi):
    """In-memory Telegram Bot API plus the control API, served over HTTP."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST",
        bot_id: int = 123456,
        bot_username: str = "sosedi_bot",
        bot_name: str = "Sosedi",
        clock: Callable[[], float] = time.time,
        history: int | None = None,
    ) -> None:
        super().__init__(
            token=token,
            bot_id=bot_id,
            bot_username=bot_username,
            bot_name=bot_name,
            clock=clock,
            history=history,
        )
        self._webhook_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.app = self._build_app()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port) and return the base URL."""
        self._closing = False
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _on_shutdown(self, _app: web.Application) -> None:
        # Long polls would otherwise hold the shutdown for their whole timeout.
        self._closing = True
        self._notify()

    async def _on_cleanup(self, _app: web.Application) -> None:
        await self._stop_webhook_worker()
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- routing -------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file_download)
        for method, path, handler in self._control_routes():
            app.router.add_route(method, path, self._control(handler))
        add_web_chat(app)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)
        return app

    # -- webhook delivery ----------------------------------------------------------------------

    def _start_webhook_worker(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_worker())

    async def _webhook_worker(self) -> None:
        """Deliver pending updates until the webhook is removed, retrying each until the bot
        answers 2xx. As Telegram does, up to the webhook's ``max_connections`` requests are
        under way at once, and a chat's updates go one at a time and in order: a chat's next
        update waits until the one before it was answered (after its retries, if any)."""
        in_flight: dict[str, asyncio.Task[None]] = {}  # by chat
        failures: dict[str, int] = {}
        retry_at: dict[str, float] = {}
        try:
            while not self._closing:
                event = self._changed
                hook = self._s.webhook
                if hook is None:
                    return
                now = time.monotonic()
                for chat in [chat for chat, at in retry_at.items() if at <= now]:
                    del retry_at[chat]
                # Only a chat's first pending update may go; its later ones wait their turn.
                seen: set[str] = set()
                for update in self._deliverable(len(self._s.pending)):
                    chat = _chat_key(update)
                    if chat in seen:
                        continue
                    seen.add(chat)
                    if chat in in_flight or chat in retry_at:
                        continue
                    if len(in_flight) >= hook.max_connections:
                        break
                    in_flight[chat] = asyncio.create_task(
                        self._deliver_one(hook, update, chat, in_flight, failures, retry_at)
                    )
                wake = min(retry_at.values(), default=None)
                await self._wait(event, None if wake is None else max(0.0, wake - now))
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def _deliver_one(
        self,
        hook: Webhook,
        update: Update,
        chat: str,
        in_flight: dict[str, asyncio.Task[None]],
        failures: dict[str, int],
        retry_at: dict[str, float],
    ) -> None:
        try:
            if await self._deliver(hook, update):
                self._settle(update, "confirmed")
                failures.pop(chat, None)
                retry_at.pop(chat, None)
            else:
                count = failures.get(chat, 0)
                delay = WEBHOOK_RETRY_DELAYS[min(count, len(WEBHOOK_RETRY_DELAYS) - 1)]
                failures[chat] = count + 1
                retry_at[chat] = time.monotonic() + delay
        finally:
            in_flight.pop(chat, None)
            self._notify()

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver(self, hook: Webhook, update: Update) -> bool:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        headers = {}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._http.post(
                hook.url,
                json=update.payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS),
            ) as response:
                if 200 <= response.status < 300:
                    await self._run_webhook_reply(response)
                    return True
                hook.last_error_message = (
                    f"Wrong response from the webhook: {response.status} {response.reason}"
                )
        except (aiohttp.ClientError, TimeoutError) as error:
            hook.last_error_message = f"Connection error: {error!r}"
        hook.last_error_date = int(self._clock())
        return False

    async def _run_webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        """Run a method the bot put into its webhook answer, as Telegram does."""
        values: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        if response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader(response.headers, response.content)
            await read_multipart(reader, values, files)
        elif response.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await response.json()
                values = body if isinstance(body, dict) else {}
        method = values.pop("method", None)
        entry = self._methods.get(str(method).lower()) if method else None
        if entry is not None:
            result = await self._call(entry[0], entry[1], Params(values, files))
            if isinstance(result, ApiError):
                log.warning("webhook reply %s failed: %s", entry[0], result.description)
