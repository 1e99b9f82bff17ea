"""Virtual residents for ``bench_throughput``, run in a process of their own.

They act through the fake server's control API, exactly as a test does, and learn that the bot
has handled an update from a line the benchmark's middleware writes to a socket (``d <id>``),
so that waiting for the bot costs the measured event loop nothing. Then each reads its chat
since the action, like a user looking at the screen, and picks its next step from what it sees.

Lines from the benchmark: ``d <update_id>`` (handled), ``mark`` (note the CPU time used so far),
``rate <updates per second>`` (end the closed loop; from now on residents start rounds at
random moments, as many as make that rate) and ``stop``. Lines to it: ``ready`` once the users
exist, and ``report <json>`` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import traceback
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any

from fake_telegram.client import ChatMessage, FakeTelegramClient, FakeTelegramError, FakeUser

STEP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0
SEARCH_SHARE = 0.5  # of the rounds that end with a text search
ECHO_CALLBACKS = 4
# Steps in a round, until enough rounds have been seen to count them.
MIN_ROUNDS = 20
ROUND_STEPS_GUESS = {"bot": 9.0, "echo": 8.5}


def main(config: dict[str, Any]) -> None:
    """Process entry point."""
    asyncio.run(Driver(config).run())


class Resident:
    """One virtual resident: the fake Telegram user and what it remembers between rounds."""

    def __init__(self, info: dict[str, Any], user: FakeUser, seed: int) -> None:
        self.info = info
        self.user = user
        self.rng = random.Random(seed)
        # Seats offered from a waitlist, seen in the chat: decline data -> message id.
        self.offers: dict[str, int] = {}


class Driver:
    """Runs the residents' rounds against the fake server, as the benchmark's lines say."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.mode: str = config["mode"]
        self.labels: dict[str, dict[str, str]] = config["labels"]
        self.rng = random.Random(config["seed"])
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.early: set[int] = set()
        self.idle: list[Resident] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed_loop = True
        self.rate: float | None = None
        self.rate_set = asyncio.Event()
        self.stopping = asyncio.Event()
        self.steps: Counter[str] = Counter()
        self.anomalies: Counter[str] = Counter()
        self.examples: list[str] = []
        self.marks: list[tuple[float, float, int]] = []
        self.rounds = 0
        self.round_steps = 0  # steps of the rounds counted in ``rounds``
        self.dropped = 0

    # -- plumbing ------------------------------------------------------------------------------

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.config["signal_port"])
        async with FakeTelegramClient(self.config["base_url"], timeout=STEP_TIMEOUT_S) as client:
            self.client = client
            residents = []
            for number, info in enumerate(self.config["residents"]):
                user = await client.new_user(
                    info["first_name"],
                    id=info["id"],
                    language_code=info["language"],
                    started=True,
                )
                residents.append(Resident(info, user, self.config["seed"] * 1_000 + number))
            self.idle = residents
            listener = asyncio.create_task(self._listen(reader))
            writer.write(b"ready\n")
            await writer.drain()
            workers = [
                asyncio.create_task(self._closed_loop_worker())
                for _ in range(self.config["concurrency"])
            ]
            opener = asyncio.create_task(self._open_loop())
            opener.add_done_callback(self._check_opener)
            await self.stopping.wait()
            opener.cancel()
            await asyncio.gather(*workers, opener, return_exceptions=True)
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=STOP_TIMEOUT_S)
            writer.write(b"report " + json.dumps(self._report()).encode() + b"\n")
            await writer.drain()
            listener.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        async for line in reader:
            if line.startswith(b"d "):
                update_id = int(line[2:])
                future = self.waiting.pop(update_id, None)
                if future is None:
                    self.early.add(update_id)
                elif not future.done():
                    future.set_result(None)
            elif line == b"mark\n":
                self.marks.append((time.process_time(), time.monotonic(), sum(self.steps.values())))
            elif line.startswith(b"rate "):
                self.rate = float(line[5:])
                self.closed_loop = False
                self.rate_set.set()
            elif line == b"stop\n":
                self.stopping.set()
        self.stopping.set()

    def _check_opener(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._anomaly("driver", f"open loop failed: {task.exception()!r}")
            self.stopping.set()

    def _report(self) -> dict[str, Any]:
        return {
            "steps": dict(self.steps),
            "anomalies": dict(self.anomalies),
            "examples": self.examples[:10],
            "marks": self.marks,
            "rounds": self.rounds,
            "dropped": self.dropped,
        }

    def _anomaly(self, kind: str, detail: str) -> None:
        self.anomalies[kind] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{kind}: {detail}")

    # -- load shapes ---------------------------------------------------------------------------

    async def _closed_loop_worker(self) -> None:
        while self.closed_loop and not self.stopping.is_set():
            resident = self._take_idle()
            if resident is None:
                await asyncio.sleep(0.01)
                continue
            await self._round(resident, closed_loop=True)

    async def _open_loop(self) -> None:
        """Residents start rounds at random (Poisson) moments, at the rate that makes the
        updates per second asked for; within a round each step follows the bot's answer."""
        await self.rate_set.wait()
        assert self.rate is not None
        if self.rounds >= MIN_ROUNDS:
            steps_per_round = self.round_steps / self.rounds
        else:
            steps_per_round = ROUND_STEPS_GUESS[self.mode]
        rounds_per_second = self.rate / steps_per_round
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self.stopping.is_set():
            due += self.rng.expovariate(rounds_per_second)
            await asyncio.sleep(max(0.0, due - loop.time()))
            resident = self._take_idle()
            if resident is None:
                self.dropped += 1
                continue
            task = asyncio.create_task(self._round(resident, closed_loop=False))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _take_idle(self) -> Resident | None:
        if not self.idle:
            return None
        index = self.rng.randrange(len(self.idle))
        self.idle[index], self.idle[-1] = self.idle[-1], self.idle[index]
        return self.idle.pop()

    async def _round(self, resident: Resident, *, closed_loop: bool) -> None:
        """One round of the resident's script; the resident is idle again afterwards. A round
        of the closed loop ends early when the closed loop does."""
        steps = 0
        try:
            async with contextlib.aclosing(self._script(resident)) as script:
                async for _step in script:
                    steps += 1
                    if self.stopping.is_set() or (closed_loop and not self.closed_loop):
                        return
            self.rounds += 1
            self.round_steps += steps
        except Exception as error:
            self._anomaly("driver", "".join(traceback.format_exception_only(error)).strip())
        finally:
            self.idle.append(resident)

    # -- one step ------------------------------------------------------------------------------

    async def _act(
        self, resident: Resident, kind: str, action: Awaitable[Any], *, expect_message: bool
    ) -> list[ChatMessage]:
        """Send one update, wait until the bot has handled it, read what changed in the chat."""
        try:
            update_id = int(await action)
        except FakeTelegramError as error:
            self._anomaly("refused", f"{kind}: {error}")
            return []
        seq = int(resident.user.last_action["seq"])
        if update_id in self.early:
            self.early.discard(update_id)
        else:
            future = asyncio.get_running_loop().create_future()
            self.waiting[update_id] = future
            try:
                await asyncio.wait_for(future, STEP_TIMEOUT_S)
            except TimeoutError:
                self.waiting.pop(update_id, None)
                self._anomaly("timeout", f"{kind} (update {update_id})")
                return []
        messages = await self.client.bot_messages_since(resident.user.id, seq)
        self.steps[kind] += 1
        if expect_message and not messages:
            self._anomaly("no reaction", kind)
        for message in messages:
            for data in message.callback_data.values():
                if data.startswith("s:d:"):
                    resident.offers[data] = message.message_id
        return messages

    def _text(self, resident: Resident, kind: str, text: str) -> Awaitable[list[ChatMessage]]:
        action = resident.user.send(text, wait=False)
        return self._act(resident, kind, action, expect_message=True)

    def _press(
        self, resident: Resident, kind: str, message_id: int, data: str, *, expect_message: bool
    ) -> Awaitable[list[ChatMessage]]:
        action = resident.user.callback(message_id, data, wait=False)
        return self._act(resident, kind, action, expect_message=expect_message)

    # -- scripts -------------------------------------------------------------------------------

    def _script(self, resident: Resident) -> AsyncGenerator[None, None]:
        return self._resident(resident) if self.mode == "bot" else self._echo(resident)

    async def _resident(self, resident: Resident) -> AsyncGenerator[None, None]:
        """One round of a resident; it yields after every update it sends."""
        info = resident.info
        labels = self.labels[info["language"]]
        rng = resident.rng
        while resident.offers:
            data, message_id = resident.offers.popitem()
            await self._press(resident, "decline offer", message_id, data, expect_message=True)
            yield
        await self._text(resident, "/start", "/start")
        yield
        lat = info["latitude"] + rng.uniform(-0.002, 0.002)
        lon = info["longitude"] + rng.uniform(-0.002, 0.002)
        action = resident.user.send_location(round(lat, 6), round(lon, 6), wait=False)
        await self._act(resident, "location", action, expect_message=True)
        yield
        shown = await self._text(resident, "activities", labels["activities"])
        yield
        listing = _with_button(shown, "a:o:")
        if listing is not None:
            choices = [d for d in listing.callback_data.values() if d.startswith("a:o:")]
            opened = await self._press(
                resident, "open card", listing.message_id, rng.choice(choices), expect_message=True
            )
            yield
            card = _with_button(opened, "a:c:")
            if card is not None:
                async for _ in self._sign_up_and_cancel(resident, card):
                    yield
        if rng.random() < SEARCH_SHARE:
            await self._text(resident, "search", rng.choice(info["searches"]))
            yield

    async def _sign_up_and_cancel(
        self, resident: Resident, card: ChatMessage
    ) -> AsyncIterator[None]:
        signup = _data(card, "s:q:")  # signed up already: only cancel
        join = _data(card, "a:j:")
        if signup is None and join is not None:
            joined = await self._press(
                resident, "sign up", card.message_id, join, expect_message=False
            )
            yield
            signup = _data(_with_button(joined, "s:q:"), "s:q:")
        labels = self.labels[resident.info["language"]]
        await self._text(resident, "my schedule", labels["schedule"])
        yield
        if signup is None:
            return
        signup_id = signup.split(":")[2]
        await self._press(resident, "ask to cancel", card.message_id, signup, expect_message=True)
        yield
        cancel = f"s:x:{signup_id}"
        await self._press(resident, "cancel", card.message_id, cancel, expect_message=True)
        yield

    async def _echo(self, resident: Resident) -> AsyncGenerator[None, None]:
        """The same kinds of steps for the echo bot: texts, then callbacks on its reply."""
        info = resident.info
        labels = self.labels[info["language"]]
        texts = ["/start", "📍", labels["activities"], labels["schedule"]]
        if resident.rng.random() < SEARCH_SHARE:
            texts.append(resident.rng.choice(info["searches"]))
        last = None
        for text in texts:
            shown = await self._text(resident, "text", text)
            last = max((m.message_id for m in shown), default=last)
            yield
        if last is None:
            return
        for number in range(ECHO_CALLBACKS):
            await self._press(resident, "callback", last, f"e:{number}", expect_message=False)
            yield


def _with_button(messages: list[ChatMessage] | None, prefix: str) -> ChatMessage | None:
    """The newest of these messages that has a button whose data starts with ``prefix``."""
    for message in sorted(messages or [], key=lambda m: m.message_id, reverse=True):
        if _data(message, prefix) is not None:
            return message
    return None


def _data(message: ChatMessage | None, prefix: str) -> str | None:
    if message is None:
        return None
    return next((d for d in message.callback_data.values() if d.startswith(prefix)), None)
