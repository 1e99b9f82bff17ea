"""Activities made to measure for end-to-end tests."""

from datetime import timedelta

from storage.activities import insert_activity
from tests.helpers import center_id_by_external


async def add_activity(env, external_center="demo-ekb-1", *, in_hours=26, **values):
    center_id = await center_id_by_external(env, external_center)
    starts_at = env.clock() + timedelta(hours=in_hours)
    row = {
        "center_id": center_id,
        "title": "Клуб проверки",
        "description": "Играем и учимся.",
        "category": "seniors",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=2),
        "capacity": 10,
        "created_at": env.clock(),
        **values,
    }
    async with env.db.write() as conn:
        return await insert_activity(conn, **row)


async def subscribed_user(env, external_center="demo-ekb-1", language_code="en", name="Ann"):
    from tests.helpers import consenting_user

    user = await consenting_user(env, language_code=language_code, first_name=name)
    center_id = await center_id_by_external(env, external_center)
    await user.send(f"/start center_{center_id}")
    card = await user.last_bot_message()
    await user.press(card.buttons[0][0], message_id=card.message_id)
    return user


async def add_quiet_center(env, external_id="test-quiet"):
    """A center with no demo activities, for tests that need to see a whole list."""
    from storage.centers import upsert_centers

    row = {
        "external_id": external_id,
        "name": "Тихий центр",
        "address": "ул. Тихая, 1",
        "city": "Екатеринбург",
        "region": None,
        "latitude": 56.80,
        "longitude": 60.55,
        "timezone": "Asia/Yekaterinburg",
        "opening_hours": None,
        "phone": None,
    }
    async with env.db.write() as conn:
        await upsert_centers(conn, [row], now=env.clock())
    return external_id
