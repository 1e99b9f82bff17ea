"""Steps the announcement tests share: people to write to, and the coordinator's dialog."""

from sqlalchemy import func, select

from storage.schema import broadcasts, deliveries
from storage.subscriptions import subscribe
from storage.users import save_consent, set_blocked
from tests.helpers import eventually


async def residents(env, count, center_id=None, *, blocked=False, name="Житель"):
    """Consenting people with a started chat, subscribed to ``center_id`` when given
    (straight in the database: the subscription flow has tests of its own)."""
    people = [await env.tg.new_user(f"{name} {i}", started=True) for i in range(count)]
    async with env.db.write() as conn:
        for person in people:
            await save_consent(
                conn,
                user_id=person.id,
                display_name=person.info["first_name"],
                language="ru",
                consent_version=env.settings.consent_version,
                now=env.clock(),
            )
            if center_id is not None:
                await subscribe(conn, person.id, center_id, now=env.clock())
            if blocked:
                await set_blocked(conn, person.id, True)
    return people


async def open_section(coordinator):
    await coordinator.send("/coord")
    return await coordinator.press("📣 Announcement")


async def compose(coordinator, text, audience="⭐ The center's subscribers"):
    """Open the section, send ``text``, pick ``audience``: the bot's answer to that press
    (the choice, the preview and the summary)."""
    await open_section(coordinator)
    await coordinator.send(text)
    return await coordinator.press(audience)


def summary_of(messages):
    return next(m for m in messages if (m.text or "").startswith("☝️"))


async def report(coordinator, *fragments):
    """The coordinator's message about an announcement once it says all of ``fragments``
    (it is edited as the announcement goes out)."""

    async def found():
        for message in reversed(await coordinator.messages()):
            if message.from_bot and all(f in (message.text or "") for f in fragments):
                return message
        return None

    return await eventually(found, seconds=20)


async def got(person, html):
    """The messages from the bot that carry this announcement (text or caption)."""
    return [m for m in await person.messages() if m.from_bot and m.html == html]


async def delivery_states(env, broadcast_id=None):
    query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    if broadcast_id is not None:
        query = query.where(deliveries.c.broadcast_id == broadcast_id)
    async with env.db.read() as conn:
        return dict((await conn.execute(query)).all())


async def broadcast_rows(env):
    async with env.db.read() as conn:
        return (await conn.execute(select(broadcasts).order_by(broadcasts.c.id))).all()


async def data_rows(env):
    """Every row but the worker lease, which the bot renews on its own every few seconds."""
    rows = await env.rows()
    rows.pop("leases")
    return rows
