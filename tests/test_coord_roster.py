"""A coordinator's view of activities end to end: the list, the card, sign-ups and the
waitlist, guests registered at the desk, and refusals for everyone else."""

from sqlalchemy import select

from domain.activities import Role, SignupRules
from domain.roster import MAX_GUEST_NAME, Mark
from handlers.callbacks import (
    CoordActivitiesCb,
    CoordActivityAction,
    CoordActivityCb,
    CoordGuestCb,
    CoordMenuCb,
    CoordRollCallCb,
    CoordSection,
    CoordSignupsCb,
    GuestAction,
    RollCallAction,
)
from storage.audit import entries
from storage.schema import activities, guest_signups, signups
from storage.signups import sign_up
from storage.volunteers import save_profile
from tests.activity_helpers import add_activity, add_quiet_center, subscribed_user
from tests.helpers import center_id_by_external, coordinating_user, pushed, revoke_coordinator


async def setup(env, **values):
    """A quiet center with one activity and its coordinator (English)."""
    center = await add_quiet_center(env)
    center_id = await center_id_by_external(env, center)
    activity_id = await add_activity(env, center, **values)
    coord = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    return center, center_id, activity_id, coord


async def open_coord_card(coord, title="Клуб проверки"):
    await coord.send("/coord")
    [listing] = await coord.press("🗓 Activities and sign-ups")
    label = next(row[0] for row in listing.buttons if title in row[0])
    [card] = await coord.press(label)
    return listing, card


async def resident_signs_up(env, center, name, *, companions=None):
    user = await subscribed_user(env, center, name=name)
    [listing] = await user.press("🗓 Activities")
    label = next(row[0] for row in listing.buttons if "Клуб проверки" in row[0])
    await user.press(label)
    if companions is None:
        [card] = await user.press("✅ Sign up")
    else:
        await user.press("👨‍👧 Sign up with companions")
        [card] = await user.press(f"Me + {companions}")
    return user, card


async def seats(env, activity_id):
    async with env.db.read() as conn:
        return await conn.scalar(
            select(activities.c.seats_taken).where(activities.c.id == activity_id)
        )


async def audit_actions(env, center_id):
    async with env.db.read() as conn:
        return [(e.action, e.details) for e in reversed(await entries(conn, center_id=center_id))]


async def test_list_card_and_signups_show_who_signed_up(bot_env):
    env = bot_env
    center, _center_id, activity_id, coord = await setup(
        env, capacity=3, max_companions=2, volunteer_role="Чай", volunteer_places=1
    )
    anna, _card = await resident_signs_up(env, center, "Anna")
    boris, card = await resident_signs_up(env, center, "Boris", companions=2)
    assert "You are number 1 on the waitlist." in card.text
    vera = await subscribed_user(env, center, name="Vera")
    async with env.db.write() as conn:  # the name she gave the coordinators in her profile
        await save_profile(conn, vera.id, display_name="Вера П.", skills=None, now=env.clock())
    await join(env, vera, activity_id, Role.VOLUNTEER)

    listing, card = await open_coord_card(coord)
    assert listing.text.startswith("Тихий центр: activities")
    assert "Клуб проверки — 👥 1/3 · ⏳ 1 · 🙋 1/1" in listing.text
    assert listing.buttons[-2:] == [["🕘 The past week"], ["‹ Menu"]]
    assert card.text.startswith("Клуб проверки")
    assert "👥 Places taken: 1 of 3" in card.text and "⏳ Waitlist: 1" in card.text
    assert "🙋 Volunteers (Чай): 1 of 1" in card.text and "🟢 Taking sign-ups" in card.text
    assert card.buttons == [
        ["👥 Sign-ups", "📄 Export CSV"],
        ["➕ Add a guest"],
        ["✏️ Edit", "🚫 Cancel the activity"],
        ["‹ Activities"],
    ]

    [shown] = await coord.press("👥 Sign-ups")
    assert shown.message_id == card.message_id  # edited in place
    assert "Signed up: 1 person\n1. Anna" in shown.text
    assert "Waitlist\n1. Boris +2" in shown.text
    assert "Volunteers: Чай\n1. 🙋 Вера П." in shown.text
    assert shown.buttons == [["‹ Back"]]
    [card] = await coord.press("‹ Back")
    [listing] = await coord.press("‹ Activities")
    assert "Клуб проверки" in listing.text
    [menu] = await coord.press("‹ Menu")
    assert "What would you like to do?" in menu.text
    assert anna.id != boris.id


async def test_past_week_list_and_paging(bot_env):
    env = bot_env
    center, _center_id, _activity_id, coord = await setup(env, title="Клуб 0", in_hours=2)
    for number in range(1, 10):
        await add_activity(env, center, title=f"Клуб {number}", in_hours=2 + number)
    await add_activity(env, center, title="Вчерашний клуб", in_hours=-30)
    await add_activity(env, center, title="Давний клуб", in_hours=-24 * 9)
    await add_activity(env, center, title="Отменённый клуб", in_hours=5, status="cancelled")
    await coord.send("/coord")
    [first] = await coord.press("🗓 Activities and sign-ups")
    assert "Клуб 0" in first.text and "Вчерашний" not in first.text
    assert "❌ " in first.text and "Отменённый клуб" in first.text  # cancelled: listed, marked
    assert len([row for row in first.buttons if " · " in row[0]]) == 8
    assert ["More ▶️"] in first.buttons
    [second] = await coord.press("More ▶️")
    assert "Клуб 0" not in second.text and "Клуб 9" in second.text
    [past] = await coord.press("🕘 The past week")
    assert past.text.startswith("Тихий центр: the past week")
    assert "✔️ " in past.text and "Вчерашний клуб" in past.text and "Давний" not in past.text
    [upcoming] = await coord.press("🗓 Upcoming")
    assert "Клуб 0" in upcoming.text


async def test_a_guest_takes_places_and_their_removal_offers_them_to_the_waitlist(bot_env):
    env = bot_env
    center, center_id, activity_id, coord = await setup(env, capacity=2, in_hours=48)
    _listing, card = await open_coord_card(coord)
    [prompt] = await coord.press("➕ Add a guest")
    assert prompt.text.startswith("Guests at the desk: Клуб проверки")
    assert "Send the name of the person" in prompt.text
    [ask_party] = await coord.send("  Пётр   Петров ")
    assert "How many people come under the name Пётр Петров" in ask_party.text
    assert ask_party.buttons == [["1", "2"]]
    replies = await coord.press("2")
    done = replies[-1]
    assert done.text.startswith("✅ Пётр Петров +1 is on the list.")
    assert "👥 Places taken: 2 of 2 (guests: 2)" in done.text
    assert await seats(env, activity_id) == 2

    # A resident now waits: the guests hold the places.
    anna, card = await resident_signs_up(env, center, "Anna")
    assert "You are number 1 on the waitlist." in card.text

    # Full: the guest screen says so and asks for no name.
    [full] = await coord.press("➕ Add a guest", message_id=done.message_id)
    assert "No places left" in full.text and "Send the name" not in full.text
    [search] = await coord.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")  # no dialog was going on

    [confirm] = await coord.press("✖ Пётр Петров +1", message_id=full.message_id)
    assert confirm.text == "Take Пётр Петров +1 off the list? Their places go to the waitlist."
    [card] = await coord.press("✖ Yes, take off the list")
    assert "👥 Places taken: 1 of 2" in card.text and "guests" not in card.text
    assert await pushed(anna, "🎟 A place has come free for you")
    async with env.db.read() as conn:
        status = await conn.scalar(select(signups.c.status).where(signups.c.user_id == anna.id))
        assert status == "offered"
        assert (await conn.execute(select(guest_signups))).all() == []
    actions = await audit_actions(env, center_id)
    assert [a for a, _ in actions] == ["guest.add", "guest.remove"]
    assert actions[0][1]["party_size"] == 2 and actions[0][1]["activity_id"] == activity_id


async def test_guest_dialog_hints_on_bad_input_and_carries_on(bot_env):
    env = bot_env
    _center, _center_id, activity_id, coord = await setup(env, capacity=3)
    await open_coord_card(coord)
    await coord.press("➕ Add a guest")
    [hint] = await coord.send("Я" * (MAX_GUEST_NAME + 1))
    assert hint.text == "A name of 1 to 128 characters, please. Send it again."
    [hint] = await coord.send_sticker()
    assert hint.text == "Please send it as text, or /cancel."
    [ask_party] = await coord.send("Мария")
    assert ask_party.buttons == [["1", "2", "3"]]
    for typed in ("abc", "0", "4", "1.5", "-1"):
        [hint] = await coord.send(typed)
        assert hint.text == "Send a number from 1 to 3.", typed
    replies = await coord.send("3")
    assert replies[-1].text.startswith("✅ Мария +2 is on the list.")
    assert await seats(env, activity_id) == 3
    # The old party buttons are out of date now: nothing more is added.
    before = await env.rows()
    await coord.callback(ask_party.message_id, ask_party.callback_data["1"])
    assert await env.rows() == before


async def test_cancel_or_a_menu_button_ends_the_guest_dialog(bot_env):
    env = bot_env
    _center, _center_id, _activity_id, coord = await setup(env, capacity=3)
    await open_coord_card(coord)
    await coord.press("➕ Add a guest")
    [stopped] = await coord.send("/cancel")
    assert stopped.text == "Stopped: nobody was added."
    [search] = await coord.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")

    _listing, card = await open_coord_card(coord)
    await coord.press("➕ Add a guest", message_id=card.message_id)
    [listing] = await coord.press("🗓 Activities")
    assert listing.text.startswith("Here you will see what is on")
    [search] = await coord.send("Moscow")
    assert search.text.startswith("Centers for “Moscow”")
    async with env.db.read() as conn:
        assert (await conn.execute(select(guest_signups))).all() == []


async def add_guest_row(env, activity_id, name="Гость", party_size=1):
    from storage.guests import add_guest

    async with env.db.write() as conn:
        outcome = await add_guest(
            conn, activity_id=activity_id, name=name, party_size=party_size, by=0, now=env.clock()
        )
    return outcome.guest.id


async def join(env, user, activity_id, role=Role.PARTICIPANT):
    async with env.db.write() as conn:
        outcome = await sign_up(
            conn,
            activity_id=activity_id,
            user_id=user.id,
            role=role,
            party_size=1,
            now=env.clock(),
            rules=SignupRules(),
        )
    return outcome.signup.id


async def forged_answers(env, user, data_list):
    message_id = (await user.last_bot_message()).message_id
    for data in data_list:
        await user.callback(message_id, data)
    return {c["data"]: c["answer"]["text"] for c in await env.tg.callbacks(user.id)}


ONLY_COORDINATORS = "Only this center's coordinators can do that."


async def test_nobody_else_can_see_or_change_the_roster(bot_env):
    env = bot_env
    center, center_id, upcoming, coord = await setup(env, capacity=3, in_hours=48)
    started = await add_activity(env, center, title="Идёт сейчас", in_hours=1)
    resident = await subscribed_user(env, center, name="Rita")
    signup = await join(env, resident, upcoming)
    started_signup = await join(env, resident, started)
    guest = await add_guest_row(env, upcoming)
    started_guest = await add_guest_row(env, started)
    env.clock.advance(hours=2)

    other_center = await center_id_by_external(env, "demo-ekb-1")
    other = await coordinating_user(env, other_center, first_name="Oleg", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Roma", language_code="en")
    await revoke_coordinator(env, revoked, center_id)

    A = CoordActivityAction
    actions = [
        CoordMenuCb(section=CoordSection.ACTIVITIES, center_id=center_id),
        CoordActivitiesCb(center_id=center_id),
        CoordActivitiesCb(center_id=center_id, past=True, offset=8),
        *(CoordActivityCb(action=a, activity_id=upcoming) for a in (A.OPEN, A.SIGNUPS, A.GUEST)),
        CoordActivityCb(action=A.EXPORT, activity_id=upcoming),
        CoordActivityCb(action=A.ROLL_CALL, activity_id=started),
        CoordSignupsCb(activity_id=upcoming, page=1),
        CoordGuestCb(action=GuestAction.PARTY, activity_id=upcoming, party=1),
        CoordGuestCb(action=GuestAction.ASK_REMOVE, activity_id=upcoming, guest_id=guest),
        CoordGuestCb(action=GuestAction.REMOVE, activity_id=upcoming, guest_id=guest),
        CoordRollCallCb(action=RollCallAction.SHOW, activity_id=started),
        CoordRollCallCb(
            action=RollCallAction.SIGNUP,
            activity_id=started,
            row_id=started_signup,
            mark=Mark.PRESENT,
        ),
        CoordRollCallCb(
            action=RollCallAction.GUEST, activity_id=started, row_id=started_guest, mark=Mark.ABSENT
        ),
        CoordRollCallCb(action=RollCallAction.EVERYONE, activity_id=started),
    ]
    packed = [action.pack() for action in actions]
    before = await env.rows()
    for user in (resident, other, revoked):
        answers = await forged_answers(env, user, packed)
        assert {data: answers[data] for data in packed} == dict.fromkeys(packed, ONLY_COORDINATORS)
        assert not [m for m in await user.messages() if m.document]
    assert await env.rows() == before

    # The center's own coordinator, with ids that are not theirs to use.
    other_activity = await add_activity(env, "demo-ekb-1", title="Чужое занятие")
    other_guest = await add_guest_row(env, other_activity)
    cancelled = await add_activity(env, center, title="Отменили", status="cancelled")
    await coord.send("/coord")
    before = await env.rows()
    gone = "This is no longer on the list."
    started_text = "This activity has already started."
    not_yet = "The roll call opens when the activity starts."
    cancelled_text = "This activity was cancelled."
    roll = RollCallAction
    forged = [
        (CoordActivityCb(action=A.OPEN, activity_id=999_999), ONLY_COORDINATORS),
        (CoordActivityCb(action=A.EXPORT, activity_id=other_activity), ONLY_COORDINATORS),
        (CoordActivityCb(action=A.GUEST, activity_id=other_activity), ONLY_COORDINATORS),
        (CoordMenuCb(section=CoordSection.ACTIVITIES, center_id=other_center), ONLY_COORDINATORS),
        (CoordActivitiesCb(center_id=other_center), ONLY_COORDINATORS),
        (CoordSignupsCb(activity_id=other_activity), ONLY_COORDINATORS),
        (
            CoordGuestCb(
                action=GuestAction.REMOVE, activity_id=other_activity, guest_id=other_guest
            ),
            ONLY_COORDINATORS,
        ),
        (
            CoordGuestCb(action=GuestAction.REMOVE, activity_id=upcoming, guest_id=other_guest),
            gone,
        ),
        (CoordGuestCb(action=GuestAction.ASK_REMOVE, activity_id=upcoming, guest_id=999_999), gone),
        (
            CoordGuestCb(action=GuestAction.REMOVE, activity_id=started, guest_id=started_guest),
            started_text,
        ),
        (
            CoordGuestCb(action=GuestAction.PARTY, activity_id=upcoming, party=1),
            "This button is out of date.",
        ),
        (CoordActivityCb(action=A.GUEST, activity_id=started), started_text),
        (CoordActivityCb(action=A.GUEST, activity_id=cancelled), cancelled_text),
        (CoordActivityCb(action=A.ROLL_CALL, activity_id=upcoming), not_yet),
        (CoordActivityCb(action=A.ROLL_CALL, activity_id=cancelled), cancelled_text),
        (CoordRollCallCb(action=roll.EVERYONE, activity_id=upcoming), not_yet),
        (CoordRollCallCb(action=roll.SIGNUP, activity_id=started, row_id=signup), gone),
        (CoordRollCallCb(action=roll.GUEST, activity_id=started, row_id=guest), gone),
        (CoordRollCallCb(action=roll.GUEST, activity_id=started, row_id=999_999), gone),
    ]
    packed = {callback.pack(): text for callback, text in forged}
    packed["krg:x:1:abc:0"] = ONLY_COORDINATORS  # not even well-formed
    answers = await forged_answers(env, coord, packed)
    assert {data: answers[data] for data in packed} == packed
    assert await env.rows() == before


async def test_a_long_list_of_signups_comes_in_pages(bot_env):
    env = bot_env
    _center, _center_id, activity_id, coord = await setup(env, capacity=None)
    for number in range(1, 61):  # names shortened in the list: some 75 characters a line
        await add_guest_row(env, activity_id, name=f"{number:02} " + "Я" * 120, party_size=2)
    await open_coord_card(coord)
    [first] = await coord.press("👥 Sign-ups")
    assert "Registered at the desk: 120 people" in first.text and "Page 1 of 2" in first.text
    assert len(first.text) <= 4096 and first.buttons == [["More ▶️"], ["‹ Back"]]
    [second] = await coord.press("More ▶️")
    assert "Page 2 of 2" in second.text and "60. 60 " in second.text
    assert second.buttons == [["◀️ Back"], ["‹ Back"]]
    shown = first.text + second.text
    assert all(f"{n}. {n:02} " in shown for n in range(1, 61))


async def test_a_coordinator_revoked_during_the_guest_dialog_adds_nobody(bot_env):
    env = bot_env
    _center, center_id, _activity_id, coord = await setup(env, capacity=3)
    await open_coord_card(coord)
    await coord.press("➕ Add a guest")
    [ask_party] = await coord.send("Мария")
    await revoke_coordinator(env, coord, center_id)
    before = await env.rows()
    await coord.press("2", message_id=ask_party.message_id)
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(coord.id)]
    assert answers[-1] == ONLY_COORDINATORS
    [refused] = await coord.send("2")
    assert refused.text == ONLY_COORDINATORS
    [search] = await coord.send("Moscow")  # the dialog is over
    assert search.text.startswith("Centers for “Moscow”")
    assert await env.rows() == before
