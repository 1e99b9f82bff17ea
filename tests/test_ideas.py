"""💡 Residents' ideas: proposed from a center's card, answered by its coordinators, turned
into an activity or marked done; and who may do none of that."""

from datetime import timedelta

from sqlalchemy import select

from handlers.callbacks import CoordIdeaCb, CoordIdeasCb, IdeaAction, IdeaCb, IdeaHelpCb
from storage.ideas import add_idea
from storage.schema import ideas
from storage.users import export_user
from tests.activity_helpers import subscribed_user
from tests.coord_form_helpers import (
    activity_rows,
    audit_actions,
    fill_form,
    local_midday,
    local_today,
    press_forged,
    quiet_center_with_coordinator,
)
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    pushed,
    revoke_coordinator,
    sender_idle,
)

IDEA = "Давайте устроим шахматный клуб по субботам\nЯ могу приносить доски."


async def idea_rows(env):
    async with env.db.read() as conn:
        rows = await conn.execute(select(ideas).order_by(ideas.c.id))
        return list(rows)


async def propose(user, text=IDEA, help_label="🙋 Да, могу помочь"):
    card = await user.last_bot_message()
    await user.press("💡 Предложить идею", message_id=card.message_id)
    await user.send(text)
    return await user.press(help_label)


async def test_a_subscriber_proposes_an_idea_and_a_coordinator_answers_it(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    anna = await subscribed_user(env, "test-quiet", language_code="ru", name="Анна")
    card = await anna.last_bot_message()
    assert card.buttons == [["🔕 Отписаться"], ["💡 Предложить идею"]]
    [ask] = await anna.press("💡 Предложить идею", message_id=card.message_id)
    assert ask.text.startswith("💡 Ваша идея для центра Тихий центр")
    [hint] = await anna.send("x" * 2001)
    assert hint.text == "Пожалуйста, уложитесь в 2000 символов и отправьте ещё раз."
    [ask_help] = await anna.send(IDEA)
    assert ask_help.buttons == [["🙋 Да, могу помочь", "Нет"]]
    [hint] = await anna.send("да")
    assert hint.text == "Пожалуйста, ответьте кнопками выше."
    thanks = (await anna.press("🙋 Да, могу помочь"))[-1]
    assert thanks.text.startswith("Спасибо! Ваша идея отправлена координаторам центра Тихий центр.")
    [row] = await idea_rows(env)
    assert (row.center_id, row.user_id, row.text, row.can_help, row.status) == (
        center_id,
        anna.id,
        IDEA,
        True,
        "new",
    )

    news = await pushed(olga, "💡 New idea for Тихий центр", "Давайте устроим", "— Анна")
    assert news is not None and "🙋 Ready to help with it." in news.text
    [opened] = await olga.press("Open the idea", message_id=news.message_id)
    assert opened.text.startswith("💡 Idea from Анна,") and IDEA in opened.text
    assert opened.buttons == [
        ["💬 Answer"],
        ["🗓 Turn into an activity"],
        ["✔️ Mark as done"],
        ["‹ Ideas"],
    ]
    [ask_reply] = await olga.press("💬 Answer", message_id=opened.message_id)
    assert ask_reply.text.startswith("Write your answer to Анна in one message")
    [hint] = await olga.send("y" * 2001)
    assert "2000" in hint.text
    [sent] = await olga.send("Отличная идея! Приходите в субботу к 11.")
    assert sent.text == "✅ Your answer is on its way to Анна."
    answer = await pushed(
        anna, "💬 Центр Тихий центр ответил на вашу идею:", "приходите".title()[:0]
    )
    assert answer is not None and answer.text.endswith("Отличная идея! Приходите в субботу к 11.")
    [row] = await idea_rows(env)
    assert (row.status, row.reply) == ("answered", "Отличная идея! Приходите в субботу к 11.")
    [(action, actor, details)] = await audit_actions(env, center_id)
    assert (action, actor, details) == ("idea.reply", olga.id, {"idea_id": row.id})

    [menu] = await olga.send("/coord")
    [listing] = await olga.press("💡 Residents' ideas", message_id=menu.message_id)
    assert "1. 💬 «Давайте устроим шахматный клуб" in listing.text and "— Анна" in listing.text
    async with env.db.read() as conn:
        exported = await export_user(conn, anna.id)
    [mine] = exported["ideas"]
    assert (mine["idea"], mine["status"], mine["center"]) == (IDEA, "answered", "Тихий центр")


async def test_an_idea_becomes_an_activity_and_its_author_hears_of_it(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    anna = await subscribed_user(env, "test-quiet", language_code="ru", name="Анна")
    await propose(anna, help_label="Нет")
    await sender_idle(env)  # the coordinators' news of it is out before /coord
    [menu] = await olga.send("/coord")
    [listing] = await olga.press("💡 Residents' ideas", message_id=menu.message_id)
    assert "1. 🆕 «Давайте устроим" in listing.text
    [opened] = await olga.press(listing.buttons[0][0], message_id=listing.message_id)
    assert "Ready to help" not in opened.text
    [ask_title] = await olga.press("🗓 Turn into an activity", message_id=opened.message_id)
    assert "Now: <b>Давайте устроим шахматный клуб по субботам</b>" in ask_title.html
    day = local_today(env) + timedelta(days=4)
    preview = await fill_form(
        olga,
        [
            ("press", "✅ Keep it"),
            ("press", "✨ Other"),
            day.strftime("%d.%m"),
            "11:00",
            ("press", "2 h"),
            "8",
            ("press", "No volunteers"),
            ("press", "Skip"),
            ("press", "✅ Keep it"),
            ("press", "Only once"),
        ],
    )
    assert "Я могу приносить доски." in preview[-1].text, "the idea is the description"
    await olga.press("✅ Save")
    [activity] = await activity_rows(env, center_id)
    assert activity.title == "Давайте устроим шахматный клуб по субботам"
    assert activity.description == IDEA
    [row] = await idea_rows(env)
    assert (row.status, row.activity_id) == ("done", activity.id)
    actions = [(a, d.get("idea_id")) for a, _actor, d in await audit_actions(env, center_id)]
    assert actions == [("idea.activity", row.id), ("activity.create", row.id)]
    news = await pushed(anna, "🎉 Ваша идея стала занятием в центре Тихий центр!")
    assert news is not None and news.buttons == [["Открыть"]]
    [card] = await anna.press("Открыть", message_id=news.message_id)
    assert card.text.startswith("Давайте устроим шахматный клуб")

    [menu] = await olga.send("/coord")
    [listing] = await olga.press("💡 Residents' ideas", message_id=menu.message_id)
    assert "Давайте" not in listing.text, "done ideas leave the list"
    forged = CoordIdeaCb(center_id=center_id, idea_id=row.id, action=IdeaAction.ACTIVITY)
    assert await press_forged(env, olga, menu.message_id, forged.pack()) == (
        "This idea is already done."
    )


async def test_mark_done_paging_and_the_daily_limit(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    anna = await subscribed_user(env, "test-quiet", language_code="ru", name="Анна")
    await propose(anna)
    await sender_idle(env)  # the coordinators' news of it is out before /coord
    async with env.db.write() as conn:
        for number in range(2, 6):
            await add_idea(
                conn,
                center_id=center_id,
                user_id=anna.id,
                text=f"Идея номер {number}",
                can_help=False,
                now=env.clock() - timedelta(minutes=number),
            )
        await add_idea(
            conn,
            center_id=center_id,
            user_id=anna.id,
            text="Вчерашняя идея",
            can_help=False,
            now=env.clock() - timedelta(days=1, minutes=1),
        )
    await sender_idle(env)
    before = await env.rows()
    card = await anna.send(f"/start center_{center_id}")
    await anna.press("💡 Предложить идею", message_id=card[-1].message_id)
    answers = [c["answer"]["text"] for c in await env.tg.callbacks(anna.id) if c["answer"]]
    assert answers[-1] == (
        "Сегодня вы уже отправили этому центру идей: 5. Спасибо! Следующую, пожалуйста, завтра."
    )
    assert await env.rows() == before

    [menu] = await olga.send("/coord")
    [page] = await olga.press("💡 Residents' ideas", message_id=menu.message_id)
    assert len(page.buttons) == 7 and page.buttons[5] == ["More ▶️"]
    [page2] = await olga.press("More ▶️", message_id=page.message_id)
    assert "6. 🆕 «Вчерашняя идея»" in page2.text
    [opened] = await olga.press(page2.buttons[0][0], message_id=page2.message_id)
    [listing] = await olga.press("✔️ Mark as done", message_id=opened.message_id)
    assert "Вчерашняя идея" not in listing.text and "1. 🆕" in listing.text
    statuses = [row.status for row in await idea_rows(env)]
    assert statuses == ["new"] * 5 + ["done"]
    [(action, _actor, _details)] = await audit_actions(env, center_id)
    assert action == "idea.done"


async def test_only_subscribers_propose_and_only_the_centers_coordinators_act(bot_env):
    env = bot_env
    local_midday(env)
    center_id, olga = await quiet_center_with_coordinator(env)
    other_center = await center_id_by_external(env, "demo-ekb-1")
    anna = await subscribed_user(env, "test-quiet", language_code="ru", name="Анна")
    await propose(anna)
    await sender_idle(env)  # the coordinators' news of it is out before /coord
    stranger = await coordinating_user(env, other_center, first_name="Sam", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Vera", language_code="en")
    outsider = await consenting_user(env, language_code="en", first_name="Otto")
    [idea] = await idea_rows(env)
    async with env.db.write() as conn:
        elsewhere = await add_idea(
            conn,
            center_id=other_center,
            user_id=outsider.id,
            text="Elsewhere",
            can_help=False,
            now=env.clock(),
        )
    # Vera began an answer before she lost the right.
    opening = CoordIdeaCb(center_id=center_id, idea_id=idea.id, action=IdeaAction.REPLY)
    [vera_menu] = await revoked.send("/coord")
    await revoked.callback(vera_menu.message_id, opening.pack())
    await revoke_coordinator(env, revoked, center_id)
    await sender_idle(env)
    before = await env.rows()

    refusal = "Only this center's coordinators can do that."
    [answer] = await revoked.send("Thanks!")
    assert answer.text == refusal
    presses = [
        CoordIdeasCb(center_id=center_id).pack(),
        *(
            CoordIdeaCb(center_id=center_id, idea_id=idea.id, action=action).pack()
            for action in IdeaAction
        ),
    ]
    refusal_ru = "Это могут делать только координаторы этого центра."
    for user in (anna, outsider, stranger, revoked):
        [menu] = await user.send("/help")
        for data in presses:
            expected = refusal_ru if user is anna else refusal
            assert await press_forged(env, user, menu.message_id, data) == expected, data
    [after] = await anna.send("Можно ответить?")
    assert "«Можно ответить?»" in after.text, "the author's text is a search, not an answer"
    # Otto follows no center: his idea button is refused before any dialog.
    [menu] = await outsider.send("/help")
    assert await press_forged(
        env, outsider, menu.message_id, IdeaCb(center_id=center_id).pack()
    ) == ("Ideas are for the center's subscribers: subscribe to it first.")
    assert await press_forged(env, outsider, menu.message_id, IdeaHelpCb(can_help=True).pack()) == (
        "This form is closed."
    )
    # Olga's forged presses: another center's idea under her center, an idea that is not.
    [menu] = await olga.send("/coord")
    for idea_id in (elsewhere, 999_999):
        for action in IdeaAction:
            data = CoordIdeaCb(center_id=center_id, idea_id=idea_id, action=action).pack()
            expected = (
                "This idea is no longer open."
                if action is IdeaAction.DONE
                else "This idea is no longer in the list."
            )
            assert await press_forged(env, olga, menu.message_id, data) == expected, data
    await sender_idle(env)
    assert await env.rows() == before


async def test_the_idea_dialog_ends_on_a_menu_button_or_a_command(bot_env):
    env = bot_env
    await quiet_center_with_coordinator(env)
    anna = await subscribed_user(env, "test-quiet", language_code="ru", name="Анна")
    card = await anna.last_bot_message()
    for leave in ("⚙️ Настройки", "/help"):
        await anna.press("💡 Предложить идею", message_id=card.message_id)
        left = await (anna.send(leave) if leave.startswith("/") else anna.press(leave))
        assert left and all("идею" not in (m.text or "") for m in left)
        [search] = await anna.send("Шахматы")
        assert "«Шахматы»" in search.text, "the dialog has ended: text is a search again"
    assert await idea_rows(env) == []
