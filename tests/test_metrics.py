"""Prometheus metrics: scraped from a running bot after real updates and a 429."""

import asyncio

import aiohttp
import pytest
from aiogram.types import Update
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import BotMetrics, MetricsMiddleware
from storage.deliveries import enqueue
from tests.helpers import consenting_user, eventually, sender_idle
from tests.webhook_helpers import hook_env as hook_env  # the fixture
from tests.webhook_helpers import start_update


async def scrape(url: str) -> tuple[int, dict[tuple[str, tuple], float], str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        text = await response.text()
        content_type = response.headers["Content-Type"]
        status = response.status
    samples = {}
    if status == 200:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return status, samples, content_type


def value(samples, name, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def service_url(env, path: str) -> str:
    host, port = env.dispatcher["service_server"].address
    return f"http://{host}:{port}{path}"


@pytest.mark.settings(metrics_port=0)
async def test_metrics_after_updates_and_a_429_in_polling_mode(bot_env):
    env = bot_env
    user = await consenting_user(env)  # /start (message), then the consent button (callback)
    await user.send("/help")

    # A push that Telegram first refuses with 429: the sender waits and sends it again.
    await env.tg.add_fault(method="sendMessage", chat_id=user.id, error_code=429, retry_after=1)
    async with env.db.write() as conn:
        await enqueue(conn, user_id=user.id, kind="test", text="Привет", now=env.clock())
    env.dispatcher["sender"].notify()
    await sender_idle(env)
    assert (await user.last_bot_message()).text == "Привет"
    # Something waiting that is due (the sender held back), and something that is not yet.
    env.dispatcher["sender"].limiter.pause(0, 10**9)
    async with env.db.write() as conn:
        await enqueue(conn, user_id=user.id, kind="test", text="a", now=env.clock())
        await enqueue(
            conn,
            user_id=user.id,
            kind="test",
            text="b",
            now=env.clock(),
            not_before=env.clock().replace(year=env.clock().year + 1),
        )

    status, samples, content_type = await scrape(service_url(env, "/metrics"))
    assert status == 200 and content_type.startswith("text/plain")
    messages = value(samples, "sosedi_updates_handled_total", type="message", outcome="ok")
    callbacks = value(samples, "sosedi_updates_handled_total", type="callback_query", outcome="ok")
    assert messages >= 2 and callbacks >= 1
    assert value(samples, "sosedi_update_handling_seconds_count", type="message") == messages
    total_time = value(samples, "sosedi_update_handling_seconds_sum", type="message")
    assert 0 < total_time < 10 * messages
    assert value(samples, "sosedi_telegram_rate_limited_total") == 1
    assert value(samples, "sosedi_deliveries", state="sent") == 1
    assert value(samples, "sosedi_deliveries", state="pending") == 2
    assert value(samples, "sosedi_deliveries", state="failed") == 0
    assert value(samples, "sosedi_delivery_queue_due") == 1
    assert value(samples, "sosedi_database_up") == 1
    assert value(samples, "sosedi_worker_leader") == 1

    async with aiohttp.ClientSession() as http, http.get(service_url(env, "/healthz")) as answer:
        assert answer.status == 200
        assert await answer.json() == {"status": "ok", "database": True, "leader": True}


async def test_metrics_on_the_webhook_server(hook_env):
    env = hook_env
    user = await consenting_user(env)

    async def counted(kind, at_least):
        _, samples, _ = await scrape(env.base_url + "/metrics")
        seen = value(samples, "sosedi_updates_handled_total", type=kind, outcome="ok") or 0
        return samples if seen >= at_least else None

    assert await eventually(lambda: counted("callback_query", 1))
    samples = await counted("message", 1)
    assert value(samples, "sosedi_webhook_duplicate_updates_total") == 0
    messages = value(samples, "sosedi_updates_handled_total", type="message", outcome="ok")
    # A repeat is counted as such, not handled.
    update = start_update(910_000, user.info, text="/help")
    assert await env.post_update(update) == 200
    assert await eventually(lambda: counted("message", messages + 1))
    assert await env.post_update(update) == 200
    await asyncio.sleep(0.2)
    _, samples, _ = await scrape(env.base_url + "/metrics")
    assert value(samples, "sosedi_webhook_duplicate_updates_total") == 1
    assert value(samples, "sosedi_updates_handled_total", type="message", outcome="ok") == (
        messages + 1
    )


async def test_without_metrics_port_there_is_no_metrics_server(bot_env):
    assert bot_env.dispatcher["service_server"] is None


# -- pieces ---------------------------------------------------------------------------------


async def test_the_middleware_counts_errors_and_does_nothing_without_metrics():
    from datetime import UTC, datetime

    metrics = BotMetrics(lambda: datetime.now(UTC))
    update = Update.model_validate(start_update(1, {"id": 5, "first_name": "A"}))
    middleware = MetricsMiddleware()

    async def fails(_event, _data):
        raise RuntimeError("boom")

    async def works(_event, _data):
        return "done"

    with pytest.raises(RuntimeError):
        await middleware(fails, update, {"metrics": metrics})
    assert await middleware(works, update, {"metrics": metrics}) == "done"
    assert await middleware(works, update, {}) == "done"
    counted = metrics.updates.labels("message", "error")._value.get()
    assert counted == 1 and metrics.updates.labels("message", "ok")._value.get() == 1
    # Two bots in one process: registries of their own, no clash.
    other = BotMetrics(lambda: datetime.now(UTC))
    assert other.updates.labels("message", "ok")._value.get() == 0
    body = (await metrics.render(None, leader=False)).decode()
    assert "sosedi_database_up 0.0" in body and "sosedi_worker_leader 0.0" in body
    await asyncio.sleep(0)
