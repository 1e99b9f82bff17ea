"""SQLite on the event loop: connections, waiting out another process's lock, checkpoints.

The bot's statements use indexes and the pages they touch are in SQLite's cache, so they take
microseconds and run on the event loop (``storage.database.LoopConnection``): a trip to a
thread per statement, as aiosqlite makes, cost more than the statements themselves and made
the loop and SQLite's threads queue for the GIL under load.

What must never block the loop is waiting for another process's lock. SQLite's own busy
handler sleeps in C, so it is switched off (``busy_timeout = 0``) and a busy database is
retried here with ``asyncio.sleep`` until the same deadline would have passed. Within this
process, writers already queue on an ``asyncio.Lock`` before ``BEGIN IMMEDIATE``
(``Database.write``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)

BUSY_ERRORS = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_FIRST_PAUSE_S = 0.001
_LONGEST_PAUSE_S = 0.05


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` (sqlite3's own, or SQLAlchemy's wrapping it) means that another
    connection holds the lock."""
    cause = getattr(error, "orig", error)
    return isinstance(cause, sqlite3.OperationalError) and cause.sqlite_errorcode in BUSY_ERRORS


async def call_retrying(
    function: Callable[..., T], *args: Any, busy_timeout_s: float, **kwargs: Any
) -> T:
    """``function(*args, **kwargs)`` now; while the database is busy, again after a pause on
    the loop, until ``busy_timeout_s`` have passed."""
    deadline = None
    pause = _FIRST_PAUSE_S
    while True:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            if not is_busy(error):
                raise
            now = time.monotonic()
            deadline = deadline or now + busy_timeout_s
            if now >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE_S)


def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    """A connection for the event loop; ``args`` and ``kwargs`` go to ``sqlite3.connect``
    (the dialect's ``create_connect_args`` for the URL)."""
    # Autocommit at the driver level: Database emits its own BEGIN (IMMEDIATE for writers).
    kwargs["isolation_level"] = None
    kwargs.setdefault("check_same_thread", False)  # closed by whichever thread drops it
    raw = sqlite3.connect(*args, **kwargs)
    raw.execute("PRAGMA busy_timeout = 0")  # waiting is call_retrying's, on the loop
    return raw


class Checkpointer:
    """Copies the write-ahead log into the database file from a worker thread.

    SQLite checkpoints on the connection that commits once the log passes 1,000 pages, and a
    checkpoint ends in fsync: on the event loop that stalled every update for the length of
    a disk flush (a third of a second was seen). The loop's connections have automatic
    checkpoints off (``PRAGMA wal_autocheckpoint=0``); this runs a PASSIVE checkpoint, which
    waits for nobody, on its own connection after every ``every`` commits.
    """

    def __init__(self, path: str, *, every: int = 200) -> None:
        self.path = path
        self.every = every
        self._commits = 0
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= self.every and self._running is None:
            self._commits = 0
            self._running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
            self._running.add_done_callback(self._done)

    def _checkpoint(self) -> None:
        connection = sqlite3.connect(self.path, timeout=1.0)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def _done(self, future: asyncio.Future[None]) -> None:
        self._running = None
        if not future.cancelled() and future.exception() is not None:
            logger.warning("checkpoint failed: %s", future.exception())

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait([self._running])
