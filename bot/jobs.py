"""Work the bot does on a clock. The database is the source of truth: each job reads what is
due, does it, and records it, so a job missed during downtime is simply done on the next run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram.utils.i18n import I18n
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED, JobEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.sender import Sender
from handlers.announcements import queue_digests, queue_new_activities
from handlers.broadcast_report import BroadcastMonitor
from handlers.notify import queue_expired, queue_promotions
from handlers.ratings import queue_rating_requests
from handlers.reminders import queue_due_reminders
from storage.database import Database
from storage.series import materialise
from storage.signups import expire_offers, fill_free_seats, pass_on_unheard_offers
from storage.updates import forget_updates

logger = logging.getLogger(__name__)


class RunningJobs:
    """The scheduler's jobs under way, counted from its job events.

    APScheduler's shut-down cancels a coroutine job wherever it is, in the middle of a write
    transaction too; standing by first waits for those running to finish, so that none is cut
    off and none runs on here after the lease has passed to another process.
    """

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        scheduler.add_listener(
            self._seen, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )

    def _seen(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self._running += 1
            self._idle.clear()
            return
        self._running = max(0, self._running - 1)
        if self._running == 0:
            self._idle.set()

    async def finished(self, within: float) -> bool:
        """Wait until no job runs; False when some still ran after ``within`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


async def waitlist_job(
    db: Database, i18n: I18n, sender: Sender, settings: Settings, clock: Callable[[], datetime]
) -> None:
    """Pass on offers nobody answered in time or that wait on someone who blocked the bot,
    and offer seats that are free while people wait (an import may have raised a capacity
    without telling anyone). The messages are queued in the same transaction."""
    rules = settings.signup_rules()
    now = clock()
    async with db.write() as conn:
        expired, promotions = await expire_offers(conn, now=now, rules=rules)
        promotions += await pass_on_unheard_offers(conn, now=now, rules=rules)
        promotions += await fill_free_seats(conn, now=now, rules=rules)
        for signup in expired:
            await queue_expired(conn, i18n, signup, now=now)
        await queue_promotions(conn, i18n, promotions, rules=rules, now=now)
    if expired or promotions:
        sender.notify()


QueueFunction = Callable[..., Awaitable[int]]
Job = Callable[[Database, I18n, Sender, Settings, Callable[[], datetime]], Awaitable[None]]


def queueing_job(
    queue: QueueFunction,
    what: str,
    options: Callable[[Settings], dict[str, Any]] = lambda _settings: {},
) -> Job:
    """A job that queues pushes with ``queue`` (the sender sends them) and logs how many;
    ``options`` gives the queue function's settings beyond the quiet hours."""

    async def job(
        db: Database,
        i18n: I18n,
        sender: Sender,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        queued = await queue(
            db, i18n, sender, now=clock(), quiet=settings.quiet_hours(), **options(settings)
        )
        if queued:
            logger.info("queued %d %s", queued, what)

    job.__name__ = job.__qualname__ = f"{what.replace(' ', '_').replace('-', '_')}_job"
    return job


# Reminders that have come due.
reminders_job = queueing_job(queue_due_reminders, "reminders")
# The thank-you with a rating, an hour after an activity ended.
ratings_job = queueing_job(queue_rating_requests, "rating requests")
# Weekly digests whose moment has come in their center's time zone.
digest_job = queueing_job(
    queue_digests,
    "weekly digests",
    lambda settings: {"weekday": settings.digest_weekday, "at": settings.digest_hour},
)
# New activities, one message per person.
announcements_job = queueing_job(queue_new_activities, "new-activity announcements")


# Announcements: often enough that one goes out at its time and its author sees it moving,
# rarely enough that the progress message is not edited more than it needs to be.
BROADCASTS_INTERVAL_S = 3.0
# The broadcasts job's own executor: its every-few-seconds "Running job" lines (INFO) would
# bury everything else in the log.
QUIET_EXECUTOR = "quiet"


async def broadcasts_job(
    db: Database,
    i18n: I18n,
    sender: Sender,
    clock: Callable[[], datetime],
    monitor: BroadcastMonitor,
) -> None:
    """Start the announcements whose time has come (the ``broadcasts`` rows are the
    schedule, so one due while the bot was down starts now) and update their progress."""
    await monitor.run(db, i18n, sender, now=clock())


# Telegram stops re-delivering an update within a day: the webhook's memory of the update ids
# it took in need not be longer.
PROCESSED_UPDATES_KEPT = timedelta(days=1)


async def materialise_job(db: Database, clock: Callable[[], datetime]) -> None:
    async with db.write() as conn:
        created = await materialise(conn, today_utc=clock())
    if created:
        logger.info("created %d occurrences of weekly activities", created)


async def forget_updates_job(db: Database, clock: Callable[[], datetime]) -> None:
    """Hourly, so that each run deletes an hour's worth of rows, not a day's at once."""
    async with db.write() as conn:
        await forget_updates(conn, before=clock() - PROCESSED_UPDATES_KEPT)


def create_scheduler(
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    clock: Callable[[], datetime],
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    common = {"coalesce": True, "max_instances": 1, "replace_existing": True}
    # The every-minute jobs also run as soon as the scheduler starts: what came due while
    # the bot was down goes out at once, not a minute later.
    at_once = datetime.now(UTC)
    kwargs = {"db": db, "i18n": i18n, "sender": sender, "settings": settings, "clock": clock}
    for job, job_id in ((waitlist_job, "waitlist"), (reminders_job, "reminders")):
        scheduler.add_job(
            job,
            IntervalTrigger(minutes=1),
            id=job_id,
            kwargs=kwargs,
            next_run_time=at_once,
            misfire_grace_time=60,
            **common,
        )
    # News of new activities once a day (10:00 in Moscow): everything added since the last
    # run in one message per person, never more. Quiet hours hold it where it is night.
    scheduler.add_job(
        announcements_job,
        CronTrigger(hour=7, minute=0, timezone=UTC),
        id="announcements",
        kwargs=kwargs,
        misfire_grace_time=12 * 3600,
        **common,
    )
    # Every few minutes is on time for a digest and a thank-you an hour after the end; a run
    # missed while the bot was down is made up by the next one.
    for job, job_id in ((digest_job, "digest"), (ratings_job, "ratings")):
        scheduler.add_job(
            job,
            IntervalTrigger(minutes=5),
            id=job_id,
            kwargs=kwargs,
            misfire_grace_time=300,
            **common,
        )
    scheduler.add_executor(AsyncIOExecutor(), alias=QUIET_EXECUTOR)
    logging.getLogger(f"apscheduler.executors.{QUIET_EXECUTOR}").setLevel(logging.WARNING)
    scheduler.add_job(
        broadcasts_job,
        IntervalTrigger(seconds=BROADCASTS_INTERVAL_S),
        id="broadcasts",
        executor=QUIET_EXECUTOR,
        kwargs={
            "db": db,
            "i18n": i18n,
            "sender": sender,
            "clock": clock,
            "monitor": BroadcastMonitor(),
        },
        next_run_time=at_once,
        misfire_grace_time=int(BROADCASTS_INTERVAL_S),
        **common,
    )
    scheduler.add_job(
        materialise_job,
        CronTrigger(hour=0, minute=30, timezone=UTC),
        id="materialise_series",
        kwargs={"db": db, "clock": clock},
        misfire_grace_time=6 * 3600,
        **common,
    )
    scheduler.add_job(
        forget_updates_job,
        IntervalTrigger(hours=1),
        id="forget_updates",
        executor=QUIET_EXECUTOR,
        kwargs={"db": db, "clock": clock},
        misfire_grace_time=3600,
        **common,
    )
    return scheduler
