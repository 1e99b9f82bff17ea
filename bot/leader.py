"""One process per database sends and runs the scheduled jobs; any number answer updates.

Two bot processes on one database (a second copy started by mistake, or a new version
starting before the old one has stopped) would both queue reminders and both drain the
queue: the dedup keys stop the first, but a second sender would mark the first one's
messages in flight as "unknown" when it starts. So the sender and the scheduler run only in
the process that holds the ``worker`` lease, a row in ``leases`` renewed every ``ttl / 3``.
Another process waits on standby and takes over once the lease has run out: ``ttl`` after
the holder died, or at once when it shut down cleanly (it gives the lease back).

Updates are answered by every process; what they queue is sent by the holder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from storage.database import Database
from storage.leases import acquire
from storage.leases import release as release_lease

logger = logging.getLogger(__name__)

LEASE = "worker"


def utc_now() -> datetime:
    return datetime.now(UTC)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    """Holds the ``worker`` lease while it can, and runs ``on_gain``/``on_lose`` as it gains
    and loses it."""

    def __init__(
        self,
        db: Database,
        *,
        on_gain: Callable[[], Awaitable[None]],
        on_lose: Callable[[], Awaitable[None]],
        ttl: float = 30.0,
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.on_gain = on_gain
        self.on_lose = on_lose
        self.ttl = timedelta(seconds=ttl)
        self.owner = owner or process_name()
        self.leader = False
        self._valid_until = datetime.min.replace(tzinfo=UTC)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try at once, so that a lone process starts sending without delay; then keep
        trying (or renewing) in the background."""
        await self.check()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def check(self) -> bool:
        """Take or renew the lease, and act on a change; whether this process leads now."""
        now = self._clock()
        try:
            async with self.db.write() as conn:
                held = await acquire(conn, LEASE, self.owner, now=now, ttl=self.ttl)
        except Exception:
            logger.exception("could not renew the worker lease")
            # Another process may take the lease once it runs out: stop sending before then.
            held = self.leader and now < self._valid_until - self.ttl / 3
        else:
            if held:
                self._valid_until = now + self.ttl
        if held and not self.leader:
            self.leader = True
            logger.info("this process now sends messages and runs the scheduled jobs")
            try:
                await self.on_gain()
            except Exception:
                logger.exception("could not start sending; giving the worker lease back")
                await self._step_down(release=True)
        elif not held and self.leader:
            logger.warning("the worker lease went to another process; standing by")
            await self._step_down(release=False)
        return self.leader

    async def _step_down(self, *, release: bool) -> None:
        self.leader = False
        self._valid_until = datetime.min.replace(tzinfo=UTC)
        try:
            await self.on_lose()
        except Exception:
            logger.exception("could not stop sending cleanly")
        if release:
            try:
                async with self.db.write() as conn:
                    await release_lease(conn, LEASE, self.owner)
            except Exception:
                logger.exception("could not give the worker lease back; it runs out by itself")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            try:
                await self.check()
            except Exception:  # the loop must outlive any one failure
                logger.exception("worker lease check failed")

    async def stop(self) -> None:
        """Stop trying; if leading, stop the work and give the lease back at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.leader:
            await self._step_down(release=True)
