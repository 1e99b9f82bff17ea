"""Small steps many end-to-end tests share."""

EKATERINBURG = (56.8380, 60.5970)


async def consenting_user(env, language_code="ru", first_name="Анна", user_id=None):
    """A user who has pressed /start and agreed to the privacy terms."""
    user = await env.tg.new_user(first_name=first_name, language_code=language_code, id=user_id)
    await user.send("/start")

    async def consent_screen():
        last = await user.last_bot_message()
        return last if last and last.buttons else None

    consent = await eventually(consent_screen)
    await user.press(consent.buttons[0][0])
    await eventually(lambda: _stored(env, user.id))
    return user


async def _stored(env, user_id):
    from storage.users import get_user

    async with env.db.read() as conn:
        return await get_user(conn, user_id)


async def center_id_by_external(env, external_id):
    from sqlalchemy import select

    from storage.schema import centers

    async with env.db.read() as conn:
        return await conn.scalar(select(centers.c.id).where(centers.c.external_id == external_id))


async def eventually(check, seconds=10.0):
    """Poll an async check until it returns something truthy: for concurrent handling, where
    "update confirmed" does not yet mean "update handled"."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.02)


async def all_answered(env, user, count):
    async def check():
        found = [c for c in await env.tg.callbacks(user.id) if c["answered"]]
        return found if len(found) >= count else None

    return await eventually(check)


async def pushed(user, *fragments):
    """The user's last message from the bot once it contains ``fragments``: pushes go through
    the sender, which delivers them in the background after the handler has returned."""

    async def arrived():
        last = await user.last_bot_message()
        return last if last and all(f in (last.text or "") for f in fragments) else None

    return await eventually(arrived)


async def sender_idle(env) -> None:
    """Wait until the sender has sent all that is due and recorded every outcome."""
    from sqlalchemy import and_, or_, select

    from storage.deliveries import PENDING, SENDING
    from storage.schema import deliveries

    async def drained():
        # One statement, so one snapshot: on PostgreSQL two queries in turn could each miss a
        # row the sender claimed between them (due in neither, in flight in neither).
        due = and_(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= env.clock())
        in_hand = select(deliveries.c.id).where(or_(deliveries.c.state == SENDING, due)).limit(1)
        async with env.db.read() as conn:
            return await conn.scalar(in_hand) is None

    assert await eventually(drained), "the sender did not finish"


async def nothing_in_chat(env, user, prefix: str) -> bool:
    """True when no message from the bot starting with ``prefix`` reached the user, checked
    once the sender has sent everything that is due (so a message still on its way counts)."""
    await sender_idle(env)
    return not [m for m in await user.messages() if (m.text or "").startswith(prefix)]


async def coordinating_user(env, center_id, first_name="Ольга", language_code="ru"):
    """A consenting user appointed coordinator of one center (straight in the database; the
    invitation flow has tests of its own)."""
    from storage.coordinators import appoint

    user = await consenting_user(env, language_code=language_code, first_name=first_name)
    async with env.db.write() as conn:
        await appoint(conn, user.id, center_id, by=0, now=env.clock())
    return user


async def revoke_coordinator(env, user, center_id):
    from storage.coordinators import revoke

    async with env.db.write() as conn:
        await revoke(conn, user.id, center_id)
