"""The bot's HTTP session: JSON bodies for calls, aiogram's multipart form for uploads."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web
from aiohttp.typedefs import Handler

from fake_telegram import FakeTelegram, FakeTelegramClient
from tests.conftest import PlainHttpSession

TOKEN = "123456:TEST"


async def test_calls_go_as_json_and_uploads_as_a_form() -> None:
    seen: list[tuple[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/bot"):
            seen.append((request.path.rsplit("/", 1)[-1], request.content_type))
        return await handler(request)

    server = FakeTelegram(token=TOKEN)
    server.app.middlewares.append(record)
    async with server, FakeTelegramClient(server.base_url) as control:
        user = await control.new_user("Оля", started=True)
        bot = Bot(
            TOKEN,
            session=PlainHttpSession(api=TelegramAPIServer.from_base(server.base_url)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        try:
            keyboard = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Записаться", callback_data="a:j:7")]]
            )
            sent = await bot.send_message(
                user.id, "<b>Шахматы</b> в 18:00", reply_markup=keyboard, disable_notification=False
            )
            await bot.send_document(user.id, BufferedInputFile(b"BEGIN:VCALENDAR", "a.ics"))
            refused = None
            try:
                await bot.send_message(user.id, "")
            except TelegramBadRequest as error:
                refused = error
        finally:
            await bot.session.close()
        messages = await control.messages(user.id)

    assert seen == [
        ("sendMessage", "application/json"),
        ("sendDocument", "multipart/form-data"),
        ("sendMessage", "application/json"),
    ]
    assert sent.text == "Шахматы в 18:00"
    first = messages[0]
    # The default parse mode and the keyboard arrived as if sent as a form.
    assert first.text == "Шахматы в 18:00"
    assert first.entities[0]["type"] == "bold"
    assert first.reply_markup == {
        "inline_keyboard": [[{"text": "Записаться", "callback_data": "a:j:7"}]]
    }
    assert messages[1].document is not None
    assert refused is not None and "text is empty" in refused.message
