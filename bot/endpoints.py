"""``/healthz`` for load balancers and ``/metrics`` for Prometheus, on the webhook server or,
when METRICS_PORT is set, on a small server of their own.

Both read what the running dispatcher holds (its database, its lease, its metrics) when
asked, so they can be served before start-up has finished: until then they say so.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Dispatcher
from aiohttp import web

from bot.metrics import CONTENT_TYPE_LATEST, BotMetrics

logger = logging.getLogger(__name__)

DISPATCHER = web.AppKey("dispatcher", Dispatcher)


class ListenError(Exception):
    """A server could not listen where its settings say: a setting to fix (exit status 2)."""


async def listen(runner: web.AppRunner, host: str, port: int, setting: str) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        raise ListenError(
            f"Setting {setting}: cannot listen on {host}:{port}: {error.strerror or error}"
        ) from error


# A load balancer's check should fail, not hang, while the database does.
HEALTH_TIMEOUT_S = 3.0


def add_service_routes(app: web.Application, dispatcher: Dispatcher) -> None:
    app[DISPATCHER] = dispatcher
    health = HealthCheck()
    app.router.add_get("/healthz", health.handle)
    app.router.add_get("/metrics", metrics_handler)


def _is_leader(dispatcher: Dispatcher) -> bool:
    leadership = dispatcher.workflow_data.get("leadership")
    return bool(leadership is not None and leadership.leader)


class HealthCheck:
    """200 while the database answers, 503 otherwise; the body also says whether this
    process holds the worker lease (sends the queue and runs the jobs)."""

    def __init__(self) -> None:
        self._healthy: bool | None = None

    async def handle(self, request: web.Request) -> web.Response:
        dispatcher = request.app[DISPATCHER]
        db = dispatcher.workflow_data.get("db")
        problem = None
        if db is None:
            problem = "the bot is not running"
        else:
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_S):
                    await db.ping()
            except Exception as error:
                problem = f"{type(error).__name__}: {error}"
        healthy = problem is None
        if healthy != self._healthy:  # once per change: checks come every few seconds
            if healthy:
                logger.info("health check: the database answers again")
            elif self._healthy is not None or db is not None:
                logger.warning("health check failing: %s", problem)
            self._healthy = healthy
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": healthy,
            "leader": _is_leader(dispatcher),
        }
        return web.json_response(body, status=200 if healthy else 503)


async def metrics_handler(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER]
    metrics: BotMetrics | None = dispatcher.workflow_data.get("metrics")
    if metrics is None:
        return web.Response(status=503, text="the bot is not running\n")
    body = await metrics.render(dispatcher.workflow_data.get("db"), leader=_is_leader(dispatcher))
    # The exposition's content type carries its version and charset, which aiohttp would
    # refuse in ``content_type``.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class ServiceServer:
    """``/healthz`` and ``/metrics`` on a port of their own (METRICS_HOST:METRICS_PORT)."""

    def __init__(self, dispatcher: Dispatcher, host: str, port: int) -> None:
        self.dispatcher = dispatcher
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        add_service_routes(app, self.dispatcher)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await listen(runner, self.host, self.port, "METRICS_PORT")
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        logger.info("metrics at http://%s:%d/metrics", self.host, self.port)

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port chosen, if 0 was asked for)."""
        if self._runner is None:
            raise RuntimeError("not started")
        host, port = self._runner.addresses[0][:2]
        return host, port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
