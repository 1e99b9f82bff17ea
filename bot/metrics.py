"""Prometheus metrics: what the bot counts as it works, and what it reads from the database
when scraped.

Each run of the dispatcher has a ``BotMetrics`` of its own with its own registry (made at
start-up, not at import), so that several bots in one process never share counters.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from time import perf_counter
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from storage.database import Database
from storage.deliveries import count_by_state, count_due

logger = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "BotMetrics", "MetricsMiddleware"]

# Handling an update takes milliseconds; a slow one waits on the database or on Telegram.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BotMetrics:
    """The bot's metrics in a registry of their own."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter(
            "sosedi_updates_handled",
            "Updates handled, by update type and outcome (ok, error)",
            ["type", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "sosedi_update_handling_seconds",
            "Time from an update's arrival in the dispatcher to the end of its handling",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.duplicates = Counter(
            "sosedi_webhook_duplicate_updates",
            "Updates Telegram delivered again that were not handled a second time",
            registry=registry,
        )
        self.rate_limited = Counter(
            "sosedi_telegram_rate_limited",
            "429 answers (retry_after) the sender got from Telegram",
            registry=registry,
        )
        self.deliveries = Gauge(
            "sosedi_deliveries",
            "Rows of the delivery queue by state",
            ["state"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "sosedi_delivery_queue_due",
            "Pending deliveries whose time has come",
            registry=registry,
        )
        self.database_up = Gauge(
            "sosedi_database_up",
            "1 when the last scrape could read the database",
            registry=registry,
        )
        self.leader = Gauge(
            "sosedi_worker_leader",
            "1 when this process sends the queue and runs the scheduled jobs",
            registry=registry,
        )

    async def render(self, db: Database | None, *, leader: bool) -> bytes:
        """The text exposition, with the queue read from the database now: one GROUP BY and
        one count on the queue's index. A database that cannot be read leaves those gauges
        at their last values and says so in ``sosedi_database_up``."""
        self.leader.set(1 if leader else 0)
        try:
            if db is None:
                raise RuntimeError("the bot is not running")
            async with db.read() as conn:
                by_state = await count_by_state(conn)
                due = await count_due(conn, now=self.clock())
        except Exception as error:
            logger.warning("metrics: could not read the delivery queue: %s", error)
            self.database_up.set(0)
        else:
            for state, count in by_state.items():
                self.deliveries.labels(state).set(count)
            self.queue_depth.set(due)
            self.database_up.set(1)
        return generate_latest(self.registry)


class MetricsMiddleware(BaseMiddleware):
    """Counts and times every update (an outer middleware on ``dp.update``: it sees the
    handlers' errors before the error handlers do). Does nothing in a run without metrics."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        metrics: BotMetrics | None = data.get("metrics")
        if metrics is None or not isinstance(event, Update):
            return await handler(event, data)
        outcome = "error"
        started = perf_counter()
        try:
            result = await handler(event, data)
            outcome = "ok"
            return result
        finally:
            elapsed = perf_counter() - started
            try:
                kind = event.event_type
            except LookupError:  # an update type newer than aiogram
                kind = "unknown"
            metrics.latency.labels(kind).observe(elapsed)
            metrics.updates.labels(kind, outcome).inc()
