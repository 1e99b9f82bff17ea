"""Untrusted input: forged callbacks, odd messages, deep links, failures inside handlers."""

import gc
import random

import pytest

from tests.helpers import EKATERINBURG, center_id_by_external, consenting_user

OUT_OF_DATE = "Эта кнопка устарела."


async def answers_for(env, user):
    return {c["data"]: c["answer"] for c in await env.tg.callbacks(user.id)}


async def test_forged_callbacks_are_answered_and_change_nothing(bot_env):
    user = await consenting_user(bot_env)
    card_center = await center_id_by_external(bot_env, "demo-ekb-1")
    other = await consenting_user(bot_env, first_name="Борис")
    await other.send(f"/start center_{card_center}")
    await other.press("⭐ Подписаться")
    message_id = (await user.last_bot_message()).message_id
    before = await bot_env.rows()

    rng = random.Random(7)
    noise = ["".join(chr(rng.randrange(33, 127)) for _ in range(64)) for _ in range(5)]
    forged = {
        "c:o:999999": "Этого центра больше нет в списке.",
        "c:s:999999": "Этого центра больше нет в списке.",
        "c:x:1": OUT_OF_DATE,
        "c:o:-1": OUT_OF_DATE,
        "c:o:0": OUT_OF_DATE,
        "c:o:9223372036854775808": OUT_OF_DATE,
        "c:s:99999999999999999999": OUT_OF_DATE,
        "consent:a:99999999999999999999": OUT_OF_DATE,
        "find:zzzzzzzz:0": OUT_OF_DATE,
        "find:0123abcd:0": "Этот список устарел. Пожалуйста, повторите поиск.",
        "mine:-5": OUT_OF_DATE,
        "c:o:1e9": OUT_OF_DATE,
        "near:91:0:0": OUT_OF_DATE,
        "near:nan:nan:0": OUT_OF_DATE,
        "near:55.75:37.61:-5": OUT_OF_DATE,
        "near:55.75:37.61:99999999": OUT_OF_DATE,
        "find:0": OUT_OF_DATE,
        "lang:de": OUT_OF_DATE,
        "lang:": OUT_OF_DATE,
        "consent:z": OUT_OF_DATE,
        "forget:maybe": OUT_OF_DATE,
        "": OUT_OF_DATE,
        "ё" * 32: OUT_OF_DATE,
        **dict.fromkeys(noise, OUT_OF_DATE),
    }
    for data in forged:
        await user.callback(message_id, data)
    answers = await answers_for(bot_env, user)
    for data, expected in forged.items():
        assert answers[data] is not None, f"{data!r} was not answered"
        assert answers[data]["text"] == expected, data
    # Someone else's subscription cannot be touched: unsubscribing only ever concerns oneself.
    await user.callback(message_id, f"c:u:{card_center}")
    assert await bot_env.rows() == before


async def test_odd_messages_get_a_hint(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    hint = "I understand text and locations."
    [reply] = await user.send_sticker()
    assert reply.text.startswith(hint)
    [reply] = await user.send_photo(caption="look")
    assert reply.text.startswith(hint)
    [reply] = await user.send_contact()
    assert reply.text.startswith(hint)
    [reply] = await user.send("/frobnicate")
    assert reply.text == "I don't know this command. /help lists what I can do."
    [reply] = await user.send("<b>&amp; 🙂")
    assert "<b>&amp; 🙂" in reply.text  # shown back verbatim, escaped for HTML


async def test_location_outside_any_flow_lists_nearest(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [reply] = await user.send_location(*EKATERINBURG)
    assert reply.text.startswith("Nearest community centers")


async def test_deep_link_opens_the_center_card(bot_env):
    center_id = await center_id_by_external(bot_env, "demo-poltava-1")
    user = await bot_env.tg.new_user(first_name="Олена", language_code="uk")
    greeting, venue, card, consent = await user.send(f"/start center_{center_id}")
    assert "Олена" in greeting.text
    assert venue.venue["address"] and venue.venue["title"] in card.text
    assert card.buttons == [["⭐ Підписатися"]]
    assert "Згода" in consent.text
    # Subscribing from the card asks for consent first, then subscribes in one go.
    await user.press("⭐ Підписатися", message_id=card.message_id)
    replies = await user.press("✅ Погоджуюсь")
    assert "Ви підписані" in replies[-1].text
    [mine] = await user.press("⭐ Мої центри")
    assert venue.venue["title"] in mine.text


@pytest.mark.parametrize(
    "payload", ["center_999999", "center_abc", "x" * 64, "center_0", "CENTER_1", "-_-"]
)
async def test_unknown_or_malformed_deep_link_falls_back_to_start(bot_env, payload):
    user = await bot_env.tg.new_user(language_code="en")
    notice, greeting, consent = await user.send(f"/start {payload}")
    assert notice.text == "This link is out of date or mistyped, so here is the usual start."
    assert greeting.text.startswith("Hello")
    assert "consent" in consent.text.lower()


@pytest.mark.allow_errors
async def test_a_failure_inside_a_handler_gets_an_apology(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [nearest] = await user.send_location(*EKATERINBURG)
    await bot_env.tg.add_fault(
        method="sendVenue", error_code=500, description="Internal Server Error"
    )
    replies = await user.press(nearest.buttons[0][0])
    assert replies[-1].text == (
        "Sorry, something went wrong on my side. Please try again in a minute."
    )
    [callback] = [c for c in await bot_env.tg.callbacks(user.id) if c["data"].startswith("c:o")]
    assert callback["answered"]


async def test_double_taps_change_nothing_twice(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    [nearest] = await user.send_location(*EKATERINBURG)
    more = nearest.callback_data["More ▶️"]
    await user.callback(nearest.message_id, more)
    await user.callback(nearest.message_id, more)  # the list already shows that page
    page_two = await user.last_bot_message()
    _venue, card = await user.press(page_two.buttons[0][0])
    subscribe = card.callback_data["⭐ Subscribe"]
    await user.callback(card.message_id, subscribe)
    await user.callback(card.message_id, subscribe)
    assert len((await bot_env.rows())["subscriptions"]) == 1
    answers = [c["answer"]["text"] for c in await bot_env.tg.callbacks(user.id)][-2:]
    assert answers == ["Subscribed.", "Subscribed."]


async def test_what_start_up_built_is_out_of_the_collectors_reach(bot_env):
    # Full collections walking the nearest-center index stalled every update (see on_startup).
    assert gc.get_freeze_count() > 0
