"""Residents and activities end to end: browse, sign up, waitlist, offers, cancel, calendar."""

import re

from sqlalchemy import select

from bot.jobs import waitlist_job
from storage.schema import activities, signups
from storage.users import set_blocked
from tests.activity_helpers import add_activity, add_quiet_center, subscribed_user
from tests.helpers import pushed


async def signup_rows(env):
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(signups.c.user_id, signups.c.status, signups.c.party_size).order_by(signups.c.id)
        )
        return [tuple(r) for r in rows]


async def seats_taken(env, activity_id):
    async with env.db.read() as conn:
        return await conn.scalar(
            select(activities.c.seats_taken).where(activities.c.id == activity_id)
        )


async def open_card(user, title="Клуб проверки", menu="🗓 Activities"):
    [listing] = await user.press(menu)
    label = next(row[0] for row in listing.buttons if title in row[0])
    [card] = await user.press(label)
    return listing, card


async def test_browse_sign_up_see_schedule_and_cancel(bot_env):
    activity_id = await add_activity(bot_env, capacity=3)
    user = await subscribed_user(bot_env)
    listing, card = await open_card(user)
    assert listing.text.startswith("Activities")
    assert "Клуб проверки — Соседи на Малышева · 3 places left of 3" in listing.text
    assert card.text.startswith("Клуб проверки")
    assert "3 places left of 3" in card.text and "Играем и учимся." in card.text
    [card] = await user.press("✅ Sign up")
    assert "✅ You are signed up." in card.text and "2 places left of 3" in card.text
    assert card.buttons[0] == ["❌ Cancel my sign-up"]
    assert await seats_taken(bot_env, activity_id) == 1

    [schedule] = await user.press("📋 My schedule")
    assert "Клуб проверки" in schedule.text and "You are signed up" in schedule.text
    [document] = await user.press("📅 All of it to my calendar")
    calendar = (await bot_env.tg.file_bytes(document.document["file_id"])).decode()
    assert f"UID:activity-{activity_id}@" in calendar and "TZID=Asia/Yekaterinburg" in calendar

    [confirm] = await user.press("❌ Cancel my sign-up", message_id=card.message_id)
    assert confirm.buttons == [["Yes, cancel it", "No, keep it"]]
    [card] = await user.press("Yes, cancel it")
    assert card.buttons[0] == ["✅ Sign up"]
    assert await seats_taken(bot_env, activity_id) == 0
    assert await signup_rows(bot_env) == [(user.id, "cancelled", 1)]


async def test_full_activity_waitlist_offer_accept_and_expiry(bot_env):
    activity_id = await add_activity(bot_env, capacity=1, in_hours=48)
    anna = await subscribed_user(bot_env, name="Anna")
    boris = await subscribed_user(bot_env, name="Boris", language_code="ru")
    vera = await subscribed_user(bot_env, name="Vera")
    _listing, card = await open_card(anna)
    await anna.press("✅ Sign up")
    _listing, boris_card = await open_card(boris, menu="🗓 Занятия")
    [boris_card] = await boris.press("✅ Записаться")
    assert "Вы номер 1 в листе ожидания." in boris_card.text
    _listing, vera_card = await open_card(vera)
    [vera_card] = await vera.press("✅ Sign up")
    assert "You are number 2 on the waitlist." in vera_card.text

    await anna.press("❌ Cancel my sign-up")
    await anna.press("Yes, cancel it")
    offer = await pushed(boris, "🎟 Освободилось место")
    # The deadline names its day: an offer can run past midnight.
    assert re.search(r"Оно за вами до \d{1,2} [а-я]+, \d\d:\d\d", offer.text)
    assert offer.buttons == [["✅ Приду", "✖ Нет, спасибо"]]
    assert await seats_taken(bot_env, activity_id) == 1  # held for Boris

    # Boris does not answer; 12 hours later the offer passes to Vera.
    bot_env.clock.advance(hours=12, minutes=1)
    await waitlist_job(
        bot_env.db, bot_env.i18n, bot_env.dispatcher["sender"], bot_env.settings, bot_env.clock
    )
    assert await pushed(boris, "освободившееся место")
    assert await pushed(vera, "🎟 A place has come free for you")
    [card] = await vera.press("✅ I will come")
    assert "✅ You are signed up." in card.text
    # Boris's old offer button is now refused and changes nothing.
    before = await signup_rows(bot_env)
    await boris.press("✅ Приду", message_id=offer.message_id)
    assert await signup_rows(bot_env) == before
    assert [status for _, status, _ in before] == ["cancelled", "expired", "confirmed"]


async def test_companions_count_toward_capacity(bot_env):
    activity_id = await add_activity(
        bot_env, title="Мастерская для детей", capacity=4, max_companions=2
    )
    user = await subscribed_user(bot_env)
    _listing, card = await open_card(user, "Мастерская для детей")
    [choice] = await user.press("👨‍👧 Sign up with companions")
    assert choice.buttons == [["Just me"], ["Me + 1"], ["Me + 2"]]
    [card] = await user.press("Me + 2")
    assert "you and 2 more" in card.text and "1 place left of 4" in card.text
    assert await seats_taken(bot_env, activity_id) == 3


async def test_forged_activity_callbacks_change_nothing(bot_env):
    started = await add_activity(bot_env, in_hours=-1)
    cancelled = await add_activity(bot_env, status="cancelled")
    full = await add_activity(bot_env, capacity=1)
    user = await subscribed_user(bot_env)
    other = await subscribed_user(bot_env, name="Other")
    await open_card(other)
    await other.press("✅ Sign up")
    async with bot_env.db.read() as conn:
        other_signup = await conn.scalar(select(signups.c.id))
    message_id = (await user.last_bot_message()).message_id
    before = await bot_env.rows()
    forged = {
        "a:j:999999:0:1": "This activity is no longer in the list.",
        f"a:j:{started}:0:1": "This activity has already started.",
        f"a:j:{cancelled}:0:1": "This activity was cancelled.",
        f"a:j:{full}:0:9": "That is more people than this activity allows.",
        f"a:j:{full}:1:1": "This activity takes no sign-ups of this kind.",
        f"a:j:{full}:0:0": "That is more people than this activity allows.",
        f"s:x:{other_signup}": "This activity is no longer in the list.",
        f"s:a:{other_signup}": "This activity is no longer in the list.",
        f"s:q:{other_signup}": "This activity is no longer in the list.",
        "s:x:999999": "This activity is no longer in the list.",
        "a:o:999999:0:1": "This activity is no longer in the list.",
        "al:0:n:95:0:a::0:0": "This button is out of date.",
        "al:0:s:0:0:a:nonsense:0:0": "This button is out of date.",
        "my:z": "This button is out of date.",
    }
    for data in forged:
        await user.callback(message_id, data)
    answers = {c["data"]: c["answer"]["text"] for c in await bot_env.tg.callbacks(user.id)}
    for data, expected in forged.items():
        assert answers[data] == expected, data
    assert await bot_env.rows() == before


async def test_activities_need_a_subscription_or_a_location(bot_env):
    await add_activity(bot_env)
    user = await bot_env.tg.new_user(language_code="en")
    [reply] = await user.send("🗓 Activities")
    assert reply.text.startswith("Here you will see what is on")
    await user.send_location(56.8380, 60.5970)
    [nearby] = await user.press("🗓 What's on nearby")
    assert "Клуб проверки" in nearby.text


async def test_filters_by_day_and_category(bot_env):
    center = await add_quiet_center(bot_env)
    await add_activity(bot_env, center, title="Скоро лекция", category="lectures", in_hours=1)
    await add_activity(bot_env, center, title="Через 3 дня спорт", category="sport", in_hours=72)
    await add_activity(bot_env, center, title="Через 10 дней", category="sport", in_hours=240)
    user = await subscribed_user(bot_env, center)
    [listing] = await user.press("🗓 Activities")
    assert all(t in listing.text for t in ("Скоро лекция", "Через 3 дня", "Через 10 дней"))
    [week] = await user.press("This week")
    assert "Через 10 дней" not in week.text and "Через 3 дня спорт" in week.text
    [picker] = await user.press("🏷 Category")
    assert ["🏃 Sport"] in picker.buttons
    [sport] = await user.press("🏃 Sport")
    assert "Скоро лекция" not in sport.text and "Через 3 дня спорт" in sport.text
    assert "Через 10 дней" not in sport.text  # the week filter stays on


async def one_seat_taken_one_waiting(env):
    """An activity with one seat: Anna holds it, Boris is first on the waitlist."""
    activity_id = await add_activity(env, capacity=1, in_hours=48)
    anna = await subscribed_user(env, name="Anna")
    boris = await subscribed_user(env, name="Boris")
    for user in (anna, boris):
        await open_card(user)
        await user.press("✅ Sign up")
    return activity_id, anna, boris


async def test_forget_gives_the_seat_to_the_waitlist(bot_env):
    activity_id, anna, boris = await one_seat_taken_one_waiting(bot_env)
    await anna.send("/forget")
    await anna.press("🗑 Yes, delete everything")
    assert await pushed(boris, "🎟 A place has come free for you")
    assert await seats_taken(bot_env, activity_id) == 1  # now held for Boris
    assert [status for _user, status, _party in await signup_rows(bot_env)] == ["offered"]


async def test_a_capacity_raised_elsewhere_reaches_the_waitlist(bot_env):
    activity_id, _anna, boris = await one_seat_taken_one_waiting(bot_env)
    async with bot_env.db.write() as conn:  # as an import of the schedule would
        await conn.execute(
            activities.update().where(activities.c.id == activity_id).values(capacity=3)
        )
    await waitlist_job(
        bot_env.db, bot_env.i18n, bot_env.dispatcher["sender"], bot_env.settings, bot_env.clock
    )
    assert await pushed(boris, "🎟 A place has come free for you")


async def test_cancel_straight_from_my_schedule(bot_env):
    activity_id = await add_activity(bot_env, capacity=2)
    user = await subscribed_user(bot_env)
    await open_card(user)
    await user.press("✅ Sign up")
    [schedule] = await user.press("📋 My schedule")
    assert schedule.buttons[0][1] == "❌"
    [confirm] = await user.press("❌", message_id=schedule.message_id)
    assert confirm.buttons == [["Yes, cancel it", "No, keep it"]]
    await user.press("Yes, cancel it")
    assert await seats_taken(bot_env, activity_id) == 0


async def test_an_offer_to_someone_who_blocked_the_bot_passes_on_at_once(bot_env):
    _activity_id, anna, boris = await one_seat_taken_one_waiting(bot_env)
    vera = await subscribed_user(bot_env, name="Vera")
    await open_card(vera)
    await vera.press("✅ Sign up")
    await boris.block()
    await anna.press("❌ Cancel my sign-up")
    await anna.press("Yes, cancel it")
    assert await pushed(vera, "🎟 A place has come free for you")
    statuses = [status for _user, status, _party in await signup_rows(bot_env)]
    assert statuses == ["cancelled", "declined", "offered"]


async def test_an_offer_telegram_refused_passes_on_at_the_next_run(bot_env):
    _activity_id, anna, boris = await one_seat_taken_one_waiting(bot_env)
    vera = await subscribed_user(bot_env, name="Vera")
    await open_card(vera)
    await vera.press("✅ Sign up")
    await anna.press("❌ Cancel my sign-up")
    await anna.press("Yes, cancel it")
    assert await pushed(boris, "🎟 A place has come free for you")
    async with bot_env.db.write() as conn:  # as the sender does when Telegram answers 403
        await set_blocked(conn, boris.id, True)
    await waitlist_job(
        bot_env.db, bot_env.i18n, bot_env.dispatcher["sender"], bot_env.settings, bot_env.clock
    )
    assert await pushed(vera, "🎟 A place has come free for you")
    statuses = [status for _user, status, _party in await signup_rows(bot_env)]
    assert statuses == ["cancelled", "declined", "offered"]
