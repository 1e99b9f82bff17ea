"""The playground's own routes beside the fake Bot API and its web chat: the personas, the
demo cities and the clock.

  GET  /playground        -> {bot_username, personas: [{id, name, language, role, center?}],
                              cities: [{name, latitude, longitude}], centers: [[lat, lon]],
                              clock: {now, offset_seconds}}
  POST /playground/clock  {minutes} -> {clock, ran: [job id]}: moves the clock forward by 1
                              minute to 30 days, then runs at once every scheduler job that
                              would have run in the time skipped, and tops the demo week up.

The scheduler keeps its own triggers in real time; its jobs read the playground's clock, so a
jump forward is caught up here rather than waited for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger

from bot.demo import demo_rows, load_demo_activities

if TYPE_CHECKING:
    from aiogram import Dispatcher

    from bot.playground import Persona

logger = logging.getLogger(__name__)

MAX_STEP = timedelta(days=30)
# Jobs that prepare data first, then those that push, in the order a day would run them;
# jobs not named here run after these.
JOB_ORDER = ("materialise_series", "waitlist", "reminders", "ratings", "digest", "announcements")


class PlaygroundClock:
    """Real time plus an offset that only grows: the playground's "now"."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def describe(self) -> dict[str, Any]:
        return {"now": self().isoformat(), "offset_seconds": int(self.offset.total_seconds())}


class PlaygroundWeb:
    def __init__(self, clock: PlaygroundClock, personas: Sequence[Persona]) -> None:
        self.clock = clock
        self.personas = personas
        self.centers: dict[int, str] = {}  # a coordinator's id -> the name of their center
        self._dispatcher: Dispatcher | None = None
        self._lock = asyncio.Lock()  # one jump at a time: each catches up from where it starts

    def install(self, app: web.Application) -> None:
        app.router.add_get("/playground", self._state)
        app.router.add_post("/playground/clock", self._advance)

    def attach(self, dispatcher: Dispatcher) -> None:
        """The running dispatcher, whose scheduler, sender and database a jump uses."""
        self._dispatcher = dispatcher

    async def _state(self, _request: web.Request) -> web.Response:
        rows = demo_rows()
        cities: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            cities.setdefault(row["city"], []).append((row["latitude"], row["longitude"]))
        return web.json_response(
            {
                "bot_username": "sosedi_bot",
                "personas": [
                    {**p.public(), "center": self.centers.get(p.id)} for p in self.personas
                ],
                "cities": [
                    {
                        "name": name,
                        "latitude": round(sum(lat for lat, _ in points) / len(points), 5),
                        "longitude": round(sum(lon for _, lon in points) / len(points), 5),
                    }
                    for name, points in cities.items()
                ],
                "centers": [[row["latitude"], row["longitude"]] for row in rows],
                "clock": self.clock.describe(),
            }
        )

    async def _advance(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            minutes = int(body["minutes"])
        except (ValueError, TypeError, KeyError):
            return web.json_response({"error": 'expected {"minutes": N}'}, status=400)
        step = timedelta(minutes=minutes)
        if not timedelta(minutes=1) <= step <= MAX_STEP:
            return web.json_response({"error": "minutes must be 1 to 43200"}, status=400)
        if self._dispatcher is None or "scheduler" not in self._dispatcher.workflow_data:
            return web.json_response({"error": "the bot is still starting"}, status=503)
        async with self._lock:
            before = self.clock()
            self.clock.advance(step)
            ran = await self._catch_up(self._dispatcher, before, self.clock())
        return web.json_response({"clock": self.clock.describe(), "ran": ran})

    async def _catch_up(
        self, dispatcher: Dispatcher, before: datetime, after: datetime
    ) -> list[str]:
        # The chain publishes a week ahead: the days that came into the week get their
        # activities, as a daily import would bring them.
        async with dispatcher["db"].write() as conn:
            await load_demo_activities(conn, now=after)
        jobs = dispatcher["scheduler"].get_jobs()
        jobs.sort(key=_job_rank)
        ran = []
        for job in jobs:
            if not _fires_between(job.trigger, before, after):
                continue
            try:
                await job.func(*job.args, **job.kwargs)
            except Exception:
                logger.exception("the %s job failed after the playground's clock moved", job.id)
            ran.append(job.id)
        dispatcher["sender"].notify()  # pushes held for a time that has now come
        return ran


def _job_rank(job: Any) -> int:
    return JOB_ORDER.index(job.id) if job.id in JOB_ORDER else len(JOB_ORDER)


def _fires_between(trigger: Any, before: datetime, after: datetime) -> bool:
    if isinstance(trigger, IntervalTrigger):
        # Every minute or every few: each reads what is due, so an early run is harmless.
        return True
    fire = trigger.get_next_fire_time(None, before + timedelta(microseconds=1))
    return fire is not None and fire <= after
