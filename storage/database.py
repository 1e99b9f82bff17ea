"""Engine set-up and the two kinds of transaction the bot uses: read and write."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.sqlite_driver import Checkpointer, creator

SQLITE_BUSY_TIMEOUT_MS = 10_000
IDLE_READERS = 8
# PostgreSQL: connections kept open per process. Enough for every update handled at once
# (MAX_CONCURRENT_UPDATES, 16 by default) plus the sender and the jobs: a pool that runs short
# opens and closes a connection per transaction, each costing a handshake and type set-up.
SERVER_POOL_SIZE = 20
SERVER_POOL_OVERFLOW = 10


class Database:
    """One engine for the process. Handlers open short transactions and never await Telegram
    inside one, so that a slow network never holds the write lock.

    On SQLite (statements run on the event loop, see ``sqlite_driver``) the connections are
    kept and reused: checking one out of the pool and back cost more than the statements of a
    typical read. Reads run without ``BEGIN``, so no snapshot is held while a handler awaits:
    each statement sees what is committed when it runs, as under PostgreSQL's default READ
    COMMITTED. Writers of this process take turns on one connection, behind an asyncio lock.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Queueing writers of this process here costs
        # nothing, while leaving it to SQLite's busy handler means sleeping and polling.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: AsyncConnection | None = None
        self._idle_readers: list[AsyncConnection] = []
        # Reads on a server run outside a transaction: each statement sees what is committed
        # when it runs, exactly as inside a READ COMMITTED one (and as reads on SQLite do),
        # without BEGIN and COMMIT, two round trips of every read.
        self._server_reader = (
            None if self.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        path = engine.url.database
        file_backed = self.is_sqlite and path not in (None, "", ":memory:")
        self._checkpointer = Checkpointer(path) if file_backed else None

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_backend_name() == "sqlite":
            # Every use of a connection ends in COMMIT or ROLLBACK through read()/write().
            engine_kwargs.setdefault("pool_reset_on_return", None)
            # Readers that are busy at the same moment each hold a connection.
            engine_kwargs.setdefault("pool_size", IDLE_READERS)
            engine_kwargs.setdefault("max_overflow", 56)
            args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
            engine_kwargs.setdefault(
                "async_creator",
                creator(*args, busy_timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000, **kwargs),
            )
        else:
            engine_kwargs.setdefault("pool_size", SERVER_POOL_SIZE)
            engine_kwargs.setdefault("max_overflow", SERVER_POOL_OVERFLOW)
        # Parameters stay out of error messages and logs: they carry user ids and names.
        engine = create_async_engine(url, hide_parameters=True, **engine_kwargs)
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        return cls(engine)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        if self._server_reader is not None:
            async with self._server_reader.connect() as conn:
                yield conn
            return
        if self._idle_readers:
            conn = self._idle_readers.pop()
        else:
            conn = await (await self.engine.connect()).execution_options(sqlite_begin=None)
        try:
            yield conn
        except BaseException:
            await self._put_back(conn, failed=True)
            raise
        await self._put_back(conn, failed=False)

    async def _put_back(self, conn: AsyncConnection, *, failed: bool) -> None:
        # No BEGIN reached SQLite, so a successful read leaves nothing to end: SQLAlchemy's
        # own bookkeeping of the transaction it began stays open for the next read, which
        # saves a rollback per read. After an error it is rolled back, as SQLAlchemy requires.
        if failed:
            try:
                await conn.rollback()
            except BaseException:
                await conn.invalidate()
                raise
        if len(self._idle_readers) < IDLE_READERS and not conn.invalidated:
            self._idle_readers.append(conn)
        else:
            await conn.close()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock:
            if self._writer is None or self._writer.invalidated:
                # BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that
                # reads and then writes fails with SQLITE_BUSY at once, whatever the busy
                # timeout says.
                connection = await self.engine.connect()
                self._writer = await connection.execution_options(sqlite_begin="IMMEDIATE")
            async with self._writer.begin():
                yield self._writer
        if self._checkpointer is not None:
            self._checkpointer.committed()

    async def ping(self) -> None:
        """Raise unless the database answers a query now (for health checks).

        A SQLite file is opened afresh, read-only: the connections kept open would go on
        reading a file that has been deleted or replaced, unaware of it."""
        if self._checkpointer is None:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
            return
        await asyncio.to_thread(_probe_sqlite_file, self._checkpointer.path)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
        readers, self._idle_readers = self._idle_readers, []
        for conn in readers:
            await conn.close()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.close()
        await self.engine.dispose()


def _probe_sqlite_file(path: str) -> None:
    connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=1.0)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver connection is in autocommit mode (see sqlite_driver.creator): its own
        # implicit BEGIN would be DEFERRED; we emit ours in _on_begin.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # see sqlite_driver.Checkpointer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:
            conn.exec_driver_sql(f"BEGIN {mode}")


def dialect_insert(conn: AsyncConnection) -> Any:
    """The dialect's INSERT construct: both spell upsert as ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
