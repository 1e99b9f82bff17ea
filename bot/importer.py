"""Import of community centers from a CSV file, as run by the operator's CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from domain.center_rows import CenterFileError, CenterRow, RejectedRow, read_center_rows
from storage.centers import count_centers, search_key, upsert_centers
from storage.database import Database

__all__ = ["REPORT_REJECTED_LIMIT", "ImportReport", "import_centers"]

# Enough to spot a pattern in a broken export without burying the summary line.
REPORT_REJECTED_LIMIT = 100


@dataclass(slots=True)
class ImportReport:
    """What one import did. ``error`` is set when the file could not be read at all, in
    which case nothing was written."""

    written: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every row of the file made it in; the CLI exits non-zero otherwise."""
        return self.error is None and not self.rejected


class _Unreadable(Exception):
    """Carries a one-line message out of the write transaction so that it rolls back."""


async def import_centers(db: Database, path: Path, *, now: datetime, out: TextIO) -> ImportReport:
    """Upsert the valid rows of ``path`` by ``external_id`` and write a report to ``out``.

    All rows go in one write transaction: a running bot sees the old set of centers or the
    new one, never a mix, and a file that turns out to be unreadable leaves the database
    untouched. Rejected rows are reported and skipped; the rest are imported.
    """
    report = ImportReport()
    try:
        # Read and check everything before taking the write lock: a running bot then waits
        # only for the writing itself, not for parsing and search keys.
        rows = list(_valid_rows(path, report.rejected))
    except _Unreadable as error:
        report = ImportReport(error=str(error))
    else:
        async with db.write() as conn:
            before = await count_centers(conn)
            report.written = await upsert_centers(conn, rows, now=now)
            # Inside the transaction nobody else adds centers, so growth means inserts.
            report.inserted = await count_centers(conn) - before
        report.updated = report.written - report.inserted
    _write_report(report, path, out)
    return report


def _valid_rows(path: Path, rejected: list[RejectedRow]) -> Iterator[dict[str, Any]]:
    """Row values to upsert, streamed from disk; rejections are collected on the side."""
    try:
        with path.open("rb") as raw:
            for row in read_center_rows(_decoded_lines(raw, path)):
                if isinstance(row, CenterRow):
                    values = row.values()
                    values["search_key"] = search_key(row.name, row.address, row.city, row.region)
                    yield values
                else:
                    rejected.append(row)
    except CenterFileError as error:
        raise _Unreadable(f"{path}: {error}") from error
    except OSError as error:
        raise _Unreadable(f"{path}: cannot read the file ({error.strerror or error})") from error


def _decoded_lines(raw: BinaryIO, path: Path) -> Iterator[str]:
    # Decoding line by line rather than through a text wrapper pins a bad byte to its line;
    # a text wrapper decodes in blocks and only knows the offset inside one.
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _Unreadable(
                f"{path}: line {number} is not UTF-8 text; save the file as CSV UTF-8"
            ) from error


def _write_report(report: ImportReport, path: Path, out: TextIO) -> None:
    if report.error is not None:
        out.write(f"error: {report.error}; nothing was imported\n")
        return
    out.write(
        f"{path}: {report.written} imported ({report.inserted} new, {report.updated} updated), "
        f"{len(report.rejected)} rejected\n"
    )
    for row in report.rejected[:REPORT_REJECTED_LIMIT]:
        out.write(f"line {row.line}: {row.reason}\n")
    hidden = len(report.rejected) - REPORT_REJECTED_LIMIT
    if hidden > 0:
        out.write(f"… and {hidden} more\n")
