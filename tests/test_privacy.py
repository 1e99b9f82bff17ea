"""Consent, declining, withdrawing, exporting: nothing personal without a yes."""

import json
from datetime import UTC, datetime

import pytest

from storage.users import save_consent
from tests.helpers import (
    EKATERINBURG,
    all_answered,
    center_id_by_external,
    consenting_user,
    eventually,
)


async def test_declining_stores_nothing_but_centers_can_still_be_found(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    await user.send("/start")
    replies = await user.press("❌ No, thanks")
    assert replies[-1].text.startswith("Understood: nothing about you is stored.")
    assert replies[-1].reply_keyboard[0] == ["📍 Nearest center"]
    [nearest] = await user.press(
        "📍 Nearest center", latitude=EKATERINBURG[0], longitude=EKATERINBURG[1]
    )
    await user.press(nearest.buttons[0][0])
    [mine] = await user.press("⭐ My centers")
    assert mine.text.startswith("You are not subscribed")
    [no_data] = await user.send("/mydata")
    assert no_data.text == "Nothing about you is stored."
    [nothing] = await user.send("/forget")
    assert nothing.text == "Nothing about you is stored, so there is nothing to delete."
    tables = await bot_env.rows()
    assert tables["users"] == [] and tables["subscriptions"] == []


async def test_language_chosen_before_consent_is_kept_without_storing_anything(bot_env):
    user = await bot_env.tg.new_user(language_code="ru")
    await user.send("/language")
    replies = await user.press("English")
    assert replies[-1].text == "Done: I will speak English from now on."
    [help_text] = await user.send("/help")
    assert help_text.text.startswith("What I can do")
    assert (await bot_env.rows())["users"] == []
    await user.send("/start")
    await user.press("✅ I agree")
    [document] = await user.send("/mydata")
    exported = json.loads(await bot_env.tg.file_bytes(document.document["file_id"]))
    assert exported["language"] == "en"


async def test_double_tap_on_agree_records_consent_once(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [_greeting, consent] = await user.send("/start")
    data = consent.callback_data["✅ I agree"]
    first = await user.callback(consent.message_id, data)
    second = await user.callback(consent.message_id, data)
    assert sum(1 for m in first + second if m.reply_keyboard) == 1
    answers = [c["answer"]["text"] for c in await bot_env.tg.callbacks(user.id)]
    assert answers == ["Thank you!", "You have already agreed."]
    assert len((await bot_env.rows())["users"]) == 1


async def test_privacy_shows_consent_and_withdrawing_erases_everything(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    center_id = await center_id_by_external(bot_env, "demo-msk-1")
    await user.send(f"/start center_{center_id}")
    await user.press("⭐ Subscribe")
    [privacy] = await user.send("/privacy")
    assert "You agreed on" in privacy.text
    assert privacy.buttons == [["Withdraw consent and delete my data"]]
    replies = await user.press("Withdraw consent and delete my data")
    assert replies[-1].buttons == [["🗑 Yes, delete everything"], ["Keep my data"]]
    await user.press("Keep my data")
    assert len((await bot_env.rows())["subscriptions"]) == 1
    [confirm] = await user.send("/forget")
    await user.press("🗑 Yes, delete everything")
    tables = await bot_env.rows()
    assert tables["users"] == [] and tables["subscriptions"] == []
    # A confirmation pressed again after the erasure finds nothing and breaks nothing.
    await user.callback(confirm.message_id, confirm.callback_data["🗑 Yes, delete everything"])
    assert (await bot_env.rows())["users"] == []


@pytest.mark.settings(consent_version="2027-01-01")
async def test_a_new_consent_text_must_be_agreed_to_again(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    async with bot_env.db.write() as conn:
        await save_consent(
            conn,
            user_id=user.id,
            display_name="Old",
            language="en",
            consent_version="2026-11-22",
            now=datetime(2026, 11, 22, tzinfo=UTC),
        )
    [_welcome, consent] = await user.send("/start")
    assert "Version of this text: 2027-01-01" in consent.text
    center_id = await center_id_by_external(bot_env, "demo-msk-1")
    [_venue, card] = (await user.send(f"/start center_{center_id}"))[1:3]
    replies = await user.press("⭐ Subscribe", message_id=card.message_id)
    assert "Privacy and consent" in replies[-1].text
    await user.press("✅ I agree", message_id=replies[-1].message_id)
    [row] = (await bot_env.rows())["users"]
    assert row[4] == "2027-01-01"
    assert len((await bot_env.rows())["subscriptions"]) == 1


async def test_blocking_the_bot_is_remembered(bot_env):
    user = await consenting_user(bot_env)
    await user.block()
    [row] = (await bot_env.rows())["users"]
    assert row[5] is True
    await user.unblock()
    [row] = (await bot_env.rows())["users"]
    assert row[5] is False


@pytest.mark.concurrent
async def test_simultaneous_taps_on_agree_record_consent_once(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    await user.send("/start", wait=False)
    consent = await eventually(lambda: _consent_screen(user))
    data = consent.callback_data["✅ I agree"]
    for _ in range(3):
        await user.callback(consent.message_id, data, wait=False)
    answered = await all_answered(bot_env, user, 3)
    texts = sorted(c["answer"]["text"] for c in answered)
    assert texts == ["Thank you!", "You have already agreed.", "You have already agreed."]
    assert len((await bot_env.rows())["users"]) == 1


@pytest.mark.concurrent
async def test_subscribe_racing_forget_never_fails(bot_env):
    user = await consenting_user(bot_env, language_code="en")
    center_id = await center_id_by_external(bot_env, "demo-msk-1")
    await user.send(f"/start center_{center_id}", wait=False)
    card = await eventually(lambda: _card(user))
    await user.send("/forget")
    confirm = await eventually(lambda: _forget_question(user))
    await user.callback(card.message_id, card.callback_data["⭐ Subscribe"], wait=False)
    await user.callback(
        confirm.message_id, confirm.callback_data["🗑 Yes, delete everything"], wait=False
    )
    await all_answered(bot_env, user, 3)
    tables = await bot_env.rows()
    assert tables["users"] == [] and tables["subscriptions"] == []


async def _consent_screen(user):
    last = await user.last_bot_message()
    return last if last and "✅ I agree" in last.callback_data else None


async def _forget_question(user):
    last = await user.last_bot_message()
    return last if last and "🗑 Yes, delete everything" in last.callback_data else None


async def _card(user):
    last = await user.last_bot_message()
    return last if last and "⭐ Subscribe" in last.callback_data else None


async def test_an_old_no_thanks_does_not_erase_a_user_who_agreed(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [_greeting, first] = await user.send("/start")
    [_greeting, second] = await user.send("/start")
    await user.press("✅ I agree", message_id=second.message_id)
    await user.press("❌ No, thanks", message_id=first.message_id)
    assert len((await bot_env.rows())["users"]) == 1
    answer = (await bot_env.tg.callbacks(user.id))[-1]["answer"]["text"]
    assert answer == "You have already agreed. To withdraw consent, send /privacy."


async def test_group_messages_are_ignored(bot_env):
    group = await bot_env.tg.new_group(title="Дом 5")
    user = await bot_env.tg.new_user(language_code="en")
    await user.send("Moscow", chat_id=group["id"])
    assert [m for m in await bot_env.tg.messages(group["id"]) if m.from_bot] == []
