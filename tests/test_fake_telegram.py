"""The fake Telegram server, driven by a real aiogram Bot and by the control client."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import zlib

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from aiohttp import web

from fake_telegram import FakeTelegram, FakeTelegramClient, FakeTelegramError, UpdateDropped
from fake_telegram.html import HtmlParseError, parse_html

# -- fixtures ------------------------------------------------------------------------------------


class QuickSession(AiohttpSession):
    """aiogram's session sleeps 250 ms on close for TLS; there is no TLS here."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(base_url: str, token: str = "123456:TEST") -> Bot:
    return Bot(token, session=QuickSession(api=TelegramAPIServer.from_base(base_url)))


@pytest.fixture
async def tg():
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def ctl(tg):
    async with FakeTelegramClient(tg.base_url, timeout=3) as client:
        yield client


@pytest.fixture
async def bot(tg):
    bot = make_bot(tg.base_url)
    yield bot
    await bot.session.close()


@contextlib.asynccontextmanager
async def polling(tg: FakeTelegram, dp: Dispatcher, bot: Bot):
    """Run the dispatcher; confirmation then means "handled" (handle_as_tasks=False)."""
    started = asyncio.Event()
    dp.startup.register(started.set)
    task = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, handle_as_tasks=False, polling_timeout=1)
    )
    await started.wait()
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# -- HTML parse mode -----------------------------------------------------------------------------


def test_html_is_parsed_into_text_and_utf16_entities():
    text, entities = parse_html(
        '😀 <b>Bold <i>both</i></b> &lt;3 &amp; Tom & Jerry <a href="https://x.org">link</a>'
    )
    assert text == "😀 Bold both <3 & Tom & Jerry link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "offset": 30, "length": 4, "url": "https://x.org"},
    ]


def test_html_pre_with_language_and_spoilers():
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre> '
        '<tg-spoiler>a</tg-spoiler> <span class="tg-spoiler">b</span> <blockquote>q</blockquote>'
    )
    assert text == "x = 1 a b q"
    assert [e["type"] for e in entities] == ["pre", "spoiler", "spoiler", "blockquote"]
    assert entities[0]["language"] == "python"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("привет <br>", 'Unsupported start tag "br" at byte offset 13'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("1<2", "Unclosed start tag at byte offset 1"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_errors_use_telegram_wording(source, error):
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source)
    assert str(caught.value) == error


# -- plain Bot API -------------------------------------------------------------------------------


async def test_get_me_and_tokens(tg, bot):
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (123456, True, "sosedi_bot", "Sosedi")
    assert me.can_join_groups is True and me.supports_inline_queries is False

    intruder = make_bot(tg.base_url, token="999:WRONG")
    with pytest.raises(TelegramUnauthorizedError):
        await intruder.get_me()
    await intruder.session.close()


async def test_unknown_method_json_body_query_string_and_case(tg):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot{tg.token}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.get(f"{tg.base_url}/bot{tg.token}/GETME") as response:
            assert (await response.json())["result"]["username"] == "sosedi_bot"
        async with http.post(
            f"{tg.base_url}/bot{tg.token}/sendMessage", json={"chat_id": 42, "text": "hi"}
        ) as response:
            assert response.status == 400
            assert (await response.json())["description"] == "Bad Request: chat not found"
        async with http.get(f"{tg.base_url}/bot{tg.token}/sendMessage?text=hi") as response:
            assert (await response.json())["description"] == "Bad Request: chat_id is empty"


async def test_send_edit_delete_and_their_errors(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )
    sent = await bot.send_message(anna.id, "first", reply_markup=keyboard)
    assert sent.from_user.id == 123456 and sent.chat.id == anna.id
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "go"

    edited = await bot.edit_message_text("second", chat_id=anna.id, message_id=sent.message_id)
    assert edited.text == "second" and edited.edit_date is not None
    # As on Telegram, an edit without reply_markup drops the inline keyboard.
    assert edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=anna.id, message_id=999)
    await bot.edit_message_reply_markup(
        chat_id=anna.id, message_id=sent.message_id, reply_markup=keyboard
    )

    assert await bot.delete_message(anna.id, sent.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(anna.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("y", chat_id=anna.id, message_id=sent.message_id)

    [stored] = await anna.messages(include_deleted=True)
    assert (stored.text, stored.edit_count, stored.deleted) == ("second", 2, True)
    assert stored.buttons == [["Go"]] and stored.callback_data == {"Go": "go"}


async def test_edits_that_change_nothing_are_refused(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    go = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )
    stop = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="stop")]]
    )
    sent = await bot.send_message(anna.id, "Привет 😀 <b>x</b>", parse_mode="HTML", reply_markup=go)

    async def edit(text: str, markup: InlineKeyboardMarkup | None = go) -> None:
        await bot.edit_message_text(
            text,
            chat_id=anna.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        )

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await edit("Привет 😀 <b>x</b>")
    # The same text reached through other markup is the same content.
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await edit("  Привет &#128512; <B>x</b >\n")
    await edit("Привет 😀 <i>x</i>")  # entities only
    await edit("Привет 😀 <i>x</i>", stop)  # keyboard only
    await edit("Привет 😀 <i>x</i>", None)  # keyboard removed
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await edit("Привет 😀 <i>x</i>", None)
    await edit("Привет")  # text only, keyboard back

    photo = await bot.send_photo(anna.id, BufferedInputFile(png(2, 2), "p.png"), caption="c")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(chat_id=anna.id, message_id=photo.message_id, caption="c")
    await bot.edit_message_caption(chat_id=anna.id, message_id=photo.message_id, caption="d")
    await bot.edit_message_caption(chat_id=anna.id, message_id=photo.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(chat_id=anna.id, message_id=photo.message_id)
    [*_, stored] = await anna.messages()
    assert stored.edit_count == 2 and stored.caption is None


async def test_html_messages_keep_text_entities_and_source(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    sent = await bot.send_message(anna.id, "  <b>Hi</b>, <i>Anna</i> &amp; co\n", parse_mode="HTML")
    assert sent.text == "Hi, Anna & co"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 2),
        ("italic", 4, 4),
    ]
    [stored] = await anna.messages()
    assert stored.html == "  <b>Hi</b>, <i>Anna</i> &amp; co\n"

    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(anna.id, "Price <100> now", parse_mode="HTML")
    assert caught.value.message == (
        'Bad Request: can\'t parse entities: Unsupported start tag "100" at byte offset 6'
    )
    with pytest.raises(TelegramBadRequest, match='start tag "b"'):
        await bot.send_message(anna.id, "<b>unclosed", parse_mode="HTML")
    photo = BufferedInputFile(png(2, 2), "p.png")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_photo(anna.id, photo, caption="<x>", parse_mode="HTML")


async def test_texts_keyboards_and_chats_are_validated(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    photo = BufferedInputFile(png(2, 2), "p.png")

    def button(**kwargs):
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(**kwargs)]])

    cases = [
        (bot.send_message(anna.id, "<b> </b>", parse_mode="HTML"), "message text is empty"),
        (bot.send_message(anna.id, "x" * 4097), "message is too long"),
        (bot.send_photo(anna.id, photo, caption="x" * 1025), "message caption is too long"),
        (
            bot.send_message(anna.id, "x", reply_markup=button(text="A", callback_data="x" * 65)),
            "BUTTON_DATA_INVALID",
        ),
        (
            bot.send_message(anna.id, "x", reply_markup=button(text="A")),
            "Text buttons are unallowed in the inline keyboard",
        ),
        (bot.send_message(987654, "x"), "chat not found"),
        (bot.send_message(anna.id, "*x*", parse_mode="MarkdownV2"), "knows only HTML"),
        (
            bot.send_message(anna.id, "x", reply_parameters=ReplyParameters(message_id=404)),
            "message to be replied not found",
        ),
    ]
    for call, description in cases:
        with pytest.raises(TelegramBadRequest, match=description):
            await call
    assert await bot.send_message(anna.id, "x" * 4096)
    assert await bot.send_message(
        anna.id, "ж" * 64, reply_markup=button(text="A", url="https://a.b")
    )


async def test_bot_cannot_write_first_and_blocked_users_get_403(tg, bot, ctl):
    shy = await ctl.new_user("Shy")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(shy.id, "hello?")

    await shy.send("/start", wait=False)
    await bot.send_message(shy.id, "welcome")
    await shy.block(wait=False)
    with pytest.raises(TelegramForbiddenError) as caught:
        await bot.send_message(shy.id, "are you there?")
    assert caught.value.message == "Forbidden: bot was blocked by the user"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(shy.id, "typing")

    updates = await bot.get_updates(timeout=0)
    assert [u.event_type for u in updates] == ["message", "my_chat_member"]
    member = updates[1].my_chat_member
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")

    await shy.unblock(wait=False)
    assert await bot.send_message(shy.id, "welcome back")


async def test_injected_faults_surface_as_aiogram_errors(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    await ctl.add_fault(method="sendMessage", chat_id=anna.id, error_code=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(anna.id, "one")
    assert caught.value.retry_after == 7
    assert "Original description: Too Many Requests: retry after 7" in caught.value.message
    assert await bot.send_message(anna.id, "the fault was for one call only")

    fault = await ctl.add_fault(method="sendmessage", error_code=502, times=None)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(anna.id, "x")
    await ctl.remove_fault(fault)

    await ctl.add_fault(method="sendMessage", latency=0.2)
    started = time.monotonic()
    await bot.send_message(anna.id, "slow")
    assert time.monotonic() - started >= 0.2
    stats = await ctl.stats()
    assert stats["faults_triggered"] == 4 and stats["calls"]["sendMessage"] == 5


async def test_rate_limits_answer_429_until_the_window_slides():
    now = [1000.0]
    async with FakeTelegram(clock=lambda: now[0]) as tg, FakeTelegramClient(tg.base_url) as ctl:
        bot = make_bot(tg.base_url)
        anna = await ctl.new_user("Anna", started=True)
        bob = await ctl.new_user("Bob", started=True)
        await ctl.set_rate_limits(per_chat_per_second=2, global_per_second=3)
        await bot.send_message(anna.id, "1")
        now[0] += 0.5
        await bot.send_message(anna.id, "2")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(anna.id, "3")
        assert caught.value.retry_after == 1
        await bot.send_message(bob.id, "global 3 of 3")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(bob.id, "global 4 of 3")
        await bot.send_chat_action(anna.id, "typing")  # not a send: never limited
        now[0] += 0.6
        await bot.send_message(anna.id, "the first send left the window")
        assert (await ctl.stats())["rate_limited"] == 2
        await bot.session.close()


async def test_document_and_photo_upload_download_and_reuse(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    payload = b"name;date\nAnna;2025-01-01\n"
    sent = await bot.send_document(
        anna.id,
        BufferedInputFile(payload, "visits.csv"),
        caption="<b>Report</b>",
        parse_mode="HTML",
    )
    document = sent.document
    assert (document.file_name, document.mime_type, document.file_size) == (
        "visits.csv",
        "text/csv",
        len(payload),
    )
    assert sent.caption == "Report" and sent.caption_entities[0].type == "bold"
    assert await ctl.file_bytes(document.file_id) == payload

    downloaded = await bot.download(document.file_id)
    assert downloaded.read() == payload

    again = await bot.send_document(anna.id, document.file_id)
    assert again.document.file_id == document.file_id

    photo = await bot.send_photo(anna.id, BufferedInputFile(png(3, 2), "pic.png"))
    assert (photo.photo[-1].width, photo.photo[-1].height) == (3, 2)
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_photo(anna.id, document.file_id)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(anna.id, BufferedInputFile(b"not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(anna.id, "no-such-file-id")

    stored = await anna.messages()
    assert [m.document["file_name"] for m in stored if m.document] == ["visits.csv"] * 2
    assert stored[0].html == "<b>Report</b>"


async def test_location_venue_and_chat_action_are_stored(bot, ctl):
    anna = await ctl.new_user("Anna", started=True)
    await bot.send_location(anna.id, 56.84, 60.6)
    venue = await bot.send_venue(anna.id, 56.84, 60.6, "Sosedi centre", "Lenina 1")
    assert venue.venue.title == "Sosedi centre" and venue.location.latitude == 56.84
    await bot.send_chat_action(anna.id, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(anna.id, "dancing")

    view = await ctl.chat(anna.id)
    assert [a["action"] for a in view["chat_actions"]] == ["typing"]
    location, place = await anna.messages()
    assert location.location == {"latitude": 56.84, "longitude": 60.6}
    assert place.venue["address"] == "Lenina 1"


async def test_long_poll_wakes_on_update_and_offset_confirms(tg, bot, ctl):
    anna = await ctl.new_user("Anna")
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    update_id = await anna.send("/start deep_link", wait=False)
    [update] = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert update.update_id == update_id
    assert update.message.text == "/start deep_link"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start")

    # Not confirmed yet: the same update comes again until a higher offset is passed.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    with pytest.raises(FakeTelegramError, match="408"):
        await ctl.wait_confirmed(update_id, timeout=0.05)
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == []
    assert await ctl.wait_confirmed(update_id) == "confirmed"


async def test_second_poller_terminates_the_first(bot):
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    assert await second == []


async def test_inline_and_reply_buttons_end_to_end(tg, bot, ctl):
    dp = Dispatcher()
    seen_locations = []

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Accept", callback_data="accept")],
                [InlineKeyboardButton(text="Site", url="https://example.org")],
            ]
        )
        await message.answer("Rules: be kind", reply_markup=keyboard)

    @dp.callback_query(F.data == "accept")
    async def accept(query: CallbackQuery) -> None:
        await query.message.edit_text("Accepted ✅")
        await query.answer("Thanks!")
        menu = ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text="Events"), KeyboardButton(text="Help")],
                [KeyboardButton(text="Nearest centre", request_location=True)],
            ],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
        await query.message.answer("Main menu", reply_markup=menu)

    @dp.message(F.location)
    async def location(message: Message) -> None:
        seen_locations.append((message.location.latitude, message.location.longitude))
        await message.answer("Closest: Lenina 1", reply_markup=ReplyKeyboardRemove())

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text)

    anna = await ctl.new_user("Anna", language_code="ru")
    async with polling(tg, dp, bot):
        [rules] = await anna.send("/start")
        assert rules.text == "Rules: be kind"
        assert rules.buttons == [["Accept"], ["Site"]]
        with pytest.raises(FakeTelegramError, match="'Site' is a url button"):
            await anna.press("Site")

        edited, menu = await anna.press("Accept")
        assert (edited.message_id, edited.text, edited.edit_count) == (
            rules.message_id,
            "Accepted ✅",
            1,
        )
        assert edited.buttons == []
        assert menu.reply_keyboard == [["Events", "Help"], ["Nearest centre"]]
        assert await anna.reply_keyboard() == [["Events", "Help"], ["Nearest centre"]]

        [closest] = await anna.press("Nearest centre", latitude=56.84, longitude=60.6)
        assert closest.text == "Closest: Lenina 1" and closest.removes_keyboard
        assert seen_locations == [(56.84, 60.6)]
        assert await anna.reply_keyboard() is None

        with pytest.raises(FakeTelegramError, match="no button 'Events' on screen"):
            await anna.press("Events")
        [echoed] = await anna.send("hello")
        assert echoed.text == "hello"

    [query] = await ctl.callbacks()
    assert query["answered"] and query["answer"]["text"] == "Thanks!"
    assert await ctl.unanswered_callbacks() == []


async def test_forged_callback_and_answer_errors(tg, bot, ctl):
    dp = Dispatcher()
    received = []

    @dp.callback_query()
    async def any_query(query: CallbackQuery) -> None:
        received.append(query.data)
        if query.data == "x" * 100:
            await query.answer("y" * 201)
        await query.answer("ok")

    anna = await ctl.new_user("Anna", started=True)
    sent = await bot.send_message(anna.id, "no buttons here")
    async with polling(tg, dp, bot):
        assert await anna.callback(sent.message_id, "admin:delete_all") == []
        await anna.callback(sent.message_id, "x" * 100)
        with pytest.raises(UpdateDropped):
            await anna.send("the dispatcher only subscribed to callback queries")
    assert received == ["admin:delete_all", "x" * 100]
    assert [q["answered"] for q in await ctl.callbacks()] == [True, False]

    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("123")
    forged = (await ctl.callbacks())[0]["id"]
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(forged)


async def test_a_history_limit_forgets_the_oldest_of_what_is_done_with():
    async with (
        FakeTelegram(history=4) as server,
        FakeTelegramClient(server.base_url, timeout=3) as ctl,
    ):
        bot = make_bot(server.base_url)
        dp = Dispatcher()

        @dp.callback_query(F.data == "answer")
        async def answer(query: CallbackQuery) -> None:
            await query.answer()

        @dp.callback_query(F.data == "leave")
        async def leave(query: CallbackQuery) -> None:
            pass

        anna = await ctl.new_user("Anna", started=True)
        first = await bot.send_message(anna.id, "one")
        for text in ("two", "three"):
            await bot.send_message(anna.id, text)
        async with polling(server, dp, bot):
            await anna.callback(first.message_id, "leave")  # confirmed: 1 done
            await anna.callback(first.message_id, "answer")  # answered and confirmed: 3

        # Done with: 3 messages, 2 updates, 1 answered query; the 4 newest are remembered.
        assert [m.text for m in await anna.messages()] == ["three"]
        assert [q["data"] for q in await ctl.callbacks()] == ["leave", "answer"]
        assert [q["data"] for q in await ctl.unanswered_callbacks()] == ["leave"]
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("edited", chat_id=anna.id, message_id=first.message_id)
        await bot.session.close()


@contextlib.asynccontextmanager
async def receiving(hook):
    """A webhook receiver on a free port running ``hook``; its URL."""
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    finally:
        await runner.cleanup()


async def test_webhook_delivery_with_secret_retry_and_conflict(tg, bot, ctl):
    received = []
    answers = iter([500, 200, 200])

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.json_response({}, status=next(answers))

    async with receiving(hook) as url:
        anna = await ctl.new_user("Anna")
        await bot.set_webhook(url, secret_token="s3cret_Token")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        first = await anna.send("one", wait=False)
        second = await anna.send("two", wait=False)
        assert await ctl.wait_confirmed(second) == "confirmed"
        assert await ctl.wait_confirmed(first) == "confirmed"
        assert [(secret, u["update_id"]) for secret, u in received] == [
            ("s3cret_Token", first),
            ("s3cret_Token", first),
            ("s3cret_Token", second),
        ]
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )

        await bot.delete_webhook()
        late = await anna.send("three", wait=False)
        assert [u.update_id for u in await bot.get_updates(timeout=0)] == [late]


async def test_webhook_delivers_chats_side_by_side_and_each_chat_in_order(tg, bot, ctl):
    """Like Telegram: several requests under way at once (up to max_connections), but never
    two of one chat, whose updates arrive in the order they were made."""
    under_way: dict[int, int] = {}
    most_at_once = 0
    arrived: dict[int, list[str]] = {}
    release = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        nonlocal most_at_once
        update = await request.json()
        chat = update["message"]["chat"]["id"]
        assert chat not in under_way, "two updates of one chat at once"
        under_way[chat] = update["update_id"]
        most_at_once = max(most_at_once, len(under_way))
        await release.wait()
        arrived.setdefault(chat, []).append(update["message"]["text"])
        del under_way[chat]
        return web.json_response({})

    async with receiving(hook) as url:
        await bot.set_webhook(url, max_connections=3)
        people = [await ctl.new_user(f"U{i}") for i in range(5)]
        last = 0
        for n in range(3):
            for person in people:
                last = await person.send(f"{n}", wait=False)
        deadline = time.monotonic() + 5
        while len(under_way) < 3:
            assert time.monotonic() < deadline, under_way
            await asyncio.sleep(0.01)
        release.set()
        assert await ctl.wait_confirmed(last) == "confirmed"
        assert await ctl.pending_updates() == []
    assert most_at_once == 3
    assert arrived == {person.id: ["0", "1", "2"] for person in people}


async def test_webhook_answer_can_carry_a_method(tg, bot, ctl):
    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "pong"})

    async with receiving(hook) as url:
        await bot.set_webhook(url)
        anna = await ctl.new_user("Anna")
        [pong] = await anna.send("ping")
        assert pong.text == "pong"


async def test_commands_are_stored_per_scope_and_language(bot, ctl):
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [
            BotCommand(command="start", description="Начать"),
            BotCommand(command="help", description="Помощь"),
        ],
        language_code="ru",
    )
    await bot.set_my_commands(
        [BotCommand(command="events", description="Events")], scope=BotCommandScopeAllPrivateChats()
    )
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == [
        "Начать",
        "Помощь",
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.get_my_commands(language_code="de") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])

    stored = {(c["scope"]["type"], c["language_code"]) for c in await ctl.commands()}
    assert stored == {("default", ""), ("default", "ru"), ("all_private_chats", "")}
    await bot.delete_my_commands(language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == []


async def test_user_edits_contacts_stickers_photos_and_reset(tg, bot, ctl):
    dp = Dispatcher()
    seen = []

    @dp.message(Command("hi"))
    async def greet(message: Message) -> None:
        share = KeyboardButton(text="Share phone", request_contact=True)
        await message.answer("hi!", reply_markup=ReplyKeyboardMarkup(keyboard=[[share]]))

    @dp.message()
    async def record(message: Message) -> None:
        seen.append(message.content_type)

    @dp.edited_message()
    async def edited(message: Message) -> None:
        seen.append(f"edited:{message.text}")

    anna = await ctl.new_user("Anna", phone_number="+79001234567")
    async with polling(tg, dp, bot):
        [hi] = await anna.send("/hi")
        assert hi.text == "hi!"
        await anna.press("Share phone")
        await anna.send_contact("+74950000000", first_name="Centre")
        await anna.send_sticker("🎉")
        await anna.send_photo(caption="my cat")
        await anna.send_document(b"%PDF-1.4", "form.pdf")
        first = (await anna.messages())[0]
        await anna.edit(first.message_id, "/hi again")
    assert seen == ["contact", "contact", "sticker", "photo", "document", "edited:/hi again"]

    messages = await anna.messages()
    assert messages[0].edit_count == 1 and messages[0].text == "/hi again"
    assert messages[1].reply_keyboard == [["Share phone"]]
    assert messages[2].contact == {
        "phone_number": "+79001234567",
        "first_name": "Anna",
        "user_id": anna.id,
    }
    assert messages[3].contact["first_name"] == "Centre" and messages[4].sticker["emoji"] == "🎉"
    assert messages[5].photo[0]["width"] == 1 and messages[5].caption == "my cat"
    assert messages[6].document["mime_type"] == "application/pdf"
    assert await ctl.file_bytes(messages[6].document["file_id"]) == b"%PDF-1.4"

    await ctl.reset()
    assert (await ctl.stats())["calls"] == {}
    with pytest.raises(FakeTelegramError, match="404"):
        await ctl.messages(anna.id)


async def test_groups_replies_and_settling_with_handlers_as_tasks(tg, bot, ctl):
    dp = Dispatcher()

    @dp.message(F.text)
    async def slow_reply(message: Message) -> None:
        await asyncio.sleep(0.05)  # the answer comes after polling already confirmed the update
        await message.reply(f"{message.from_user.first_name} said {message.text}")

    group = await ctl.new_group("Centre volunteers")
    anna = await ctl.new_user("Anna")
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        async with FakeTelegramClient(tg.base_url, settle=0.1) as patient:
            update_id = await anna.send("hello all", chat_id=group["id"], wait=False)
            assert await patient.wait_confirmed(update_id) == "confirmed"
            [reply] = await patient.bot_messages_since(group["id"], 0)
    finally:
        await dp.stop_polling()
        await task
    assert reply.text == "Anna said hello all"
    assert reply.reply_to_message_id == 1 and reply.raw["chat"]["type"] == "group"
