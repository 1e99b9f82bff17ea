"""Import of activities and weekly series from a CSV file, as run by the operator's CLI.

It follows the centers import (:mod:`bot.importer`): the file is read and checked before the
write lock is taken, the good rows go in one write transaction, bad rows are reported with
their line numbers. Rows are matched by ``external_id``: a one-off activity or a series
that exists already is updated in place, keeping its sign-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.importer import ImportReport, UnreadableFile, read_csv_file, write_report
from domain.activity_rows import ActivityRow, read_activity_rows
from domain.center_rows import RejectedRow
from storage.database import Database
from storage.series import (
    activities_by_external_id,
    centers_by_external_id,
    insert_activities,
    insert_series,
    materialise,
    series_by_external_id,
    update_activity,
    update_series,
)

__all__ = ["ActivityImportReport", "import_activities"]


@dataclass(slots=True)
class ActivityImportReport(ImportReport):
    occurrences: int = 0  # of weekly series, created right after the rows were written

    def summary(self) -> str:
        return (
            f"{ImportReport.summary(self)}; "
            f"{self.occurrences} upcoming occurrences of weekly series created"
        )


async def import_activities(
    db: Database, path: Path, *, now: datetime, out: TextIO
) -> ActivityImportReport:
    """Upsert the valid rows of ``path`` by ``external_id``, materialise the series among
    them, and write a report to ``out``.

    A row is also rejected at write time when it would take a place from someone (a capacity
    below the seats already taken), move an activity to another center, or change an
    activity that has already started.
    """
    report = ActivityImportReport()
    async with db.read() as conn:
        centers = await centers_by_external_id(conn)
    zones = {external_id: zone for external_id, (_id, zone) in centers.items()}
    rows: list[ActivityRow] = []
    try:
        for row in read_csv_file(
            path, lambda lines: read_activity_rows(lines, centers=zones, now=now)
        ):
            if isinstance(row, ActivityRow):
                rows.append(row)
            else:
                report.rejected.append(row)
    except UnreadableFile as error:
        report = ActivityImportReport(error=str(error))
    else:
        center_ids = {external_id: center_id for external_id, (center_id, _) in centers.items()}
        async with db.write() as conn:
            await _write(conn, rows, center_ids, now, report)
        report.written = report.inserted + report.updated
        report.rejected.sort(key=lambda rejected: rejected.line)
    write_report(report, path, out)
    return report


async def _write(
    conn: AsyncConnection,
    rows: list[ActivityRow],
    center_ids: dict[str, int],
    now: datetime,
    report: ActivityImportReport,
) -> None:
    external_ids = [row.external_id for row in rows]
    # Looked up under the write lock, so that nobody adds the same id in between.
    existing_activities = await activities_by_external_id(conn, external_ids)
    existing_series = await series_by_external_id(conn, external_ids)

    def reject(row: ActivityRow, reason: str) -> None:
        report.rejected.append(RejectedRow(row.line, reason))

    new_activities = []
    series_ids = []
    for row in rows:
        center_id = center_ids[row.center_external_id]
        own, other = (
            (existing_series, existing_activities)
            if row.is_series
            else (existing_activities, existing_series)
        )
        if row.external_id in other:
            kind = "a one-off activity" if row.is_series else "a weekly series"
            reject(row, f"external_id {row.external_id!r} belongs to {kind}; use another id")
            continue
        found = own.get(row.external_id)
        if found is not None and found[1] != center_id:
            reject(row, f"{row.external_id!r} belongs to another center; it cannot move")
            continue
        if row.is_series:
            values = {**row.series_values(), "center_id": center_id}
            if found is None:
                series_ids.append(await insert_series(conn, **values, created_at=now))
                report.inserted += 1
                continue
            refusal = await update_series(conn, found[0], values, now=now)
            if refusal:
                reject(row, refusal)
                continue
            series_ids.append(found[0])
            report.updated += 1
        else:
            values = {**row.activity_values(), "center_id": center_id}
            if found is None:
                new_activities.append({**values, "created_at": now})
                continue
            refusal = await update_activity(conn, found[0], values, now=now)
            if refusal:
                reject(row, refusal)
                continue
            report.updated += 1
    report.inserted += await insert_activities(conn, new_activities)
    report.occurrences = await materialise(conn, today_utc=now, series_ids=series_ids)
