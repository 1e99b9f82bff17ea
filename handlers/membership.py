"""Someone blocked or unblocked the bot: pushes to them stop or resume."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from handlers.ui import Match
from storage.database import Database
from storage.users import User, set_blocked

router = Router(name=__name__)
router.my_chat_member.filter(Match(F.chat.type == "private"))


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def blocked(event: ChatMemberUpdated, account: User | None, db: Database) -> None:
    if account is not None:
        async with db.write() as conn:
            await set_blocked(conn, account.id, True)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def unblocked(event: ChatMemberUpdated, account: User | None, db: Database) -> None:
    if account is not None:
        async with db.write() as conn:
            await set_blocked(conn, account.id, False)
