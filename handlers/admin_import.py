"""/admin → "Import centers": the admin sends a CSV document, checked by the same rules as
the command line's import (``bot.importer``), and gets a report back."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Final

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Document, Message
from aiogram.utils.i18n import gettext as _

from bot.importer import ImportReport, UnreadableFile, read_center_stream, write_centers
from domain.center_rows import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RejectedRow
from handlers.access import AdminAccess
from handlers.admin import AdminForm
from handlers.callbacks import AdminAction, AdminCb
from handlers.ui import EVERY_MENU_BUTTON, Match, MenuButton
from storage.audit import record
from storage.database import Database
from storage.nearest import NearestCenters
from storage.users import User

router = Router(name=__name__)

# What the Bot API lets a bot download (getFile).
MAX_FILE_BYTES: Final = 20 * 1024 * 1024
# Rejected rows listed in the chat; more come as a CSV file.
SHOWN_REJECTED: Final = 20
_CSV_TYPES = frozenset({"text/csv", "text/comma-separated-values", "application/csv"})


@router.callback_query(AdminCb.filter(F.action == AdminAction.IMPORT), AdminAccess())
async def ask_for_file(query: CallbackQuery, bot: Bot, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(AdminForm.import_file)
    await bot.send_message(
        query.from_user.id,
        _(
            "Send the centers as a CSV file (UTF-8, up to 20 MB), as for the command-line "
            "import. Required columns: {required}. Optional: {optional}. Centers are matched "
            "by external_id: known ones are updated, new ones added."
        ).format(required=", ".join(REQUIRED_COLUMNS), optional=", ".join(OPTIONAL_COLUMNS)),
    )


def is_csv(document: Document) -> bool:
    name = (document.file_name or "").lower()
    return name.endswith(".csv") or document.mime_type in _CSV_TYPES


@router.message(StateFilter(AdminForm.import_file), AdminAccess(), Match(F.document))
async def import_file(
    message: Message,
    bot: Bot,
    account: User,
    db: Database,
    state: FSMContext,
    nearest_centers: NearestCenters,
    clock: Callable[[], datetime],
) -> None:
    document = message.document
    if not is_csv(document):
        await message.answer(_("This is not a CSV file. Please send a .csv file."))
        return  # the dialog stays open for the right file
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await message.answer(_("The file is larger than 20 MB. Please split it in parts."))
        return
    try:
        raw = await bot.download(document)
    except TelegramBadRequest:
        # "file is too big" when the size was not given in the message.
        await message.answer(_("The file is larger than 20 MB. Please split it in parts."))
        return
    await state.clear()
    name = document.file_name or "centers.csv"
    report = ImportReport()
    try:
        # Checking every row costs CPU: off the event loop, before taking the write lock.
        rows = await asyncio.to_thread(read_center_stream, raw, name, report)
    except UnreadableFile as error:
        await message.answer(
            _("The file could not be read: {error}. Nothing was imported.").format(
                error=escape(str(error))
            )
        )
        return
    if rows:
        now = clock()
        async with db.write() as conn:
            await write_centers(conn, rows, report, now=now)
            await record(
                conn,
                account.id,
                "centers.import",
                now=now,
                file=name,
                inserted=report.inserted,
                updated=report.updated,
                rejected=len(report.rejected),
            )
        # This process's nearest-center index, at once; other processes see the revision move.
        await nearest_centers.refresh(force=True)
    await message.answer(report_text(report))
    if len(report.rejected) > SHOWN_REJECTED:
        await message.answer_document(
            BufferedInputFile(rejected_file(report.rejected), filename="rejected-rows.csv"),
            caption=_("Every rejected row, with the reason."),
        )


# A command or a menu button is not an answer: handlers.access ends the dialog for it.
@router.message(
    StateFilter(AdminForm.import_file),
    AdminAccess(),
    Match(~F.document & ~F.text.startswith("/")),
    ~MenuButton(*EVERY_MENU_BUTTON),
)
async def not_a_file(message: Message) -> None:
    await message.answer(_("Please send the CSV file as a document (📎 → File)."))


def report_text(report: ImportReport) -> str:
    lines = [
        _("Import finished: {inserted} new, {updated} updated, {rejected} rejected.").format(
            inserted=report.inserted, updated=report.updated, rejected=len(report.rejected)
        )
    ]
    if report.rejected:
        # The reasons are the import rules' own words, the same as the command line prints.
        lines.append("")
        lines += [
            _("Line {line}: {reason}").format(line=row.line, reason=escape(row.reason))
            for row in report.rejected[:SHOWN_REJECTED]
        ]
        hidden = len(report.rejected) - SHOWN_REJECTED
        if hidden > 0:
            lines.append(_("… and {count} more, in the file below.").format(count=hidden))
    return "\n".join(lines)


def rejected_file(rejected: list[RejectedRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("line"), _("reason")])
    writer.writerows([row.line, row.reason] for row in rejected)
    return out.getvalue().encode("utf-8-sig")
