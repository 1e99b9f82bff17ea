"""A center's coordinators: who they are; admins invite and revoke, a coordinator hands over.

Invitations are one-time deep links (see handlers/invites.py). An admin's invitation may
cover several centers: found by name, added one by one before the link is sent on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from html import escape
from typing import Annotated

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from pydantic import Field

from bot.commands import refresh_personal_commands
from bot.config import Settings
from bot.sender import Sender
from domain.deeplinks import invite_link
from handlers.access import AdminAccess, CenterAccess, CoordinatorStates, is_admin
from handlers.callbacks import CoordCallback, CoordMenuCb, CoordSection, RowId
from handlers.coord import back_to_menu
from handlers.ui import DIALOG_ANSWER, show_in_place
from storage.audit import record
from storage.centers import Center, get_center, search_centers
from storage.coordinators import (
    INVITE_LIFETIME,
    add_invite_center,
    center_coordinators,
    coordinates,
    create_invite,
    get_invite,
    revoke,
)
from storage.database import Database
from storage.deliveries import enqueue
from storage.users import User, get_user

router = Router(name=__name__)

Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,32}$")]


class TeamAction(StrEnum):
    INVITE = "i"
    HANDOVER = "h"
    REVOKE_ASK = "r"
    REVOKE = "y"


class TeamCb(CoordCallback, prefix="kt"):
    action: TeamAction
    center_id: RowId
    user_id: int = 0


class InviteCenterCb(CoordCallback, prefix="ki"):
    """Add a center to the admin's invitation ``token``; ``center_id`` 0: ask for a name."""

    token: Token
    center_id: int = Field(default=0, ge=0, le=2**31 - 1)


class InviteStates(CoordinatorStates):
    center_query = State()


def _team_button(text: str, action: TeamAction, center_id: int, user_id: int = 0) -> list:
    data = TeamCb(action=action, center_id=center_id, user_id=user_id).pack()
    return [InlineKeyboardButton(text=text, callback_data=data)]


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.TEAM), CenterAccess())
async def team(
    query: CallbackQuery, center: Center, account: User, db: Database, settings: Settings
) -> None:
    async with db.read() as conn:
        people = await center_coordinators(conn, center.id)
    admin = is_admin(account.id, settings)
    lines = [_("<b>Coordinators of {center}</b>").format(center=escape(center.name))]
    lines += [f"• {escape(person.display_name)}" for person in people] or [_("Nobody yet.")]
    rows = []
    if admin:
        rows.append(_team_button(_("✉️ Invite a coordinator"), TeamAction.INVITE, center.id))
        rows += [
            _team_button(
                _("Revoke {name}").format(name=person.display_name),
                TeamAction.REVOKE_ASK,
                center.id,
                person.user_id,
            )
            for person in people
        ]
    if any(person.user_id == account.id for person in people):
        rows.append(_team_button(_("🤝 Hand over to someone else"), TeamAction.HANDOVER, center.id))
    rows.append([back_to_menu(center.id)])
    await show_in_place(query, "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))
    await query.answer()


async def _send_invite(
    query: CallbackQuery, bot: Bot, token: str, center_names: list[str], *, admin: bool
) -> None:
    me = await bot.me()
    text = _(
        "Invitation to coordinate {centers}. Send this link to the person; it works once and "
        "for {hours} hours:\n\n{link}"
    ).format(
        centers=", ".join(escape(name) for name in center_names),
        hours=int(INVITE_LIFETIME.total_seconds() // 3600),
        link=invite_link(me.username or "", token),
    )
    keyboard = None
    if admin:
        button = InlineKeyboardButton(
            text=_("➕ Add another center to this invitation"),
            callback_data=InviteCenterCb(token=token).pack(),
        )
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[button]])
    await bot.send_message(query.from_user.id, text, reply_markup=keyboard)


@router.callback_query(TeamCb.filter(F.action == TeamAction.INVITE), AdminAccess(), CenterAccess())
async def invite(
    query: CallbackQuery,
    center: Center,
    account: User,
    bot: Bot,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        token = await create_invite(conn, [center.id], by=account.id, now=now)
        await record(conn, account.id, "invite.create", now=now, center_id=center.id)
    await query.answer()
    await _send_invite(query, bot, token, [center.name], admin=True)


@router.callback_query(TeamCb.filter(F.action == TeamAction.HANDOVER), CenterAccess())
async def hand_over(
    query: CallbackQuery,
    center: Center,
    account: User,
    bot: Bot,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        if not await coordinates(conn, account.id, center.id):
            await query.answer(_("Only a coordinator of this center can hand it over."))
            return
        token = await create_invite(conn, [center.id], by=account.id, now=now, replaces=account.id)
        await record(conn, account.id, "invite.handover", now=now, center_id=center.id)
    await query.answer()
    await _send_invite(query, bot, token, [center.name], admin=False)
    await bot.send_message(
        query.from_user.id,
        _("When the person opens the link, they take your place and you stop coordinating."),
    )


@router.callback_query(
    TeamCb.filter(F.action == TeamAction.REVOKE_ASK), AdminAccess(), CenterAccess()
)
async def revoke_ask(
    query: CallbackQuery, callback_data: TeamCb, center: Center, db: Database
) -> None:
    async with db.read() as conn:
        person = await get_user(conn, callback_data.user_id)
        still = person is not None and await coordinates(conn, person.id, center.id)
    if not still:
        await query.answer(_("This person no longer coordinates this center."))
        return
    confirm = TeamCb(action=TeamAction.REVOKE, center_id=center.id, user_id=person.id).pack()
    back = CoordMenuCb(section=CoordSection.TEAM, center_id=center.id).pack()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("Yes, revoke"), callback_data=confirm)],
            [InlineKeyboardButton(text=_("No"), callback_data=back)],
        ]
    )
    text = _("Revoke {name}'s rights at {center}?").format(
        name=escape(person.display_name), center=escape(center.name)
    )
    await show_in_place(query, text, keyboard)
    await query.answer()


@router.callback_query(TeamCb.filter(F.action == TeamAction.REVOKE), AdminAccess(), CenterAccess())
async def revoke_confirmed(
    query: CallbackQuery,
    callback_data: TeamCb,
    center: Center,
    account: User,
    db: Database,
    i18n: I18n,
    sender: Sender,
    settings: Settings,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        revoked = await revoke(conn, callback_data.user_id, center.id)
        person = await get_user(conn, callback_data.user_id)
        if revoked:
            await record(
                conn,
                account.id,
                "coordinator.revoke",
                now=now,
                center_id=center.id,
                user_id=callback_data.user_id,
            )
        if revoked and person is not None:
            with i18n.context(), i18n.use_locale(person.language):
                text = _("You no longer coordinate {center}.").format(center=escape(center.name))
            await enqueue(conn, user_id=person.id, kind="role", text=text, now=now)
    sender.notify()
    if not revoked:
        await query.answer(_("This person no longer coordinates this center."))
        return
    admin = is_admin(callback_data.user_id, settings)
    await refresh_personal_commands(query.bot, i18n, db, callback_data.user_id, admin=admin)
    await show_in_place(
        query,
        _("Done: their coordinator's rights at {center} are revoked.").format(
            center=escape(center.name)
        ),
        InlineKeyboardMarkup(inline_keyboard=[[back_to_menu(center.id)]]),
    )
    await query.answer()


@router.callback_query(InviteCenterCb.filter(F.center_id == 0), AdminAccess())
async def ask_center(
    query: CallbackQuery, callback_data: InviteCenterCb, state: FSMContext
) -> None:
    await state.set_state(InviteStates.center_query)
    await state.update_data(token=callback_data.token)
    await query.answer()
    await query.bot.send_message(
        query.from_user.id, _("Type the name, city or street of the center to add.")
    )


@router.message(StateFilter(InviteStates.center_query), *DIALOG_ANSWER, AdminAccess())
async def found_centers(message: Message, state: FSMContext, db: Database) -> None:
    token = (await state.get_data()).get("token", "")
    async with db.read() as conn:
        found = await search_centers(conn, message.text or "", limit=8)
    if not found:
        await message.answer(_("No center found. Try another word."))
        return
    rows = [
        [
            InlineKeyboardButton(
                text=f"{center.name}, {center.address}"[:60],
                callback_data=InviteCenterCb(token=token, center_id=center.id).pack(),
            )
        ]
        for center in found
    ]
    await message.answer(_("Which one?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(InviteCenterCb.filter(F.center_id > 0), AdminAccess())
async def add_center(
    query: CallbackQuery,
    callback_data: InviteCenterCb,
    account: User,
    bot: Bot,
    db: Database,
    state: FSMContext,
    clock: Callable[[], datetime],
) -> None:
    now = clock()
    async with db.write() as conn:
        center = await get_center(conn, callback_data.center_id)
        added = center is not None and await add_invite_center(
            conn, callback_data.token, center.id, by=account.id
        )
        if added:
            await record(conn, account.id, "invite.add_center", now=now, center_id=center.id)
        invite = await get_invite(conn, callback_data.token) if added else None
        names = [
            found.name
            for found in [
                await get_center(conn, cid) for cid in (invite.center_ids if invite else ())
            ]
            if found is not None
        ]
    if not added:
        await query.answer(_("This invitation can no longer be changed."))
        return
    await state.clear()
    await query.answer()
    await _send_invite(query, bot, callback_data.token, names, admin=True)
