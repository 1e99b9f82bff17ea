"""Import of 100,000 centers from CSV into a fresh SQLite database.

The baseline does the least any import must: parse the same file with the csv module
and insert the rows with one bare ``executemany`` in one transaction. The ratio shows
what validation, time-zone lookup, search keys and the upsert cost on top of that.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Figure, ns_to_s, progress, settle, timed_ns
from bench.synthetic import CSV_FIELDS, generate_centers
from bot.importer import import_centers
from storage.database import Database
from storage.migrate import upgrade

ROWS = 100_000
BASELINE = "csv.reader + sqlite3 executemany"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

_BASELINE_INSERT = (
    "INSERT INTO centers (external_id, name, address, city, region, latitude, longitude,"
    " timezone, search_key, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?)"
)


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_FIELDS)
        writer.writerows(generate_centers(rows))


async def _fresh_database(path: Path) -> Database:
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    return db


async def _import(db: Database, csv_path: Path):
    return await import_centers(db, csv_path, now=NOW, out=io.StringIO())


def _time_import(db: Database, csv_path: Path) -> tuple[float, int, int]:
    settle()
    report, elapsed_ns = timed_ns(lambda: asyncio.run(_import(db, csv_path)))
    if not report.ok:
        raise RuntimeError(f"import rejected rows: {report.error or report.rejected[:3]}")
    return ns_to_s(elapsed_ns), report.inserted, report.updated


def _baseline(db_path: Path, csv_path: Path) -> int:
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        with csv_path.open(encoding="utf-8", newline="") as lines:
            reader = csv.reader(lines)
            next(reader)
            rows = [(*row[:5], float(row[5]), float(row[6]), NOW) for row in reader]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_BASELINE_INSERT, rows)
        connection.execute("COMMIT")
        return len(rows)
    finally:
        connection.close()


def _time_baseline(db_path: Path, csv_path: Path) -> float:
    settle()
    written, elapsed_ns = timed_ns(lambda: _baseline(db_path, csv_path))
    if written != ROWS:
        raise RuntimeError(f"baseline wrote {written} rows, expected {ROWS}")
    return ns_to_s(elapsed_ns)


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        directory = Path(tmp)
        csv_path = directory / "centers.csv"
        progress(f"[import] writing {ROWS:,} synthetic rows")
        write_csv(csv_path, ROWS)

        db = asyncio.run(_fresh_database(directory / "import.db"))
        baseline_db = asyncio.run(_fresh_database(directory / "baseline.db"))
        try:
            progress("[import] first import (all inserts)")
            seconds, inserted, _ = _time_import(db, csv_path)
            progress("[import] re-import (all updates)")
            reimport_seconds, _, updated = _time_import(db, csv_path)
        finally:
            asyncio.run(db.close())
            asyncio.run(baseline_db.close())
        progress("[import] baseline")
        baseline_seconds = _time_baseline(directory / "baseline.db", csv_path)

    if inserted != ROWS or updated != ROWS:
        raise RuntimeError(f"expected {ROWS} inserts then updates, got {inserted}/{updated}")
    return [
        Figure("import.rows_per_second", ROWS / seconds, "rows/s"),
        Figure("import.seconds_100k", seconds, "s", target="<= 30"),
        Figure("import.reimport_seconds_100k", reimport_seconds, "s", target="<= 30"),
        Figure("import.baseline_seconds_100k", baseline_seconds, "s", baseline=BASELINE),
        Figure("import.vs_baseline", seconds / baseline_seconds, "x", baseline=BASELINE),
    ]
