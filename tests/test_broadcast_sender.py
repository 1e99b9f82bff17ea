"""What announcements ask of the sender: photos with a caption, and requests of the bot's own
(the progress message's edits) that keep to the same limits as the queue."""

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import BufferedInputFile

from bot.sender import Sender
from fake_telegram.control import TINY_PNG
from storage.deliveries import SENT
from tests.test_sender import KEYBOARD, FakeTime, sender_env  # noqa: F401 (the env fixture)


async def test_a_delivery_with_a_photo_goes_out_as_a_photo_with_its_caption(env):
    user = await env.user()
    uploaded = await env.bot.send_photo(user, BufferedInputFile(TINY_PNG, "p.png"))
    file_id = uploaded.photo[-1].file_id
    delivery = await env.enqueue(
        user, "<b>Субботник</b> в 10:00", photo=file_id, reply_markup=KEYBOARD
    )
    await Sender(env.bot, env.db).run_until_idle()
    assert (await env.delivery(delivery)).state == SENT
    *_, message = await env.tg.messages(user)
    assert message.photo[-1]["file_id"] == file_id
    assert message.html == "<b>Субботник</b> в 10:00"
    assert message.reply_markup == KEYBOARD
    assert (await env.tg.stats())["calls"]["sendPhoto"] == 2


async def test_a_request_of_its_own_waits_for_the_chat_and_the_global_turn(env):
    time = FakeTime()
    sender = Sender(env.bot, env.db, per_second=2, **time.kwargs())
    limiter = sender.limiter
    # A message to the chat was just answered: the chat takes the next one a second later.
    limiter.hold(7, time.monotonic())
    limiter.take(7, time.monotonic())
    limiter.finish(7, time.monotonic())
    started = time.monotonic()
    at = []

    async def request():
        at.append(time.monotonic())
        return "done"

    assert await sender.within_limits(7, request) == "done"
    assert at == [started + 1.0]
    # And it took a turn of the global rate: the next send waits half a second.
    assert limiter.global_wait(time.monotonic()) == pytest.approx(0.5)
    assert limiter.chat_wait(7, time.monotonic()) == pytest.approx(1.0)


async def test_a_request_of_its_own_gives_way_to_a_pause_and_a_429_pauses_the_sender(env):
    time = FakeTime()
    sender = Sender(env.bot, env.db, per_second=10, **time.kwargs())
    sender.limiter.pause(time.monotonic(), 3.0)
    called = []

    async def request():
        called.append(True)

    assert await sender.within_limits(1, request) is None
    assert called == [] and sender.limiter.chat_wait(1, time.monotonic()) == 0

    time.advance(3.0)

    async def refused():
        raise TelegramRetryAfter(method=None, message="Too Many Requests", retry_after=5)

    with pytest.raises(TelegramRetryAfter):
        await sender.within_limits(1, refused)
    assert sender.limiter.paused(time.monotonic()) and sender.stats.pauses == 1


async def test_a_request_of_its_own_gives_up_on_a_chat_busy_for_too_long(env):
    time = FakeTime()
    sender = Sender(env.bot, env.db, per_second=10, **time.kwargs())
    sender.limiter.hold(5, time.monotonic())  # a send to it still on the wire
    called = []

    async def request():
        called.append(True)

    assert await sender.within_limits(5, request, patience=1.0) is None
    assert called == []
