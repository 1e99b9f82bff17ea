"""Small steps many end-to-end tests share."""

EKATERINBURG = (56.8380, 60.5970)


async def consenting_user(env, language_code="ru", first_name="Анна"):
    """A user who has pressed /start and agreed to the privacy terms."""
    user = await env.tg.new_user(first_name=first_name, language_code=language_code)
    await user.send("/start")
    consent = await user.last_bot_message()
    await user.press(consent.buttons[0][0])
    return user


async def center_id_by_external(env, external_id):
    from sqlalchemy import select

    from storage.schema import centers

    async with env.db.read() as conn:
        return await conn.scalar(select(centers.c.id).where(centers.c.external_id == external_id))
