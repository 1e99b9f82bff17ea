"""``python -m bot backup FILE``: a consistent copy of the live SQLite database."""

import asyncio
import sqlite3
from datetime import UTC, datetime

from bot.cli import copy_sqlite
from storage.database import Database
from storage.users import save_consent
from tests.conftest import make_settings, prepare_database
from tests.test_cli import run


def counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


async def test_backup_copies_the_database_into_one_standalone_file(tmp_path):
    settings = make_settings(tmp_path)
    await prepare_database(settings, demo=True)
    result = await asyncio.to_thread(
        run, tmp_path, "backup", "copy.db", DATABASE_URL=settings.database_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Backed up {tmp_path}/bot.db to copy.db (")
    copy = tmp_path / "copy.db"
    assert counts(copy) == counts(tmp_path / "bot.db")
    assert counts(copy)["centers"] > 0 and counts(copy)["alembic_version"] == 1
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("copy", ".copy"))) == [
        "copy.db"
    ], "nothing left beside it"

    again = await asyncio.to_thread(
        run, tmp_path, "backup", "copy.db", DATABASE_URL=settings.database_url
    )
    assert again.returncode == 0, "a nightly job may write to the same name"


async def test_backup_while_the_bot_writes_is_a_consistent_snapshot(tmp_path):
    settings = make_settings(tmp_path)
    await prepare_database(settings, demo=False)
    db = Database.from_url(settings.database_url)
    written = 0
    stop, started = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            async with db.write() as conn:
                for _ in range(20):  # one transaction: a copy has all 20 or none
                    written += 1
                    await save_consent(
                        conn,
                        user_id=written,
                        display_name=f"U{written}",
                        language="ru",
                        consent_version="1",
                        now=datetime.now(UTC),
                    )
            if written >= 200:
                started.set()
            await asyncio.sleep(0)

    try:
        task = asyncio.create_task(writer())
        await started.wait()
        copies = []
        for number in range(3):
            target = tmp_path / f"copy{number}.db"
            await asyncio.to_thread(copy_sqlite, tmp_path / "bot.db", target)
            copies.append(counts(target)["users"])
        stop.set()
        await task
    finally:
        await db.close()
    assert all(count % 20 == 0 and count >= 200 for count in copies), copies
    assert copies == sorted(copies) and copies[-1] <= written


def test_backup_refuses_postgresql_a_missing_database_and_itself(tmp_path):
    postgres = run(
        tmp_path, "backup", "x.db", DATABASE_URL="postgresql+asyncpg://bot@localhost/sosedi"
    )
    assert postgres.returncode == 2 and "pg_dump" in postgres.stderr
    missing = run(tmp_path, "backup", "x.db", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/no.db")
    assert missing.returncode == 2 and "there is no database" in missing.stderr
    (tmp_path / "bot.db").write_bytes(b"")
    itself = run(
        tmp_path, "backup", "bot.db", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    )
    assert itself.returncode == 2 and "another file" in itself.stderr
    for result in (postgres, missing, itself):
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()
