"""Accepting an invitation to coordinate: ``/start inv_<token>`` from the link an admin (or a
departing coordinator) sent. Anyone can type a payload, so the token is checked in the
database and claimed by a conditional UPDATE: one use, before it expires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.commands import refresh_personal_commands
from bot.config import Settings
from bot.sender import Sender
from domain.deeplinks import parse_invite_payload
from handlers.access import is_admin
from handlers.consent import is_consented, send_consent_screen
from storage.audit import record
from storage.centers import get_center
from storage.coordinators import Invite, appoint, coordinates, get_invite, revoke, use_invite
from storage.database import Database
from storage.deliveries import enqueue
from storage.users import User, get_user

router = Router(name=__name__)


class InviteArgs(CommandStart):
    """``/start`` whose payload looks like an invitation."""

    def __init__(self) -> None:
        super().__init__(deep_link=True)

    async def __call__(self, message: Message, bot: Bot) -> bool | dict:
        found = await super().__call__(message, bot)
        if not found:
            return False
        token = parse_invite_payload(found["command"].args)
        return {"token": token} if token else False


@router.message(InviteArgs())
async def accept(
    message: Message,
    token: str,
    bot: Bot,
    account: User | None,
    settings: Settings,
    db: Database,
    i18n: I18n,
    sender: Sender,
    clock: Callable[[], datetime],
    state: FSMContext,
) -> None:
    await state.clear()
    if not is_consented(account, settings):
        await message.answer(
            _(
                "To become a coordinator, first accept the privacy terms below, then open the "
                "invitation link again."
            )
        )
        await send_consent_screen(bot, message.chat.id, settings)
        return
    now = clock()
    taken_over = False
    async with db.write() as conn:
        invite = await get_invite(conn, token)
        if invite is None:
            answer = _("This invitation link is mistyped or no longer exists.")
        elif invite.used_by is not None:
            answer = _("This invitation has already been used. Ask for a new one.")
        elif invite.expires_at <= now:
            answer = _("This invitation has expired. Ask for a new one.")
        elif not await use_invite(conn, token, account.id, now=now):
            answer = _("This invitation has already been used. Ask for a new one.")
        else:
            names = await _take_up(conn, i18n, account, invite, now)
            taken_over = True
            answer = _(
                "You now coordinate: {centers}.\n\n/coord opens the coordinator's menu."
            ).format(centers=names)
    sender.notify()
    await message.answer(answer)
    if taken_over:
        for user_id in {account.id, *([invite.replaces] if invite.replaces else [])}:
            admin = is_admin(user_id, settings)
            await refresh_personal_commands(bot, i18n, db, user_id, admin=admin)


async def _take_up(
    conn: AsyncConnection, i18n: I18n, account: User, invite: Invite, now: datetime
) -> str:
    names = []
    for center_id in invite.center_ids:
        center = await get_center(conn, center_id)
        if center is None:
            continue
        names.append(escape(center.name))
        await appoint(conn, account.id, center_id, by=invite.created_by, now=now)
        await record(
            conn,
            account.id,
            "coordinator.appoint",
            now=now,
            center_id=center_id,
            invited_by=invite.created_by,
        )
        replaced = invite.replaces
        if (
            replaced is not None
            and replaced != account.id
            and await coordinates(conn, replaced, center_id)
        ):
            await revoke(conn, replaced, center_id)
            await record(
                conn, account.id, "coordinator.handover", now=now, center_id=center_id, by=replaced
            )
    inviter = await get_user(conn, invite.created_by)
    if inviter is not None and inviter.id != account.id and names:
        with i18n.context(), i18n.use_locale(inviter.language):
            if invite.replaces == inviter.id:
                text = _("🤝 {name} has taken over {centers} from you. Thank you for your work!")
            else:
                text = _("✅ {name} accepted your invitation and now coordinates: {centers}.")
            text = text.format(name=escape(account.display_name), centers=", ".join(names))
        await enqueue(
            conn,
            user_id=inviter.id,
            kind="invite",
            text=text,
            dedup_key=f"invite:{invite.token}",
            now=now,
        )
    return ", ".join(names) or "—"
