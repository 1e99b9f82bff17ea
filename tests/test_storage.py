"""The storage layer on its own: schema, concurrency, time, the nearest-center cache."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.centers import count_centers, search_centers, upsert_centers
from storage.database import Database
from storage.migrate import current_revision, upgrade
from storage.nearest import NearestCenters
from storage.schema import centers, metadata, subscriptions, users
from storage.sqlite_driver import Checkpointer
from storage.subscriptions import subscribe
from storage.users import get_user, save_consent

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def url(tmp_path, empty_database_url):
    if empty_database_url.startswith("sqlite"):  # a directory that does not exist yet
        return f"sqlite+aiosqlite:///{tmp_path}/nested/dir/t.db"
    return empty_database_url


@pytest.fixture
async def db(url):
    database = Database.from_url(url)
    await upgrade(database)
    yield database
    await database.close()


def center(external_id, latitude, longitude, name="Центр"):
    return {
        "external_id": external_id,
        "name": name,
        "address": "ул. Ленина, 1",
        "city": "Город",
        "region": None,
        "latitude": latitude,
        "longitude": longitude,
        "timezone": "Europe/Moscow",
        "opening_hours": None,
        "phone": None,
    }


async def test_migrations_build_exactly_the_declared_schema(db):
    assert await current_revision(db) == "0010"

    def not_the_search_index(name, type_, *_args):
        # The search indexes of migration 0004 live outside the metadata: SQLite's FTS5 table
        # with its shadow tables, PostgreSQL's trigram index.
        if type_ == "index" and name == "ix_centers_search_key_trgm":
            return False
        return not (type_ == "table" and name.startswith("centers_search"))

    async with db.read() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_name": not_the_search_index}),
                metadata,
            )
        )
    assert diff == []
    await upgrade(db)  # a second run is a no-op


@pytest.mark.sqlite_only
async def test_sqlite_pragmas(db):
    async with db.read() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL


class Ticks:
    """Counts the turns a task sleeping ``pause`` at a time gets on the loop."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.count = 0

    async def __aenter__(self) -> Ticks:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._task.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.pause)
            self.count += 1


@pytest.mark.sqlite_only  # PostgreSQL has no database-wide write lock
async def test_waiting_for_another_process_lock_does_not_block_the_loop(url, db):
    # A second engine on the same file stands for another process (an import, say) that holds
    # the write lock for a while. Our writer waits for it, and the loop goes on meanwhile.
    other = Database.from_url(url)
    holding = asyncio.Event()

    async def hold_the_lock():
        async with other.write() as conn:
            await upsert_centers(conn, [center("c1", 55.0, 37.0)], now=NOW)
            holding.set()
            await asyncio.sleep(0.3)

    holder = asyncio.create_task(hold_the_lock())
    try:
        async with Ticks(0.01) as ticks:
            await holding.wait()
            async with db.write() as conn:
                before = ticks.count
                await subscribe(conn, 1, 1, now=NOW) if await get_user(conn, 1) else None
                await upsert_centers(conn, [center("c2", 56.0, 38.0)], now=NOW)
        assert holder.done(), "the write waited for the other process to commit"
        assert before >= 10, f"the loop ticked {before} times while the lock was held"
    finally:
        await holder
        await other.close()
    async with db.read() as conn:
        assert await count_centers(conn) == 2


@pytest.mark.sqlite_only
async def test_a_read_told_the_file_is_busy_tries_again_without_blocking_the_loop(db):
    # Under WAL a reader is refused only in rare moments (another process recovering the
    # log), too rare to stage; the connection is told so twice instead.
    async with db.write() as conn:
        await upsert_centers(conn, [center("c1", 55.0, 37.0)], now=NOW)
    refusal = sqlite3.OperationalError("database is locked")
    refusal.sqlite_errorcode = sqlite3.SQLITE_BUSY
    refusals = [OperationalError("SELECT", {}, refusal)] * 2
    async with Ticks(0) as ticks, db.read() as conn:
        sync = conn.sync_connection
        real = sync.execute

        def refusing(*args, **kwargs):
            if refusals:
                raise refusals.pop()
            return real(*args, **kwargs)

        sync.execute = refusing
        try:
            assert await count_centers(conn) == 1
        finally:
            del sync.execute
    assert refusals == []
    assert ticks.count >= 2, "the loop ran while the read waited"


async def test_concurrent_read_then_write_transactions_never_lock(url, db):
    # Two engines stand for two processes on one file; each transaction reads, then writes.
    other = Database.from_url(url)
    async with db.write() as conn:
        await upsert_centers(conn, [center("c1", 55.0, 37.0)], now=NOW)

    async def consent_and_subscribe(database, user_id):
        async with database.write() as conn:
            if await get_user(conn, user_id) is None:
                await save_consent(
                    conn,
                    user_id=user_id,
                    display_name="x",
                    language="ru",
                    consent_version="1",
                    now=NOW,
                )
            await subscribe(conn, user_id, 1, now=NOW)

    try:
        await asyncio.gather(
            *(consent_and_subscribe(db if i % 2 else other, i) for i in range(1, 201))
        )
    finally:
        await other.close()
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(users)) == 200
        assert await conn.scalar(select(func.count()).select_from(subscriptions)) == 200


async def test_times_come_back_aware_utc(db):
    moscow = timezone(timedelta(hours=3))
    async with db.write() as conn:
        await save_consent(
            conn,
            user_id=1,
            display_name="x",
            language="ru",
            consent_version="1",
            now=datetime(2026, 11, 22, 15, 0, tzinfo=moscow),
        )
    async with db.read() as conn:
        user = await get_user(conn, 1)
    assert user.consent_at == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    with pytest.raises(Exception, match="naive"):
        async with db.write() as conn:
            await save_consent(
                conn,
                user_id=2,
                display_name="x",
                language="ru",
                consent_version="1",
                now=datetime(2026, 11, 22, 15, 0),
            )


async def test_deleting_a_user_cascades(db):
    async with db.write() as conn:
        await upsert_centers(conn, [center("c1", 55.0, 37.0)], now=NOW)
        await save_consent(
            conn, user_id=7, display_name="x", language="ru", consent_version="1", now=NOW
        )
        await subscribe(conn, 7, 1, now=NOW)
        assert await subscribe(conn, 7, 1, now=NOW) is False
    async with db.write() as conn:
        await conn.execute(users.delete().where(users.c.id == 7))
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(subscriptions)) == 0


async def test_punctuation_and_wildcards_in_a_query_match_nothing_by_themselves(db):
    async with db.write() as conn:
        await upsert_centers(conn, [center("c1", 55.0, 37.0, name="Центр 100%")], now=NOW)
        await upsert_centers(conn, [center("c2", 55.0, 37.0, name="Центр 1000")], now=NOW)
    async with db.read() as conn:
        assert [c.external_id for c in await search_centers(conn, "1000", limit=5)] == ["c2"]
        assert await search_centers(conn, "%", limit=5) == []
        assert await search_centers(conn, "_%_", limit=5) == []
        assert await count_centers(conn) == 2


async def test_nearest_index_follows_imports_from_elsewhere(db):
    ticks = [0.0]
    nearest = NearestCenters(db, check_every=30, monotonic=lambda: ticks[0])
    async with db.write() as conn:
        await upsert_centers(conn, [center("far", 56.0, 38.0)], now=NOW)
    found, more = await nearest.find(55.0, 37.0, limit=5)
    assert [c.external_id for c, _ in found] == ["far"] and not more
    async with db.write() as conn:  # another process imports a closer center
        await upsert_centers(conn, [center("near", 55.001, 37.001)], now=NOW)
    found, _ = await nearest.find(55.0, 37.0, limit=5)
    assert [c.external_id for c, _ in found] == ["far"], "cached until the next check"
    ticks[0] += 31
    found, _ = await nearest.find(55.0, 37.0, limit=1)
    assert [c.external_id for c, _ in found] == ["near"]
    assert found[0][1] == pytest.approx(128.2, abs=0.5)


@pytest.mark.sqlite_only
async def test_checkpoints_run_off_the_event_loop(tmp_path):
    path = tmp_path / "c.db"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(db)
        async with db.read() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        size = path.stat().st_size
        db._checkpointer = Checkpointer(str(path), every=3)  # counting from here
        for number in range(2):
            async with db.write() as conn:
                await upsert_centers(conn, [center(f"c{number}", 55.0, 37.0)], now=NOW)
        assert path.stat().st_size == size, "two commits: still only in the log"
        async with db.write() as conn:
            await upsert_centers(conn, [center(f"c{i}", 55.0, 37.0) for i in range(99)], now=NOW)
        await db._checkpointer.close()  # waits for the checkpoint the third commit started
        assert path.stat().st_size > size, "the log was copied into the database file"
    finally:
        await db.close()


async def test_the_search_index_follows_imports_edits_and_deletions(db):
    async with db.write() as conn:
        await upsert_centers(
            conn,
            [center("a", 55.0, 37.0, "Соседи на Ленина"), center("b", 56.0, 38.0, "На Мира")],
            now=NOW,
        )
    async with db.read() as conn:
        assert [c.name for c in await search_centers(conn, "сосед", limit=10)] == [
            "Соседи на Ленина"
        ]
        assert await search_centers(conn, "мира гор", limit=10) != []  # "гор": a short word
    async with db.write() as conn:
        await upsert_centers(conn, [center("a", 55.0, 37.0, "Друзья")], now=NOW)
        await conn.execute(centers.delete().where(centers.c.external_id == "b"))
    async with db.read() as conn:
        assert await search_centers(conn, "сосед", limit=10) == []
        assert [c.name for c in await search_centers(conn, "друз", limit=10)] == ["Друзья"]
        assert await search_centers(conn, "мира", limit=10) == []


async def test_postgresql_searches_centers_through_a_trigram_index(db):
    if db.is_sqlite:
        pytest.skip("PostgreSQL's index; SQLite's FTS5 one is tested above")
    async with db.read() as conn:
        indexes = await conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_centers_search_key_trgm'"
        )
        assert "gin_trgm_ops" in indexes.scalar_one()
