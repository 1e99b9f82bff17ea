"""Webhook mode: Telegram calls the bot with each update instead of being polled, so that any
number of instances behind a load balancer share the work.

The dispatcher starts and stops exactly as in polling (``setup_application`` runs its
start-up and shut-down hooks); this adds the server around it:

- The secret (``X-Telegram-Bot-Api-Secret-Token``) is checked on every request; a request
  without it gets 401 and is not looked at further.
- Each update is handled once. Telegram delivers an update again when it did not hear the
  answer, possibly to another instance; an update id is claimed in ``processed_updates``
  (the primary key settles a race between instances) before it is handled, with a bounded
  memory of recent ids in front so that a repeat to this instance costs no write. The claim
  comes first: an update whose handling a crash cuts short is not handled again, as with
  polling, where the offset has moved on.
- The answer goes back as soon as handling starts, and the update is handled in the
  background, at most MAX_CONCURRENT_UPDATES at a time, as polling does. A request that finds
  them all busy waits for one before the update is claimed and answered, so an instance never
  holds more than that many updates it has answered for: a killed instance takes at most
  those with it, and what waited is delivered again, to another instance. At shut-down what
  is under way finishes before the dispatcher stops.
- ``setWebhook`` at every start (it is idempotent, and every instance registers the same
  URL); nothing at shut-down, since the other instances keep running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.config import Settings
from bot.endpoints import add_service_routes, listen
from storage.updates import claim_update

logger = logging.getLogger(__name__)

RECENT_UPDATES = 10_000
# At shut-down, how long updates under way may take to finish before they are cut short.
DRAIN_TIMEOUT_S = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecentUpdates:
    """The ids of the last ``size`` updates this process took in."""

    def __init__(self, size: int = RECENT_UPDATES) -> None:
        self.size = size
        self._ids: dict[int, None] = {}  # insertion-ordered: the oldest first

    def add(self, update_id: int) -> bool:
        """Remember the id; False when it is remembered already."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            del self._ids[next(iter(self._ids))]
        return True

    def discard(self, update_id: int) -> None:
        self._ids.pop(update_id, None)

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._ids


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler for one bot, with each update handled once and a cap on how many
    are handled at a time."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        secret_token: str,
        concurrency: int,
        clock: Callable[[], datetime] = utc_now,
        **data: Any,
    ) -> None:
        super().__init__(
            dispatcher,
            bot,
            handle_in_background=True,
            secret_token=secret_token,
            clock=clock,
            **data,
        )
        self.recent = RecentUpdates()
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            logger.warning("webhook: a request with a wrong secret from %s", request.remote)
            return web.Response(status=401, text="Unauthorized")
        try:
            update = await request.json(loads=bot.session.json_loads)
        except ValueError:
            return web.Response(status=400, text="Bad Request")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="Bad Request")
        if not self.recent.add(update_id):
            return self._duplicate()
        try:
            await self._slots.acquire()
        except asyncio.CancelledError:  # the caller gave up waiting: it delivers again
            self.recent.discard(update_id)
            raise
        try:
            first = await self._claim(update_id)
        except BaseException as error:
            self._slots.release()
            # Telegram delivers it again later, here or elsewhere.
            self.recent.discard(update_id)
            if not isinstance(error, Exception):
                raise
            logger.warning("webhook: could not record update %d: %s", update_id, error)
            return web.Response(status=503, text="Service Unavailable")
        if not first:
            self._slots.release()
            return self._duplicate()
        task = asyncio.create_task(self._background_feed_update(bot=bot, update=update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({})

    __call__ = handle

    async def _claim(self, update_id: int) -> bool:
        db = self.dispatcher.workflow_data.get("db")
        if db is None:
            raise RuntimeError("the bot is not running")
        async with db.write() as conn:
            return await claim_update(conn, update_id, now=self._clock())

    def _duplicate(self) -> web.Response:
        metrics = self.dispatcher.workflow_data.get("metrics")
        if metrics is not None:
            metrics.duplicates.inc()
        return web.json_response({})  # a success: Telegram stops delivering it

    async def _background_feed_update(self, bot: Bot, update: dict[str, Any]) -> None:
        """Handle an update whose slot ``handle`` took."""
        try:
            await super()._background_feed_update(bot, update)
        except Exception:
            logger.exception("webhook: update %s failed", update.get("update_id"))
        finally:
            self._slots.release()

    async def drain(self, *_args: Any) -> None:
        """Let the updates under way finish (the dispatcher is about to stop)."""
        tasks = set(self._background_feed_update_tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("webhook: %d updates cut short at shut-down", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)


def build_webhook_app(
    dispatcher: Dispatcher, bot: Bot, settings: Settings, **data: Any
) -> web.Application:
    """The webhook server: updates at WEBHOOK_PATH, ``/healthz`` and ``/metrics``.

    ``data`` (a clock, in tests) reaches start-up and every handler, as with polling."""
    if settings.webhook_secret is None:
        raise ValueError("webhook mode needs a secret")
    data = {"settings": settings, **data}
    handler = WebhookHandler(
        dispatcher,
        bot,
        secret_token=settings.webhook_secret.get_secret_value(),
        concurrency=settings.max_concurrent_updates,
        **data,
    )
    app = web.Application()
    # Shut-down hooks run in order: updates under way finish, then the dispatcher stops
    # (setup_application), then the bot's session closes (register).
    app.on_shutdown.append(handler.drain)
    setup_application(app, dispatcher, bot=bot, **data)
    handler.register(app, path=settings.webhook_listen_path)
    add_service_routes(app, dispatcher)
    return app


async def serve_webhook(
    dispatcher: Dispatcher,
    bot: Bot,
    settings: Settings,
    *,
    stop: asyncio.Event,
    started: Callable[[tuple[str, int]], None] | None = None,
    **data: Any,
) -> None:
    """Run the bot as a webhook server until ``stop`` is set. ``started`` is told the address
    the server listens on once Telegram has been given the webhook."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    app = build_webhook_app(dispatcher, bot, settings, **data)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()  # the dispatcher's start-up
    try:
        await listen(runner, settings.webhook_host, settings.webhook_port, "WEBHOOK_PORT")
        # Only now: Telegram starts delivering as soon as it knows the URL.
        await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )
        host, port = runner.addresses[0][:2]
        logger.info("webhook server on %s:%d, path %s", host, port, settings.webhook_listen_path)
        if started is not None:
            started((host, port))
        await stop.wait()
    finally:
        await runner.cleanup()  # the dispatcher's shut-down
