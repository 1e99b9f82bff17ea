"""Finding centers by typing: any case, ё/е, Cyrillic or Latin, page by page."""

import pytest


@pytest.mark.parametrize(
    "query", ["Екатеринбург", "екатеринбург", "ЕКАТЕРИНБУРГ", "Yekaterinburg", "ekaterinburg"]
)
async def test_city_in_any_spelling(bot_env, query):
    user = await bot_env.tg.new_user(language_code="ru")
    [reply] = await user.send(query)
    assert reply.text.startswith("Центры по запросу")
    assert reply.text.count("Екатеринбург") >= 5
    assert reply.buttons[-1] == ["Ещё ▶️"]  # six centers in the demo city: a second page


async def test_street_narrows_the_city_and_latin_finds_ukrainian(bot_env):
    user = await bot_env.tg.new_user(language_code="uk")
    [reply] = await user.send("екатеринбург малышева")
    assert len(reply.buttons) == 1 and "Малышева" in reply.buttons[0][0]
    [reply] = await user.send("Myrhorod")
    assert "Миргород" in reply.text
    [reply] = await user.send("ёлки-палки")
    assert reply.text.startswith("За запитом «ёлки-палки» центрів не знайшлося")


async def test_paging_edits_the_list_in_place(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [first] = await user.send("Соседи")
    assert [len(row) for row in first.buttons] == [1, 1, 1, 1, 1, 1]
    [second] = await user.press("More ▶️")
    assert second.message_id == first.message_id
    assert second.buttons[0][0].startswith("6. ")
    assert second.buttons[-1] == ["◀️ Back", "More ▶️"]
    [back] = await user.press("◀️ Back")
    assert back.text == first.text


async def test_paging_nearest_by_location(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [first] = await user.send_location(55.7558, 37.6173)  # Moscow
    [second] = await user.press("More ▶️")
    assert second.message_id == first.message_id
    assert second.buttons[0][0].startswith("6. ")
    first_names = {row[0].split(". ", 1)[1] for row in first.buttons[:5]}
    second_names = {row[0].split(". ", 1)[1] for row in second.buttons if ". " in row[0]}
    assert not first_names & second_names


async def test_menu_labels_work_in_any_language_after_a_switch(bot_env):
    user = await bot_env.tg.new_user(language_code="ru")
    await user.send("/start")
    await user.press("✅ Согласен(на)")
    await user.send("/language")
    await user.press("English")
    # An old Russian keyboard may still be on screen: its buttons keep working.
    [reply] = await user.send("⭐ Мои центры")
    assert reply.text.startswith("You are not subscribed")


@pytest.mark.empty
async def test_no_centers_at_all(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [reply] = await user.send_location(55.75, 37.61)
    assert reply.text == "There are no community centers in the list yet."
    [reply] = await user.send("Moscow")
    assert reply.text.startswith("I found no center for “Moscow”")


async def test_two_lists_page_through_their_own_searches(bot_env):
    user = await bot_env.tg.new_user(language_code="en")
    [first] = await user.send("Соседи")
    [second] = await user.send("Moscow")
    assert second.text.startswith("Centers for “Moscow”") and "Москва" in second.text
    [paged] = await user.press("More ▶️", message_id=first.message_id)
    assert paged.message_id == first.message_id
    assert paged.text.startswith("Centers for “Соседи”")
    assert paged.buttons[0][0].startswith("6. ")
