"""Standing by lets the scheduler's jobs under way finish instead of cutting them off."""

import asyncio
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import RunningJobs


async def test_standing_by_waits_for_the_job_under_way():
    scheduler = AsyncIOScheduler(timezone=UTC)
    running = RunningJobs(scheduler)
    started, release, done = asyncio.Event(), asyncio.Event(), []

    async def job() -> None:
        started.set()
        await release.wait()  # a transaction in the middle of its work
        done.append(True)

    scheduler.add_job(job, next_run_time=datetime.now(UTC))
    scheduler.start()
    try:
        await asyncio.wait_for(started.wait(), 5)
        scheduler.pause()
        assert not await running.finished(within=0.2)  # still at work: not cut off
        asyncio.get_running_loop().call_later(0.1, release.set)
        assert await running.finished(within=5)
        assert done == [True]
    finally:
        scheduler.shutdown(wait=False)


async def test_nothing_running_means_nothing_to_wait_for():
    scheduler = AsyncIOScheduler(timezone=UTC)
    running = RunningJobs(scheduler)
    failures = []

    async def failing() -> None:
        failures.append(True)
        raise RuntimeError("a job that fails still ends")

    scheduler.add_job(failing, next_run_time=datetime.now(UTC))
    scheduler.start()
    try:
        for _ in range(100):
            if failures:
                break
            await asyncio.sleep(0.02)
        assert await running.finished(within=2)
    finally:
        scheduler.shutdown(wait=False)
