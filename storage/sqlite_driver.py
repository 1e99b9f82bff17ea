"""SQLite on the event loop: waiting out another process's lock, checkpoints off the loop, and
connections for SQLAlchemy's aiosqlite dialect (the asyncio engine, which runs migrations;
``Database`` reads and writes through ``LoopConnection``).

aiosqlite gives each connection a thread and makes four trips to it per statement (cursor,
execute, fetch, close). The bot's statements use indexes and the pages they touch are in
SQLite's cache: a statement takes microseconds, while the trips cost about half a millisecond
of CPU each time (measured: a primary-key SELECT through the engine took 0.4 ms on aiosqlite
and 0.17 ms here) and make the event loop and SQLite's threads queue for the GIL under load.
So these connections call ``sqlite3`` directly, and SQLAlchemy is none the wiser: they are
handed to it through ``create_async_engine(async_creator=...)`` and speak aiosqlite's API.

What must never block the loop is waiting for another process's lock. SQLite's own busy
handler sleeps in C, so it is switched off (``busy_timeout = 0``) and a busy database is
retried here with ``asyncio.sleep`` until the same deadline would have passed. The rest of the
bot cannot tell the difference: within this process, writers already queue on an
``asyncio.Lock`` before ``BEGIN IMMEDIATE`` (``Database.write``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)

BUSY_ERRORS = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_FIRST_PAUSE_S = 0.001
_LONGEST_PAUSE_S = 0.05


class Cursor:
    """A statement's outcome, read in one go: the rows, the description and the counts."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        await self._connection.call(self._run, sql, parameters, False)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        await self._connection.call(self._run, sql, seq_of_parameters, True)
        return self

    def _run(self, sql: str, parameters: Any, many: bool) -> None:
        cursor = self._connection.raw.cursor()
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            self._rows = cursor.fetchall() if cursor.description else []
            self.description = cursor.description
            self.rowcount = cursor.rowcount
            self.lastrowid = cursor.lastrowid
        finally:
            cursor.close()

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def close(self) -> None:
        self._rows = []


class Connection:
    """The part of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, raw: sqlite3.Connection, busy_timeout_s: float) -> None:
        self.raw = raw
        self.busy_timeout_s = busy_timeout_s

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The dialect checks this attribute to tell an open connection from a closed one.
        return self.raw

    @property
    def isolation_level(self) -> str | None:
        return self.raw.isolation_level

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function`` now; while another process holds the lock, retry without
        blocking the loop."""
        return await call_retrying(function, *args, busy_timeout_s=self.busy_timeout_s)

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def commit(self) -> None:
        await self.call(self.raw.commit)

    async def rollback(self) -> None:
        self.raw.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.raw.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.raw.close()

    def stop(self) -> None:
        self.raw.close()


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` (sqlite3's own, or SQLAlchemy's wrapping it) means that another
    connection holds the lock."""
    cause = getattr(error, "orig", error)
    return isinstance(cause, sqlite3.OperationalError) and cause.sqlite_errorcode in BUSY_ERRORS


async def call_retrying(function: Callable[..., T], *args: Any, busy_timeout_s: float) -> T:
    """``function(*args)`` now; while the database is busy, again after a pause on the loop,
    until ``busy_timeout_s`` have passed."""
    deadline = None
    pause = _FIRST_PAUSE_S
    while True:
        try:
            return function(*args)
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
    kwargs.setdefault("check_same_thread", False)  # the pool may close it from elsewhere
    raw = sqlite3.connect(*args, **kwargs)
    raw.execute("PRAGMA busy_timeout = 0")  # waiting is call_retrying's, on the loop
    return raw


def creator(*args: Any, busy_timeout_s: float, **kwargs: Any) -> Callable[[], Any]:
    """``async_creator`` for ``create_async_engine``, arguments as for :func:`connect`."""

    async def create() -> Connection:
        return Connection(connect(*args, **kwargs), busy_timeout_s)

    return create


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
