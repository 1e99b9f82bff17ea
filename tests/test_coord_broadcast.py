"""📣 Announcements: a coordinator writes to the center's subscribers, to the people of one
activity, or to its volunteers; now or at a time; and can stop one going out."""

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.sender import Sender
from domain.activities import Role, SignupRules
from domain.broadcasts import Audience, parse_send_at
from handlers.broadcast_report import BroadcastMonitor
from handlers.broadcast_views import local_example
from handlers.callbacks import (
    BroadcastStep,
    CoordBroadcastCb,
    CoordBroadcastStopCb,
    CoordMenuCb,
    CoordSection,
)
from storage.activities import insert_activity
from storage.audit import entries
from storage.broadcasts import create_broadcast
from storage.centers import get_center
from storage.schema import deliveries, users
from storage.signups import cancel, sign_up
from tests.activity_helpers import add_activity
from tests.broadcast_helpers import (
    broadcast_rows,
    compose,
    data_rows,
    delivery_states,
    got,
    open_section,
    report,
    residents,
    summary_of,
)
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    eventually,
    revoke_coordinator,
    sender_idle,
)

REFUSED = "Only this center's coordinators can do that."


async def actions(env, center_id):
    async with env.db.read() as conn:
        return [(e.action, e.details) for e in reversed(await entries(conn, center_id=center_id))]


async def test_photo_then_text_reaches_every_subscriber_exactly_as_previewed(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    async with env.db.read() as conn:
        center = await get_center(conn, center_id)
    coordinator = await coordinating_user(env, center_id, language_code="en")
    people = await residents(env, 3, center_id)
    [blocked] = await residents(env, 1, center_id, blocked=True)
    [elsewhere] = await residents(env, 1, await center_id_by_external(env, "demo-ekb-2"))

    [prompt] = await open_section(coordinator)
    assert "up to 4096 characters" in prompt.text and "up to 1024 characters" in prompt.text
    [ask] = await coordinator.send_photo()
    assert ask.text == "Now send the text to go with the photo, up to 1024 characters."
    [choice] = await coordinator.send("Tea & <talk> on Friday, 18:00")
    assert choice.buttons == [
        ["⭐ The center's subscribers"],
        ["🗓 People signed up for an activity"],
        ["🙋 The center's volunteers"],
        ["✖ Cancel"],
    ]
    shown = await coordinator.press("⭐ The center's subscribers")
    [preview] = [m for m in shown if m.photo]
    html = "Tea &amp; &lt;talk&gt; on Friday, 18:00"
    assert preview.html == html
    assert preview.buttons == [[f"📍 {center.name}"]]
    summary = summary_of(shown)
    assert "Recipients: 3" in summary.text
    assert summary.buttons[0] == ["📤 Send now", "🕒 Send later"]

    await coordinator.press("📤 Send now", message_id=summary.message_id)
    final = await report(coordinator, "✅ Announcement sent", "Delivered: 3")
    assert final.message_id == summary.message_id, "the summary became the report"
    assert "Recipients: 3" in final.text and "Failed: 0" in final.text
    assert "Blocked the bot: 0" in final.text and "Cancelled: 0" in final.text
    assert final.buttons == []
    for person in people:
        [copy] = await got(person, html)
        assert copy.photo[-1]["file_id"] == preview.photo[-1]["file_id"]
        assert copy.reply_markup == preview.reply_markup
    assert await got(blocked, html) == [] and await got(elsewhere, html) == []

    [broadcast] = await broadcast_rows(env)
    assert (broadcast.state, broadcast.recipients, broadcast.audience) == ("done", 3, "subscribers")
    async with env.db.read() as conn:
        rows = (await conn.execute(select(deliveries).order_by(deliveries.c.id))).all()
    assert {r.dedup_key for r in rows} == {f"broadcast:{broadcast.id}:{p.id}" for p in people}
    assert {(r.broadcast_id, r.photo, r.state) for r in rows} == {
        (broadcast.id, broadcast.photo, "sent")
    }
    [(action, details)] = await actions(env, center_id)
    assert action == "broadcast.create"
    assert details["audience"] == "subscribers" and details["photo"] is True


async def test_audiences_count_subscribers_people_of_an_activity_and_volunteers(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    other_center = await center_id_by_external(env, "demo-ekb-2")
    coordinator = await coordinating_user(env, center_id, language_code="en")
    await residents(env, 2, center_id)
    await residents(env, 1, center_id, blocked=True)
    now = env.clock()
    rules = SignupRules()
    upcoming = await add_activity(
        env, title="Audience check", capacity=3, volunteer_role="Helper", volunteer_places=2
    )
    past, long_ago, recent, elsewhere = [
        await _shift(env, center, now - timedelta(days=days))
        for center, days in ((center_id, 30), (center_id, 100), (center_id, 5), (other_center, 10))
    ]
    p1, p2, p3, p4, v1, v2, v3, v4 = await residents(env, 8, name="Человек")
    [pb] = await residents(env, 1, blocked=True)
    async with env.db.write() as conn:

        async def join(person, activity_id, role=Role.PARTICIPANT, days_ago=0):
            outcome = await sign_up(
                conn,
                activity_id=activity_id,
                user_id=person.id,
                role=role,
                party_size=1,
                now=now - timedelta(days=days_ago),
                rules=rules,
            )
            return outcome.signup

        for person in (p1, p2, pb, p3):  # three seats: p3 waits, and counts
            await join(person, upcoming)
        gone = await join(p4, upcoming, Role.VOLUNTEER)
        await cancel(conn, signup_id=gone.id, user_id=p4.id, now=now, rules=rules)
        await join(v3, upcoming, Role.VOLUNTEER)  # one of the activity's people too
        await join(v1, past, Role.VOLUNTEER, days_ago=31)
        await join(v1, recent, Role.VOLUNTEER, days_ago=6)  # twice: one person, one message
        await join(v2, long_ago, Role.VOLUNTEER, days_ago=101)  # too long ago
        await join(v4, elsewhere, Role.VOLUNTEER, days_ago=11)  # another center's

    # A photo with its caption in one message.
    await open_section(coordinator)
    [choice] = await coordinator.send_photo(caption="Bring a mug")
    assert choice.text == "Who should get it?"
    shown = await coordinator.press("⭐ The center's subscribers")
    assert "Recipients: 2" in summary_of(shown).text
    await coordinator.press("👥 Another audience")
    [listing] = await coordinator.press("🗓 People signed up for an activity")
    [label] = [b for row in listing.buttons for b in row if "Audience check" in b]
    shown = await coordinator.press(label)
    assert "People signed up for <b>Audience check</b>" in summary_of(shown).html
    assert "Recipients: 4" in summary_of(shown).text  # p1, p2, p3 waiting, v3
    await coordinator.press("👥 Another audience")
    shown = await coordinator.press("🙋 The center's volunteers")
    assert "Recipients: 2" in summary_of(shown).text  # v1 (twice), v3; not v2, v4
    [preview] = [m for m in shown if m.photo]
    assert preview.html == "Bring a mug"


async def _shift(env, center_id, starts_at):
    async with env.db.write() as conn:
        return await insert_activity(
            conn,
            center_id=center_id,
            title="Смена",
            category="charity",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            capacity=0,
            accepts_participants=False,
            volunteer_role="Помощник",
            volunteer_places=5,
            created_at=starts_at - timedelta(days=30),
        )


async def test_a_scheduled_announcement_goes_out_at_its_time_and_can_be_cancelled(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    async with env.db.read() as conn:
        center = await get_center(conn, center_id)
    coordinator = await coordinating_user(env, center_id, language_code="en")
    people = await residents(env, 2, center_id)

    await compose(coordinator, "Concert on Sunday")
    [ask] = await coordinator.press("🕒 Send later")
    assert "Asia/Yekaterinburg" in ask.text
    when = local_example(env.clock(), center)  # tomorrow at 10:00 at the center
    send_at = parse_send_at(when, center.timezone, env.clock())
    [scheduled] = await coordinator.send(when)
    assert scheduled.text.startswith("🕒 Announcement scheduled for")
    assert scheduled.buttons == [["✖ Cancel the announcement"]]
    [broadcast] = await broadcast_rows(env)
    assert (broadcast.state, broadcast.send_at, broadcast.recipients) == (
        "scheduled",
        send_at,
        None,
    )
    assert broadcast.report_message_id == scheduled.message_id

    # A second one, to be cancelled from the section's list before its time.
    await compose(coordinator, "Wrong date, sorry")
    await coordinator.press("🕒 Send later")
    [doomed] = await coordinator.send(local_example(env.clock() + timedelta(days=1), center))
    [listed] = await open_section(coordinator)
    assert "Scheduled:" in listed.text and "«Concert on Sunday»" in listed.text
    cancels = [b for row in listed.buttons for b in row if b.startswith("✖ Cancel the one of")]
    assert len(cancels) == 2
    await coordinator.press(listed.buttons[1][0], message_id=listed.message_id)
    [answer] = [c for c in await env.tg.callbacks(coordinator.id) if c["data"].startswith("kbrx")]
    assert answer["answer"]["text"] == "Stopped."
    relisted = next(m for m in await coordinator.messages() if m.message_id == listed.message_id)
    assert "Wrong date" not in relisted.text and "Concert" in relisted.text
    doomed = next(m for m in await coordinator.messages() if m.message_id == doomed.message_id)
    assert doomed.text.startswith("✖ Announcement cancelled: nothing was sent.")
    assert doomed.buttons == []

    # Not a second early.
    sender: Sender = env.dispatcher["sender"]
    env.clock.now = send_at - timedelta(seconds=1)
    assert await BroadcastMonitor().start_due(env.db, sender, now=env.clock()) == 0
    assert await delivery_states(env) == {}
    env.clock.now = send_at
    final = await report(coordinator, "✅ Announcement sent", "Delivered: 2")
    assert final.message_id == scheduled.message_id
    for person in people:
        assert len(await got(person, "Concert on Sunday")) == 1
    env.clock.now = send_at + timedelta(days=3)
    await asyncio.sleep(3.5)  # a run of the broadcasts job, past the cancelled one's time
    await sender_idle(env)
    for person in people:
        assert await got(person, "Wrong date, sorry") == []
    states = [(b.state, b.finished_at is not None) for b in await broadcast_rows(env)]
    assert states == [("done", True), ("cancelled", True)]
    assert [action for action, _ in await actions(env, center_id)] == [
        "broadcast.create",
        "broadcast.create",
        "broadcast.cancel",
    ]


@pytest.mark.settings(send_per_second=2)
async def test_stop_mid_way_cancels_what_is_left_and_the_report_adds_up(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    coordinator = await coordinating_user(env, center_id, language_code="en")
    people = await residents(env, 12, center_id)
    shown = await compose(coordinator, "Water is off tomorrow")
    summary = summary_of(shown)
    [going] = await coordinator.press("📤 Send now", message_id=summary.message_id)
    assert going.text.startswith("📣 Announcement going out")
    assert "Left: " in going.text and going.buttons == [["⏹ Stop sending"]]

    async def some_sent():
        return (await delivery_states(env)).get("sent", 0) >= 2

    assert await eventually(some_sent)
    await coordinator.press("⏹ Stop sending", message_id=summary.message_id)
    final = await report(coordinator, "⏹ Announcement stopped")
    await sender_idle(env)
    await asyncio.sleep(1.5)  # nothing cancelled goes out later
    states = await delivery_states(env)
    assert set(states) == {"sent", "cancelled"} and sum(states.values()) == 12
    received = [len(await got(p, "Water is off tomorrow")) for p in people]
    assert sum(received) == states["sent"] and max(received) == 1
    assert f"Delivered: {states['sent']}" in final.text
    assert f"Cancelled: {states['cancelled']}" in final.text
    assert "Recipients: 12" in final.text and final.buttons == []

    async def finished():
        [broadcast] = await broadcast_rows(env)
        return broadcast if broadcast.finished_at is not None else None

    broadcast = await eventually(finished)
    assert broadcast.state == "cancelled"
    assert [a for a, _ in await actions(env, center_id)] == ["broadcast.create", "broadcast.cancel"]
    # Pressed again (an old button): nothing more happens.
    await coordinator.callback(
        summary.message_id,
        CoordBroadcastStopCb(center_id=center_id, broadcast_id=broadcast.id).pack(),
    )
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(coordinator.id)]
    assert answers[-1] == "It was already stopped."


async def test_people_who_blocked_the_bot_are_left_out_of_the_next_announcement(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    coordinator = await coordinating_user(env, center_id, language_code="en")
    people = await residents(env, 4, center_id)
    gone = people[:2]
    for person in gone:  # Telegram answers 403: they blocked the bot, unknown to it so far
        await env.tg.add_fault(
            method="sendMessage",
            chat_id=person.id,
            error_code=403,
            description="Forbidden: bot was blocked by the user",
            times=None,
        )
    shown = await compose(coordinator, "First news")
    assert "Recipients: 4" in summary_of(shown).text
    await coordinator.press("📤 Send now")
    first = await report(coordinator, "✅ Announcement sent", "Delivered: 2")
    assert "Blocked the bot: 2" in first.text and "Failed: 0" in first.text
    async with env.db.read() as conn:
        blocked = set(
            (await conn.execute(select(users.c.id).where(users.c.blocked.is_(True)))).scalars()
        )
    assert blocked == {p.id for p in gone}

    shown = await compose(coordinator, "Second news")
    assert "Recipients: 2" in summary_of(shown).text
    await coordinator.press("📤 Send now")
    second = await report(coordinator, "✅ Announcement sent", "Delivered: 2", "Second")
    assert "Recipients: 2" in second.text and "Blocked the bot: 0" in second.text
    _, latest = await broadcast_rows(env)
    async with env.db.read() as conn:
        queued = (
            await conn.execute(
                select(deliveries.c.user_id).where(deliveries.c.broadcast_id == latest.id)
            )
        ).scalars()
        assert set(queued) == {p.id for p in people[2:]}, "not even queued for the blocked"
    stats = await env.tg.stats()
    assert stats["errors"] == {"sendMessage": 2}, "Telegram was asked only the first time"


async def test_refusals_change_nothing(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    other_center = await center_id_by_external(env, "demo-ekb-2")
    anna = await coordinating_user(env, center_id, first_name="Anna", language_code="en")
    boris = await coordinating_user(env, other_center, first_name="Boris", language_code="en")
    carl = await consenting_user(env, language_code="en", first_name="Carl")
    dora = await coordinating_user(env, center_id, first_name="Dora", language_code="en")
    await residents(env, 2, center_id)
    ours = await add_activity(env, title="Ours")
    theirs = await add_activity(env, "demo-ekb-2", title="Theirs")
    async with env.db.write() as conn:
        common = {
            "author_id": boris.id,
            "text": "x",
            "photo": None,
            "audience": Audience.SUBSCRIBERS,
            "activity_id": None,
            "send_at": env.clock() + timedelta(days=1),
            "now": env.clock(),
        }
        their_broadcast = await create_broadcast(conn, center_id=other_center, **common)
        our_broadcast = await create_broadcast(conn, center_id=center_id, **common)
    # Dora prepares an announcement, then loses the right to send it.
    shown = await compose(dora, "Dora's news")
    dora_summary = summary_of(shown)
    await revoke_coordinator(env, dora, center_id)
    before = await data_rows(env)

    def cb(step, center=center_id, activity=None):
        return CoordBroadcastCb(step=step, center_id=center, activity_id=activity).pack()

    entry = CoordMenuCb(section=CoordSection.BROADCAST, center_id=center_id).pack()
    stop_ours = CoordBroadcastStopCb(center_id=center_id, broadcast_id=our_broadcast).pack()
    for intruder in (carl, boris, dora):
        message_id = (await intruder.last_bot_message()).message_id
        for data in (entry, cb(BroadcastStep.NOW), cb(BroadcastStep.SUBSCRIBERS), stop_ours):
            await intruder.callback(message_id, data)
        answers = {c["data"]: c["answer"]["text"] for c in await env.tg.callbacks(intruder.id)}
        for data in (entry, cb(BroadcastStep.NOW), cb(BroadcastStep.SUBSCRIBERS), stop_ours):
            assert answers[data] == REFUSED, (intruder.info["first_name"], data)
    [refused] = await dora.send("More text for the dialog")
    assert refused.text == REFUSED
    await dora.press("📤 Send now", message_id=dora_summary.message_id)
    assert (await env.tg.callbacks(dora.id))[-1]["answer"]["text"] == REFUSED

    # Anna, forging: another center's activity as the audience, another center's
    # announcement, ids that do not exist.
    await compose(anna, "Anna's news")
    message_id = (await anna.last_bot_message()).message_id
    forged = {
        cb(BroadcastStep.ACTIVITY, activity=theirs): REFUSED,
        cb(BroadcastStep.ACTIVITY, other_center, theirs): REFUSED,
        cb(BroadcastStep.ACTIVITY, activity=999_999): REFUSED,
        cb(BroadcastStep.NOW, other_center): REFUSED,
        CoordBroadcastStopCb(center_id=other_center, broadcast_id=their_broadcast).pack(): REFUSED,
        CoordBroadcastStopCb(center_id=center_id, broadcast_id=their_broadcast).pack(): (
            "This announcement is no longer in the list."
        ),
        CoordBroadcastStopCb(center_id=center_id, broadcast_id=999_999).pack(): (
            "This announcement is no longer in the list."
        ),
    }
    for data in forged:
        await anna.callback(message_id, data)
    answers = {c["data"]: c["answer"]["text"] for c in await env.tg.callbacks(anna.id)}
    for data, expected in forged.items():
        assert answers[data] == expected, data
    assert await data_rows(env) == before
    # Her own center's activity is fine.
    shown = await anna.callback(message_id, cb(BroadcastStep.ACTIVITY, activity=ours))
    assert "Recipients: 0" in summary_of(shown).text
    assert summary_of(shown).buttons[0] == ["👥 Another audience"], "nobody to send to"


async def test_bad_input_gets_a_hint_and_the_dialog_goes_on(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    async with env.db.read() as conn:
        center = await get_center(conn, center_id)
    coordinator = await coordinating_user(env, center_id, language_code="en")
    await residents(env, 1, center_id)
    await open_section(coordinator)
    [hint] = await coordinator.send("\u200b\u2060")
    assert hint.text == "The announcement needs some text. Please send it again."
    [hint] = await coordinator.send("a" * 4097)
    assert hint.text == (
        "That is 4097 characters; a message may have up to 4096. "
        "Please shorten it and send it again."
    )
    [hint] = await coordinator.send_sticker()
    assert hint.text == "Please send the announcement as text, or a photo with a caption."
    [hint] = await coordinator.send_photo(caption="c" * 1025)
    assert hint.text.startswith("That is 1025 characters; with a photo the text may have up to")
    [hint] = await coordinator.send("b" * 1025)  # the text again: still for the photo
    assert hint.text.startswith("That is 1025 characters; with a photo the text may have up to")
    [choice] = await coordinator.send("b" * 1024)
    assert choice.text == "Who should get it?"
    shown = await coordinator.press("⭐ The center's subscribers")
    assert [m.html for m in shown if m.photo] == ["b" * 1024]

    await coordinator.press("🕒 Send later")
    now_local = env.clock().astimezone(ZoneInfo(center.timezone))
    earlier = (now_local - timedelta(minutes=5)).strftime("%d.%m.%Y %H:%M")
    for text, expected in (
        ("tomorrow", "Please send the date and time like this: "),
        ("31.02 10:00", "Please send the date and time like this: "),
        (earlier, "That time has passed"),
        ((now_local + timedelta(days=400)).strftime("%d.%m.%Y 10:00"), "more than a year"),
    ):
        [hint] = await coordinator.send(text)
        assert expected in hint.text, text
    assert await broadcast_rows(env) == []
    [scheduled] = await coordinator.send(local_example(env.clock(), center))
    assert scheduled.text.startswith("🕒 Announcement scheduled")
