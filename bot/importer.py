"""Import of community centers from a CSV file: the operator's CLI, or an admin's upload."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.center_rows import CenterRow, CsvFileError, RejectedRow, read_center_rows
from storage.centers import count_centers, search_key, upsert_centers
from storage.database import Database

__all__ = [
    "REPORT_REJECTED_LIMIT",
    "ImportReport",
    "UnreadableFile",
    "import_centers",
    "read_center_stream",
    "read_csv_file",
    "read_csv_stream",
    "write_centers",
    "write_report",
]

_Row = TypeVar("_Row")

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

    def summary(self) -> str:
        return (
            f"{self.written} imported ({self.inserted} new, {self.updated} updated), "
            f"{len(self.rejected)} rejected"
        )


class UnreadableFile(Exception):
    """The file cannot be read at all; carries a one-line message naming it."""


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
        rows = list(_valid_rows(read_csv_file(path, read_center_rows), report.rejected))
    except UnreadableFile as error:
        report = ImportReport(error=str(error))
    else:
        async with db.write() as conn:
            await write_centers(conn, rows, report, now=now)
    write_report(report, path, out)
    return report


def read_center_stream(raw: BinaryIO, name: str, report: ImportReport) -> list[dict[str, Any]]:
    """The rows to upsert from an open CSV file (a document sent to the bot, say), checked
    by the same rules as the command line's import; rejections go into ``report``. Raises
    :class:`UnreadableFile` naming ``name``."""
    return list(_valid_rows(read_csv_stream(raw, name, read_center_rows), report.rejected))


async def write_centers(
    conn: AsyncConnection, rows: list[dict[str, Any]], report: ImportReport, *, now: datetime
) -> None:
    """Upsert checked rows in the caller's write transaction and count them into ``report``."""
    before = await count_centers(conn)
    report.written = await upsert_centers(conn, rows, now=now)
    # Inside the transaction nobody else adds centers, so growth means inserts.
    report.inserted = await count_centers(conn) - before
    report.updated = report.written - report.inserted


def _valid_rows(
    rows: Iterable[CenterRow | RejectedRow], rejected: list[RejectedRow]
) -> Iterator[dict[str, Any]]:
    """Row values to upsert, streamed; rejections are collected on the side."""
    for row in rows:
        if isinstance(row, CenterRow):
            values = row.values()
            values["search_key"] = search_key(row.name, row.address, row.city, row.region)
            yield values
        else:
            rejected.append(row)


def read_csv_file(
    path: Path, read_rows: Callable[[Iterable[str]], Iterator[_Row]]
) -> Iterator[_Row]:
    """The rows ``read_rows`` makes of the file's lines, streamed from disk. Every way the
    file as a whole can fail (missing, not UTF-8, no usable header, broken quoting) comes
    out as :class:`UnreadableFile`."""
    try:
        with path.open("rb") as raw:
            yield from read_csv_stream(raw, str(path), read_rows)
    except OSError as error:
        raise UnreadableFile(f"{path}: cannot read the file ({error.strerror or error})") from error


def read_csv_stream(
    raw: BinaryIO, name: str, read_rows: Callable[[Iterable[str]], Iterator[_Row]]
) -> Iterator[_Row]:
    """As :func:`read_csv_file`, from a file already open; messages name it ``name``."""
    try:
        yield from read_rows(_decoded_lines(raw, name))
    except CsvFileError as error:
        raise UnreadableFile(f"{name}: {error}") from error


def _decoded_lines(raw: BinaryIO, path: str) -> Iterator[str]:
    # Decoding line by line rather than through a text wrapper pins a bad byte to its line;
    # a text wrapper decodes in blocks and only knows the offset inside one.
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                f"{path}: line {number} is not UTF-8 text; save the file as CSV UTF-8"
            ) from error


def write_report(report: ImportReport, path: Path, out: TextIO) -> None:
    """The summary line, then each rejected row (up to :data:`REPORT_REJECTED_LIMIT`)."""
    if report.error is not None:
        out.write(f"error: {report.error}; nothing was imported\n")
        return
    out.write(f"{path}: {report.summary()}\n")
    for row in report.rejected[:REPORT_REJECTED_LIMIT]:
        out.write(f"line {row.line}: {row.reason}\n")
    hidden = len(report.rejected) - REPORT_REJECTED_LIMIT
    if hidden > 0:
        out.write(f"… and {hidden} more\n")
