"""The playground in a real browser: Debian's Chromium, headless, driven by Playwright (which
downloads no browser of its own). A newcomer starts, agrees, shares a location from the map,
opens a center and signs up; what the page shows is checked at every step."""

import re
from pathlib import Path

import pytest

from tests.playground_process import running_playground

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser_page(tmp_path):
    """A page of a fresh Chromium profile, and the errors it reports (a test checks them while
    the server still runs: the page's long poll fails once it stops)."""
    async with playwright_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            locale="ru-RU",
            viewport={"width": 1280, "height": 800},
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(15_000)
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page, errors
        finally:
            await context.close()


def last_bot_message(page):
    return page.locator(".row.incoming").last


async def test_start_consent_location_center_and_sign_up(tmp_path, browser_page):
    page, errors = browser_page
    async with running_playground(tmp_path) as playground:
        await page.goto(playground.url)
        # The page speaks the browser's language; the newcomer's chat is first and empty.
        await expect(page.locator(".brand-title")).to_have_text("Песочница «Соседей»")
        await expect(page.locator(".persona")).to_have_count(6)
        await expect(page.locator(".persona.active")).to_contain_text("Анна")
        await expect(page.locator(".persona", has_text="Ольга")).to_contain_text(
            "координатор · Соседи на Малышева"
        )
        await expect(page.locator("#clock-offset")).to_have_text("реальное время")
        await expect(page.locator(".row")).to_have_count(0)

        await page.get_by_role("button", name="НАЧАТЬ").click()
        consent = last_bot_message(page)
        await expect(consent).to_contain_text("Согласие")
        await expect(page.locator(".row.outgoing .text")).to_have_text("/start")
        await consent.get_by_role("button", name="✅ Согласен(на)").click()
        await expect(last_bot_message(page)).to_contain_text("Согласие сохранено")
        await expect(page.locator(".rk-button")).to_contain_text(["📍 Ближайший центр"])

        # The reply keyboard's location button opens the map; a demo city is one click.
        await page.get_by_role("button", name="📍 Ближайший центр").click()
        dialog = page.locator("#location-dialog")
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="Екатеринбург").click()
        await expect(page.locator("#lat")).not_to_have_value("")
        await dialog.get_by_role("button", name="Отправить").click()
        await expect(dialog).to_be_hidden()
        await expect(page.locator(".row.outgoing .place .coords")).to_contain_text("56.8")

        nearest = last_bot_message(page)
        await expect(nearest).to_contain_text("Ближайшие центры")
        await expect(nearest.locator(".bubble b").first).to_be_visible()  # HTML parse mode
        first_center = nearest.locator(".ik-button").first
        await expect(first_center).to_have_text("1. Соседи на Малышева")
        await first_center.click()

        # A venue with its pin and coordinates, then the card, edited in place on subscribing.
        await expect(page.locator(".venue-title").last).to_have_text("Соседи на Малышева")
        await expect(page.locator(".venue .coords").last).to_contain_text("56.")
        card = last_bot_message(page)
        await expect(card).to_contain_text("Часы работы")
        card_id = await card.get_attribute("data-message-id")
        await card.get_by_role("button", name="⭐ Подписаться").click()
        edited = page.locator(f'.row[data-message-id="{card_id}"]')
        await expect(edited.get_by_role("button", name="🔕 Отписаться")).to_be_visible()
        await expect(edited.locator(".edited")).to_have_text("изменено")
        await expect(page.locator("#toast")).to_have_text("Вы подписались.")

        # Activities of the subscribed center; the first one's card; sign up.
        await page.get_by_role("button", name="🗓 Занятия").click()
        listing = last_bot_message(page)
        await expect(listing).to_contain_text("Занятия")
        await listing.locator(".ik-button").first.click()
        activity = last_bot_message(page)
        await expect(activity.get_by_role("button", name="✅ Записаться")).to_be_visible()
        await activity.get_by_role("button", name="✅ Записаться").click()
        await expect(page.get_by_text("✅ Вы записаны.")).to_be_visible()
        signed = last_bot_message(page)
        await expect(signed.get_by_role("button", name="❌ Отменить запись")).to_be_visible()

        # The calendar file arrives as a document that downloads.
        await signed.get_by_role("button", name="📅 В мой календарь").click()
        document = page.locator(".document .doc-name").last
        await expect(document).to_have_text(re.compile(r"\.ics$"))
        href = await document.get_attribute("href")
        response = await page.request.get(playground.url.rstrip("/") + href)
        assert b"BEGIN:VCALENDAR" in await response.body()

        # What a user types is shown as text, never as markup.
        await page.locator("#text").fill("<b>не жирный</b> <img src=x onerror=alert(1)>")
        await page.locator("#text").press("Enter")
        mine = page.locator(".row.outgoing").last
        await expect(mine.locator(".text")).to_have_text(
            "<b>не жирный</b> <img src=x onerror=alert(1)>"
        )
        assert await mine.locator("b, img").count() == 0

        # Other personas' chats: a resident's in Ukrainian; the coordinator's command menu.
        await page.locator(".persona", has_text="Петро").click()
        await expect(last_bot_message(page)).to_have_text(re.compile("З поверненням, Петро!"))
        await page.locator(".persona", has_text="Ольга").click()
        await page.get_by_role("button", name="Команды").click()
        await page.locator(".command-item", has_text="/coord").click()
        await expect(last_bot_message(page)).to_contain_text("Соседи на Малышева")
        await expect(last_bot_message(page).locator(".ik-button").first).to_be_visible()

        # The clock moves forward and says so.
        await page.get_by_role("button", name="+1 час").click()
        await expect(page.locator("#clock-offset")).to_have_text("на 1 ч впереди")
        await page.screenshot(path=str(tmp_path / "playground.png"))
        assert not errors, errors
