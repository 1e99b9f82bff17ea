"""Engine set-up and the two kinds of transaction the bot uses: read and write."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.sqlite_driver import Checkpointer, call_retrying, connect

SQLITE_BUSY_TIMEOUT_S = 10.0
IDLE_READERS = 8
# PostgreSQL: connections kept open per process. Enough for every update handled at once
# (MAX_CONCURRENT_UPDATES, 16 by default) plus the sender and the jobs: a pool that runs short
# opens and closes a connection per transaction, each costing a handshake and type set-up.
SERVER_POOL_SIZE = 20
SERVER_POOL_OVERFLOW = 10


class Database:
    """One engine for the process. Handlers open short transactions and never await Telegram
    inside one, so that a slow network never holds the write lock.

    On SQLite (statements run on the event loop, see ``LoopConnection``) the connections are
    kept and reused: checking one out of a pool and back cost more than the statements of a
    typical read. Reads run without ``BEGIN``, so no snapshot is held while a handler awaits:
    each statement sees what is committed when it runs, as under PostgreSQL's default READ
    COMMITTED. Writers of this process take turns on one connection, behind an asyncio lock.
    """

    def __init__(self, engine: AsyncEngine, loop_engine: Engine | None = None) -> None:
        self.engine = engine
        # SQLite only: the synchronous engine behind read() and write() (see LoopConnection).
        self.loop_engine = loop_engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time. Queueing writers of this process here costs
        # nothing, while leaving it to SQLite's busy handler means sleeping and polling.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: LoopConnection | None = None
        self._idle_readers: list[LoopConnection] = []
        # Reads on a server run outside a transaction: each statement sees what is committed
        # when it runs, exactly as inside a READ COMMITTED one (and as reads on SQLite do),
        # without BEGIN and COMMIT, two round trips of every read.
        self._server_reader = (
            None if self.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        path = engine.url.database
        file_backed = self.is_sqlite and path not in (None, "", ":memory:")
        self._checkpointer = Checkpointer(path) if file_backed else None

    @property
    def engine_running_statements(self) -> Engine:
        """The engine whose events see every statement of read() and write()."""
        return self.loop_engine or self.engine.sync_engine

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        loop_engine = None
        if parsed.get_backend_name() == "sqlite":
            args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
            # Database keeps its connections itself; the engine's pool never holds one.
            loop_engine = create_engine(
                parsed.set(drivername="sqlite"),
                creator=lambda: connect(*args, **kwargs),
                poolclass=NullPool,
                hide_parameters=True,
            )
            _configure_sqlite(loop_engine)
        else:
            engine_kwargs.setdefault("pool_size", SERVER_POOL_SIZE)
            engine_kwargs.setdefault("max_overflow", SERVER_POOL_OVERFLOW)
        # Parameters stay out of error messages and logs: they carry user ids and names. On
        # SQLite this engine never connects: LoopConnection needs one to belong to.
        engine = create_async_engine(url, hide_parameters=True, **engine_kwargs)
        return cls(engine, loop_engine)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        if self._server_reader is not None:
            async with self._server_reader.connect() as conn:
                yield conn
            return
        conn = self._idle_readers.pop() if self._idle_readers else self._loop_connection()
        try:
            yield conn
        except BaseException:
            await self._put_back(conn, failed=True)
            raise
        await self._put_back(conn, failed=False)

    async def _put_back(self, conn: LoopConnection, *, failed: bool) -> None:
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
                self._writer = self._loop_connection()
            writer = self._writer.sync_connection
            assert writer is not None
            try:
                # BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that
                # reads and then writes fails with SQLITE_BUSY at once, whatever the busy
                # timeout says. Another process's lock is waited for on the loop.
                await self._writer.exec_driver_sql("BEGIN IMMEDIATE")
                yield self._writer
                writer.commit()
            except BaseException:
                writer.rollback()
                raise
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _loop_connection(self) -> LoopConnection:
        assert self.loop_engine is not None
        # The driver is in autocommit mode: SQLite sees a BEGIN only where write() sends one.
        return LoopConnection(self.engine, self.loop_engine.connect())

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
        if self.loop_engine is not None:
            self.loop_engine.dispose()


class LoopConnection(AsyncConnection):
    """A SQLite connection whose statements SQLAlchemy runs synchronously, on the event loop.

    Through the asyncio extension every statement is run in a greenlet that hands four awaits
    (cursor, execute, fetch, close) to the driver and back. For the indexed statements of an
    update that cost more than SQLAlchemy's own work: measured, 120 µs a read that takes
    50 µs on a synchronous connection. SQLite's statements run on the loop anyway (see
    ``sqlite_driver``), so read() and write() use a synchronous engine and skip the trips.
    What must not block the loop is waiting for another process's lock: the busy answer (to
    a writer's BEGIN IMMEDIATE; to a reader only in rare moments under WAL) is retried with
    pauses on the loop.
    """

    async def execute(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> Any:
        return await self._run(
            self.sync_connection.execute,
            statement,
            parameters,
            execution_options=execution_options,
        )

    async def exec_driver_sql(
        self,
        statement: str,
        parameters: Any = None,
        execution_options: Any = None,
    ) -> Any:
        return await self._run(
            self.sync_connection.exec_driver_sql,
            statement,
            parameters,
            execution_options=execution_options,
        )

    @staticmethod
    async def _run(method: Any, *args: Any, **kwargs: Any) -> Any:
        return await call_retrying(method, *args, busy_timeout_s=SQLITE_BUSY_TIMEOUT_S, **kwargs)


def _probe_sqlite_file(path: str) -> None:
    connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=1.0)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # see sqlite_driver.Checkpointer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def dialect_insert(conn: AsyncConnection) -> Any:
    """The dialect's INSERT construct: both spell upsert as ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
