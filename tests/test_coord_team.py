"""Appointing coordinators: invitation links, hand-over, revocation, and the audit log."""

import re

import pytest
from sqlalchemy import select

from handlers.callbacks import CoordMenuCb, CoordSection
from handlers.coord_team import InviteCenterCb, TeamAction, TeamCb
from storage.schema import audit_log, coordinators
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    eventually,
    pushed,
    revoke_coordinator,
    sender_idle,
)

ADMIN_ID = 990_001
admin_settings = pytest.mark.settings(admin_ids=str(ADMIN_ID))


async def _coordinators(env, center_id):
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(coordinators.c.user_id).where(coordinators.c.center_id == center_id)
        )
        return sorted(rows.scalars())


async def _actions(env):
    async with env.db.read() as conn:
        return [
            row.action for row in await conn.execute(select(audit_log).order_by(audit_log.c.id))
        ]


async def _personal_commands(env, user):
    for entry in await env.tg.commands():
        if entry["scope"] == {"type": "chat", "chat_id": user.id}:
            return [command["command"] for command in entry["commands"]]
    return None


async def _press_data(user, data):
    """Press a button the bot would show this user, from their last message."""
    last = await user.last_bot_message()
    await user.callback(last.message_id, data)


async def _invite_token(user) -> str:
    async def link():
        for message in reversed(await user.messages()):
            found = message.from_bot and re.search(
                r"start=inv_([A-Za-z0-9_-]+)", message.text or ""
            )
            if found:
                return found.group(1)
        return None

    return await eventually(link)


@admin_settings
async def test_admin_invites_a_coordinator_who_accepts_once(bot_env):
    env = bot_env
    center = await center_id_by_external(env, "demo-ekb-1")
    admin = await consenting_user(env, first_name="Админ", user_id=ADMIN_ID)
    await _press_data(admin, TeamCb(action=TeamAction.INVITE, center_id=center).pack())
    token = await _invite_token(admin)

    olga = await consenting_user(env, first_name="Ольга")
    await olga.send(f"/start inv_{token}")
    assert "/coord" in (await olga.last_bot_message()).text
    assert await _coordinators(env, center) == [olga.id]
    await pushed(admin, "Ольга")  # the admin hears the link was taken up
    assert "coord" in await _personal_commands(env, olga)
    assert "admin" in await _personal_commands(env, admin)

    await olga.send("/coord")
    menu = await olga.last_bot_message()
    assert any("👥 Координаторы" in row for row in menu.buttons)

    # Single use: a second person gets a clear answer and no rights.
    boris = await consenting_user(env, first_name="Борис")
    await boris.send(f"/start inv_{token}")
    assert "уже использовано" in (await boris.last_bot_message()).text
    assert await _coordinators(env, center) == [olga.id]
    assert await _actions(env) == ["invite.create", "coordinator.appoint"]
    await sender_idle(env)


@admin_settings
async def test_an_invitation_expires_after_72_hours(bot_env):
    env = bot_env
    center = await center_id_by_external(env, "demo-ekb-1")
    admin = await consenting_user(env, user_id=ADMIN_ID)
    await _press_data(admin, TeamCb(action=TeamAction.INVITE, center_id=center).pack())
    token = await _invite_token(admin)
    env.clock.advance(hours=72, seconds=1)
    olga = await consenting_user(env, first_name="Ольга")
    await olga.send(f"/start inv_{token}")
    assert "истёк" in (await olga.last_bot_message()).text
    assert await _coordinators(env, center) == []


async def test_a_link_needs_consent_first_and_a_made_up_one_gives_nothing(bot_env):
    env = bot_env
    stranger = await env.tg.new_user(first_name="Ира", language_code="ru")
    await stranger.send("/start inv_AAAAAAAAAAAAAAAAAAAAAAAA")
    texts = [m.text for m in await stranger.messages() if m.from_bot]
    assert any("примите" in text.lower() for text in texts)
    resident = await consenting_user(env)
    before = await env.rows()
    await resident.send("/start inv_AAAAAAAAAAAAAAAAAAAAAAAA")
    assert "не существует" in (await resident.last_bot_message()).text
    assert await env.rows() == before


async def test_a_coordinator_hands_over_and_loses_the_rights(bot_env):
    env = bot_env
    center = await center_id_by_external(env, "demo-ekb-1")
    olga = await coordinating_user(env, center)
    await olga.send("/coord")
    await olga.press("👥 Координаторы")
    await olga.press("🤝 Передать другому")
    token = await _invite_token(olga)
    boris = await consenting_user(env, first_name="Борис")
    await boris.send(f"/start inv_{token}")
    assert await _coordinators(env, center) == [boris.id]
    assert "coordinator.handover" in await _actions(env)

    await pushed(olga, "Борис", "Спасибо")
    await sender_idle(env)
    # Olga's old menu buttons no longer work, and change nothing.
    before = await env.rows()
    await _press_data(olga, CoordMenuCb(section=CoordSection.TEAM, center_id=center).pack())
    answers = await env.tg.callbacks(olga.id)
    assert "координаторы этого центра" in answers[-1]["answer"]["text"]
    assert await env.rows() == before


@admin_settings
async def test_admin_revokes_and_the_person_is_told(bot_env):
    env = bot_env
    center = await center_id_by_external(env, "demo-ekb-1")
    olga = await coordinating_user(env, center)
    admin = await consenting_user(env, user_id=ADMIN_ID)
    await _press_data(admin, CoordMenuCb(section=CoordSection.TEAM, center_id=center).pack())
    await admin.press("Отозвать Ольга")
    await admin.press("Да, отозвать")
    assert await _coordinators(env, center) == []
    assert "coord" not in await _personal_commands(env, olga)
    await pushed(olga, "больше не координируете")
    await olga.send("/coord")
    assert "приглашению" in (await olga.last_bot_message()).text
    assert (await _actions(env))[-1] == "coordinator.revoke"


@admin_settings
async def test_an_invitation_can_cover_several_centers(bot_env):
    env = bot_env
    ekb = await center_id_by_external(env, "demo-ekb-1")
    admin = await consenting_user(env, user_id=ADMIN_ID)
    await _press_data(admin, TeamCb(action=TeamAction.INVITE, center_id=ekb).pack())
    token = await _invite_token(admin)
    await admin.press("➕ Добавить в приглашение ещё центр")
    await admin.send("Москва")  # a dialog answer, not a search of the residents' menu
    choice = await admin.last_bot_message()
    assert choice.text == "Какой?"
    other = int(choice.callback_data[choice.buttons[0][0]].rsplit(":", 1)[1])
    await admin.press(choice.buttons[0][0])
    olga = await consenting_user(env, first_name="Ольга")
    await olga.send(f"/start inv_{token}")
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(coordinators.c.center_id).where(coordinators.c.user_id == olga.id)
        )
        assert sorted(rows.scalars()) == sorted([ekb, other])


async def test_team_actions_are_refused_to_everyone_without_the_right(bot_env):
    env = bot_env
    ekb = await center_id_by_external(env, "demo-ekb-1")
    other = await center_id_by_external(env, "demo-msk-1")
    olga = await coordinating_user(env, ekb, first_name="Ольга")
    resident = await consenting_user(env, first_name="Пётр")
    foreign = await coordinating_user(env, other, first_name="Вера")
    revoked = await coordinating_user(env, ekb, first_name="Глеб")
    await revoke_coordinator(env, revoked, ekb)
    forged = [
        TeamCb(action=TeamAction.INVITE, center_id=ekb).pack(),
        TeamCb(action=TeamAction.REVOKE, center_id=ekb, user_id=olga.id).pack(),
        TeamCb(action=TeamAction.REVOKE_ASK, center_id=ekb, user_id=olga.id).pack(),
        TeamCb(action=TeamAction.HANDOVER, center_id=ekb).pack(),
        CoordMenuCb(section=CoordSection.TEAM, center_id=ekb).pack(),
        InviteCenterCb(token="A" * 24, center_id=other).pack(),
        TeamCb(action=TeamAction.INVITE, center_id=2**31 - 1).pack(),
        "kt:i:abc:0",
    ]
    before = await env.rows()
    for user in (resident, foreign, revoked):
        for data in forged:
            await _press_data(user, data)
        answers = (await env.tg.callbacks(user.id))[-len(forged) :]
        assert all(a["answer"] and a["answer"]["text"] for a in answers), answers
    # Olga coordinates but is no admin: inviting and revoking are not hers to do.
    for data in forged[:3]:
        await _press_data(olga, data)
    assert await env.rows() == before
