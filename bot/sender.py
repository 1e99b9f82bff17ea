"""The one outbound path for pushes: drains the ``deliveries`` queue within Telegram's limits.

Whoever owns the bot's lifecycle creates one ``Sender`` per process, calls ``start()`` after
start-up and ``stop()`` at shut-down; code that enqueues a delivery calls ``notify()`` after its
transaction commits. Only one sender may work on a database at a time: ``start()`` turns every
row left in ``sending`` into ``unknown``.

How a delivery goes out, and why:

- Claim, commit, send, record. A short write transaction records the outcomes gathered so far
  and claims the next batch (``sending``); the messages go out after it commits, and their
  outcomes are recorded by the next such transaction. No transaction waits for Telegram.
- Only as many rows are claimed as the global rate lets go within ``horizon`` seconds, and one
  per chat, so a row sits in ``sending`` only for the moment before and during its request. A
  crash then leaves few rows ``unknown``; ``stop()`` returns unsent claimed rows to ``pending``.
- Telegram's limits are held here so that it never has to refuse: a global rate (25/s by
  default; up to 1000/s with ``allow_paid_broadcast``), with never more than that many sends
  in one second, and one message per chat per second. Both count from the answers to earlier
  sends, by which time Telegram has stamped them.
- A 429 pauses the whole sender for ``retry_after`` (one pause, however many requests hear it);
  the refused delivery goes back to the queue without counting an attempt.
- 403: the user is marked blocked, the delivery failed; the user's later deliveries are skipped
  (failed) until something clears ``users.blocked``. Other 4xx: failed, not retried.
- 5xx and network errors: retried with exponential backoff, at most ``max_attempts`` times. Each
  one also pauses the sender briefly (growing while they repeat), so that an outage spends the
  attempts of a few deliveries, not of the whole queue.
- Anything else that breaks a request after it may have reached Telegram: ``unknown``.
- A delivery with a ``photo`` (a file_id) goes out as that photo, its text the caption.
- The bot's own requests outside the queue that Telegram counts against the same limits
  (the edits of an announcement's progress message) go through ``within_limits``, which
  gives them a turn like a queued message's.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import ForceReply, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.deliveries import (
    Delivery,
    claim_due,
    has_due,
    mark_failed,
    mark_sent_many,
    mark_unknown,
    next_due_at,
    recover_in_flight,
    reschedule,
)
from storage.users import set_blocked

logger = logging.getLogger(__name__)

DEFAULT_PER_SECOND: Final = 25.0
FREE_MAX_PER_SECOND: Final = 30.0  # Telegram's "about 30 messages per second" for bulk sends
PAID_MAX_PER_SECOND: Final = 1000.0  # with allow_paid_broadcast (0.1 Stars per message)
PER_CHAT_INTERVAL: Final = 1.0
WINDOW: Final = 1.0  # Telegram's limits count messages in sliding one-second windows
WINDOW_MARGIN: Final = 0.02
_EPSILON: Final = 1e-6

T = TypeVar("T")
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def utc_now() -> datetime:
    return datetime.now(UTC)


class RateLimiter:
    """Telegram's limits as arithmetic on a monotonic clock. Nothing here sleeps or awaits:
    every method takes the time, so tests drive it with plain numbers.

    - Global: sends start ``1 / per_second`` apart, never earlier: a send let through early
      is what crowds ``per_second + 1`` of them into one second.
    - Global window: no one-second window holds more than ``floor(per_second)`` sends (at least
      one). Telegram counts a message when it stamps it, somewhere between request and answer,
      and only the answer is seen here; so a send takes a place in the window when it starts
      and gives it up ``1 s + margin`` after its answer (the margin for clocks and scheduling
      that do not agree to the millisecond). A send still unanswered keeps its place, however
      long that takes. Each place so idles for the round trip and the margin: with answers in
      a few ms, 30/s comes to some 29/s.
    - Per chat: a chat is ``hold``-ed from the moment a send to it is planned until it is
      ``finish``-ed (answered), and then waits ``per_chat_interval`` more. Telegram stamps a
      message somewhere between request and answer, so its stamps are that far apart too.
    - Pause: after a 429 nothing starts until the pause ends.
    """

    def __init__(
        self,
        per_second: float,
        *,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        margin: float = WINDOW_MARGIN,
    ) -> None:
        if per_second <= 0 or per_chat_interval < 0 or margin < 0:
            raise ValueError("rates must be positive")
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self.per_window = max(1, math.floor(per_second))
        self.margin = margin
        self.per_chat_interval = per_chat_interval
        self._next = -math.inf  # the earliest start of the next send
        self._on_wire: set[int] = set()  # chats with a send started and not yet answered
        self._leaving: list[float] = []  # a heap: when answered sends give up their place
        self._chat_ready: dict[int, float] = {}  # inf while held
        self._paused_until = -math.inf

    # -- global ----------------------------------------------------------------------------------

    def global_wait(self, now: float) -> float:
        """Seconds until the next send may start (pauses included); ``inf`` while every place
        in the window is held by a send still unanswered."""
        wait = max(0.0, self._next - now, self._paused_until - now, self._window_wait(now))
        return 0.0 if wait < _EPSILON else wait

    def take(self, chat_id: int, now: float) -> None:
        """A send to this chat starts now; it must be allowed (``global_wait(now) == 0``)."""
        if self.global_wait(now) > 0:
            raise RuntimeError("a send started before its turn")
        if chat_id in self._on_wire:
            raise RuntimeError("the chat already has a send on the wire")
        self._next = max(self._next, now) + self.interval
        self._on_wire.add(chat_id)

    def free_slots(self, now: float, horizon: float) -> int:
        """How many sends may start within ``horizon`` seconds from now; 0 while paused. Sends
        that start within it count as answered at once, so this is the most that could."""
        if self.paused(now):
            return 0
        end = now + horizon + _EPSILON
        places = [now] * max(0, self.per_window - self._occupied(now))
        places += (at for at in self._leaving if at <= end)
        heapq.heapify(places)
        start, count = max(now, self._next), 0
        while places:
            start = max(start, heapq.heappop(places))
            if start > end:
                break
            count += 1
            heapq.heappush(places, start + WINDOW + self.margin)
            start += self.interval
        return count

    def _occupied(self, now: float) -> int:
        """Places in the window held now; forgets the sends that have given theirs up. (The
        epsilon keeps this in step with ``global_wait``, which rounds tiny waits to none.)"""
        leaving = self._leaving
        while leaving and leaving[0] <= now + _EPSILON:
            heapq.heappop(leaving)
        return len(self._on_wire) + len(leaving)

    def _window_wait(self, now: float) -> float:
        excess = self._occupied(now) - self.per_window + 1
        if excess <= 0:
            return 0.0
        if excess > len(self._leaving):
            return math.inf  # only an answer can free a place
        return heapq.nsmallest(excess, self._leaving)[-1] - now

    # -- per chat --------------------------------------------------------------------------------

    def chat_wait(self, chat_id: int, now: float) -> float:
        """Seconds until a send to this chat may start; ``inf`` while one is in flight."""
        return max(0.0, self._chat_ready.get(chat_id, -math.inf) - now)

    def hold(self, chat_id: int, now: float) -> None:
        """A send to this chat is planned: nothing else goes to it until ``finish``/``release``."""
        if self.chat_wait(chat_id, now) > 0:
            raise RuntimeError("the chat is not ready")
        self._chat_ready[chat_id] = math.inf

    def finish(self, chat_id: int, now: float) -> None:
        """Telegram answered the send to this chat (whatever the answer) at ``now``."""
        self._chat_ready[chat_id] = now + self.per_chat_interval
        if chat_id in self._on_wire:
            self._on_wire.remove(chat_id)
            heapq.heappush(self._leaving, now + WINDOW + self.margin)

    def release(self, chat_id: int) -> None:
        """The planned send did not happen: the chat is free again at once."""
        self._chat_ready.pop(chat_id, None)

    def busy_chats(self, now: float) -> set[int]:
        """Chats that may not take a send now; forgets those that may."""
        ready = [chat for chat, at in self._chat_ready.items() if at <= now]
        for chat in ready:
            del self._chat_ready[chat]
        return set(self._chat_ready)

    def next_chat_ready(self, now: float) -> float | None:
        """When the earliest chat that is cooling down (not in flight) may take a send again."""
        waiting = [at for at in self._chat_ready.values() if now < at < math.inf]
        return min(waiting) if waiting else None

    # -- pause -----------------------------------------------------------------------------------

    def pause(self, now: float, seconds: float) -> bool:
        """Nothing starts for ``seconds``. True if this begins a pause (False: extends one)."""
        began = not self.paused(now)
        self._paused_until = max(self._paused_until, now + seconds)
        return began

    def paused(self, now: float) -> bool:
        return self._paused_until > now

    @property
    def paused_until(self) -> float:
        return self._paused_until


class _Action(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    RETRY = "retry"  # a transient error: try again after a backoff, the attempt counted
    REFUSED = "refused"  # 429: back to the queue, the attempt not counted
    RELEASED = "released"  # never sent (a pause or stop came first): back, not counted
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: Delivery
    action: _Action
    at: datetime
    error: str | None = None
    message_id: int | None = None
    retry_in: float = 0.0


@dataclass(slots=True)
class SenderStats:
    """What this sender did since it was created (the queue itself: ``count_by_state``)."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0  # 403s: users marked blocked
    retried: int = 0  # 5xx / network errors that will be retried
    unknown: int = 0
    rate_limited: int = 0  # 429 answers
    pauses: int = 0  # pauses begun by 429s
    outage_pauses: int = 0  # pauses begun by 5xx / network errors


class Sender:
    """Drains due deliveries, oldest first, through ``bot``, within Telegram's limits.

    ``clock`` gives aware UTC times for the database; ``monotonic`` and ``sleep`` pace the
    sends. Tests pass a fake trio that moves time without waiting.
    """

    def __init__(
        self,
        bot: Bot,
        db: Database,
        *,
        per_second: float | None = None,
        allow_paid_broadcast: bool = False,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        max_attempts: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 300.0,
        max_outage_pause: float = 30.0,
        horizon: float = 0.5,
        idle_interval: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> None:
        """``per_second``: the global rate, by default 25/s, or 1000/s with
        ``allow_paid_broadcast`` (which also asks Telegram for paid broadcasting on every
        message). Without it the rate may not exceed 30/s. ``on_rate_limited`` is called on
        every 429 (the metrics count them)."""
        ceiling = PAID_MAX_PER_SECOND if allow_paid_broadcast else FREE_MAX_PER_SECOND
        if per_second is None:
            per_second = PAID_MAX_PER_SECOND if allow_paid_broadcast else DEFAULT_PER_SECOND
        if not 0 < per_second <= ceiling:
            raise ValueError(
                f"per_second must be in (0, {ceiling:g}]"
                + ("" if allow_paid_broadcast else "; more needs allow_paid_broadcast")
            )
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bot = bot
        self.db = db
        self.allow_paid_broadcast = allow_paid_broadcast
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_outage_pause = max_outage_pause
        self.horizon = horizon
        self.idle_interval = idle_interval
        self.limiter = RateLimiter(per_second, per_chat_interval=per_chat_interval)
        self.stats = SenderStats()
        self._on_rate_limited = on_rate_limited
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting = 0  # claimed, global slot not yet taken
        self._outcomes: list[_Outcome] = []
        self._more_due = False  # the last claim left due rows behind
        self._full = False  # the last claim took as many as the rate allowed
        self._outage_streak = 0
        self._wake = asyncio.Event()
        self._slot_lock = asyncio.Lock()
        self._answered = asyncio.Event()  # a place in the global window may have come free
        self._stopping = False
        self._draining = False
        self._loop_task: asyncio.Task[None] | None = None
        self._stop_timeout = 10.0

    # -- lifecycle -------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Mark rows left in ``sending`` by a previous run ``unknown``; how many there were."""
        async with self.db.write() as conn:
            recovered = await recover_in_flight(conn)
        if recovered:
            logger.warning("%d deliveries were in flight when the sender last stopped", recovered)
        return recovered

    async def start(self) -> None:
        """Recover what a previous run left in flight, then send in the background."""
        if self._loop_task is not None or self._draining:
            raise RuntimeError("the sender is already running")
        await self.recover()
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name="sender")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a grace period
        """Stop claiming; wait up to ``timeout`` s for requests on the wire, put claimed rows
        that were not sent back to ``pending``, record every outcome. Idempotent."""
        task, self._loop_task = self._loop_task, None
        if task is None:
            return
        self._stopping = True
        self._stop_timeout = timeout
        self._wake.set()
        try:
            await task
        finally:
            self._stopping = False

    def notify(self) -> None:
        """Something was enqueued (and committed): look at the queue now."""
        self._wake.set()

    async def within_limits(
        self, chat_id: int, request: Callable[[], Awaitable[T]], *, patience: float = 5.0
    ) -> T | None:
        """Make a request of the bot's own to ``chat_id`` outside the queue (editing an
        announcement's progress message) within the limits the queue keeps: Telegram counts
        edits against them too, and a request that ignored them could cost a queued message
        a 429. It waits for the chat and takes its turn behind the messages already claimed.

        None, and nothing sent, when it could not have a turn within ``patience`` seconds (the
        chat busy for that long, the sender paused by a 429 or stopping): try again later.
        A 429 pauses the sender as it would for a queued message, and is raised.
        """
        deadline = self._monotonic() + patience
        while (wait := self.limiter.chat_wait(chat_id, now := self._monotonic())) > 0:
            # A chat still on the wire has no known end: look again shortly.
            step = min(wait, 0.05)
            if now + step > deadline:
                return None
            await self._sleep(step)
        self.limiter.hold(chat_id, now)
        self._waiting += 1  # the loop leaves this turn free when it claims
        try:
            taken = await self._take_slot(chat_id)
        except BaseException:
            self.limiter.release(chat_id)
            raise
        finally:
            self._waiting -= 1
        if not taken:
            self.limiter.release(chat_id)
            return None
        try:
            return await request()
        except TelegramRetryAfter as error:
            self._rate_limited()
            if self.limiter.pause(self._monotonic(), error.retry_after):
                self.stats.pauses += 1
            raise
        finally:
            self.limiter.finish(chat_id, self._monotonic())
            self._answered.set()

    async def run_until_idle(self) -> None:
        """Send everything that is due now, waiting out pauses and per-chat spacing on the way,
        and return once nothing is in flight and every outcome is recorded. For tests and
        one-off commands; not while the background loop runs."""
        if self._loop_task is not None or self._draining:
            raise RuntimeError("the sender is already running")
        self._draining = True
        try:
            self._more_due = True
            while True:
                await self._pump()
                delay = self._next_wake()
                if not self._tasks and not self._outcomes and delay is None:
                    return
                await self._wait(delay)
        finally:
            self._draining = False

    # -- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        self._more_due = True
        try:
            while not self._stopping:
                try:
                    await self._pump()
                    delay = self._next_wake()
                    if delay is None and not self._tasks:  # (an answer wakes the loop)
                        delay = await self._idle_delay()
                except Exception:
                    logger.exception("the sender could not reach the database; trying again")
                    delay = self.idle_interval
                await self._wait(delay)
        finally:
            await self._settle()

    async def _settle(self) -> None:
        """At stop: let requests on the wire finish, then record every outcome."""
        # A task waiting for its slot sees _stopping and gives its row back.
        self._wake.set()
        self._answered.set()
        if self._tasks:
            _done, late = await asyncio.wait(set(self._tasks), timeout=self._stop_timeout)
            for task in late:  # left in ``sending``: ``unknown`` at the next start
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        try:
            await self._pump()
        except Exception:
            logger.exception("the sender could not record its last outcomes")

    async def _pump(self) -> None:
        """Record the outcomes gathered so far and claim the next batch, in one short write
        transaction, then start a task per claimed delivery."""
        now = self._monotonic()
        budget = 0
        if not self._stopping:
            budget = max(0, self.limiter.free_slots(now, self.horizon) - self._waiting)
        outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            if budget == 0:
                return
            if not self._more_due:
                async with self.db.read() as conn:
                    self._more_due = await has_due(conn, now=self._clock())
                if not self._more_due:
                    return
        claimed: list[Delivery] = []
        try:
            async with self.db.write() as conn:
                await self._record(conn, outcomes)
                if budget:
                    wall = self._clock()
                    exclude = self.limiter.busy_chats(now)
                    claimed = await claim_due(conn, now=wall, limit=budget, exclude_users=exclude)
                    self._full = len(claimed) == budget
                    self._more_due = self._full or await has_due(conn, now=wall)
        except BaseException:
            self._outcomes[:0] = outcomes  # nothing was committed: record them next time
            raise
        for delivery in claimed:
            self.limiter.hold(delivery.user_id, now)
            self._waiting += 1
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _next_wake(self) -> float | None:
        """Seconds until the loop has something to do without being woken; None: nothing."""
        now = self._monotonic()
        delays = []
        if self.limiter.paused(now):
            delays.append(self.limiter.paused_until - now)
        elif self._more_due:
            # Due rows are left: wait for slots to open, or for a chat to cool down (a chat
            # still in flight wakes the loop when its answer comes).
            if self._full:
                delays.append(self.horizon / 2)
            ready = self.limiter.next_chat_ready(now)
            if ready is not None:
                delays.append(ready - now)
        return max(0.0, min(delays)) if delays else None

    async def _idle_delay(self) -> float:
        async with self.db.read() as conn:
            due = await next_due_at(conn)
        if due is None:
            return self.idle_interval
        # A floor: rows that are due yet could not be claimed must not make the loop spin.
        return min(self.idle_interval, max(0.05, (due - self._clock()).total_seconds()))

    async def _wait(self, delay: float | None) -> None:
        """Until ``notify``, a finished send, or ``delay`` seconds (None: no timer)."""
        if self._wake.is_set():
            self._wake.clear()
            return
        waiters = {asyncio.ensure_future(self._wake.wait())}
        if delay is not None:
            waiters.add(asyncio.ensure_future(self._sleep(delay)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wake.clear()

    # -- one delivery ----------------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        outcome = await self._attempt(delivery)
        self._outcomes.append(outcome)
        self._count(outcome)
        if not self._full:
            # When the rate is the limit, the loop comes round every horizon/2 anyway and
            # records outcomes in batches; otherwise an answer is worth a look at the queue.
            self._wake.set()

    async def _attempt(self, delivery: Delivery) -> _Outcome:
        chat = delivery.user_id
        try:
            try:
                markup = _reply_markup(delivery.reply_markup)
            except ValueError:
                self.limiter.release(chat)
                return self._outcome(delivery, _Action.FAILED, error="invalid reply_markup")
            if not await self._take_slot(chat):
                self.limiter.release(chat)
                return self._outcome(delivery, _Action.RELEASED, error=delivery.error)
        except asyncio.CancelledError:
            # Cut off before anything was sent: the row goes back to the queue, not to unknown.
            self.limiter.release(chat)
            self._outcomes.append(self._outcome(delivery, _Action.RELEASED, error=delivery.error))
            raise
        finally:
            self._waiting -= 1
        try:
            paid = True if self.allow_paid_broadcast else None
            if delivery.photo is not None:
                message = await self.bot.send_photo(
                    chat_id=chat,
                    photo=delivery.photo,
                    caption=delivery.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    allow_paid_broadcast=paid,
                )
            else:
                message = await self.bot.send_message(
                    chat_id=chat,
                    text=delivery.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    allow_paid_broadcast=paid,
                )
        except TelegramRetryAfter as error:
            self._rate_limited()
            if self.limiter.pause(self._monotonic(), error.retry_after):
                self.stats.pauses += 1
            logger.warning("Telegram asked to wait %s s; the sender pauses", error.retry_after)
            return self._outcome(delivery, _Action.REFUSED, error=self._describe(error))
        except TelegramForbiddenError as error:
            return self._outcome(delivery, _Action.BLOCKED, error=self._describe(error))
        except (TelegramServerError, TelegramNetworkError) as error:
            if isinstance(error, TelegramEntityTooLarge):  # a 413, not the network
                return self._outcome(delivery, _Action.FAILED, error=self._describe(error))
            return self._transient(delivery, error)
        except TelegramAPIError as error:
            logger.warning(
                "delivery %d (%s) refused: %s", delivery.id, delivery.kind, error.message
            )
            return self._outcome(delivery, _Action.FAILED, error=self._describe(error))
        except Exception as error:
            # The request may have reached Telegram: never send this one again.
            logger.error(
                "delivery %d (%s): unexpected %s", delivery.id, delivery.kind, type(error).__name__
            )
            return self._outcome(delivery, _Action.UNKNOWN, error=type(error).__name__)
        finally:
            self.limiter.finish(chat, self._monotonic())
            self._answered.set()
        self._outage_streak = 0
        return self._outcome(delivery, _Action.SENT, message_id=message.message_id)

    async def _take_slot(self, chat: int) -> bool:
        """Wait for this send's global turn (FIFO, so claim order is send order). False when
        a pause began or the sender is stopping: the claimed row goes back to the queue."""
        async with self._slot_lock:
            while True:
                now = self._monotonic()
                if self._stopping or self.limiter.paused(now):
                    return False
                wait = self.limiter.global_wait(now)
                if wait <= 0:
                    self.limiter.take(chat, now)
                    return True
                if math.isinf(wait):  # the window is full of unanswered sends
                    self._answered.clear()
                    await self._answered.wait()
                else:
                    await self._sleep(wait)

    def _transient(self, delivery: Delivery, error: TelegramAPIError) -> _Outcome:
        self._outage_streak += 1
        pause = min(self.max_outage_pause, self.backoff * 2 ** (self._outage_streak - 1))
        if self.limiter.pause(self._monotonic(), pause):
            self.stats.outage_pauses += 1
        description = self._describe(error)
        if delivery.attempts >= self.max_attempts:
            logger.warning("delivery %d (%s) gave up: %s", delivery.id, delivery.kind, description)
            return self._outcome(
                delivery, _Action.FAILED, error=f"{delivery.attempts} attempts; {description}"
            )
        retry_in = min(self.max_backoff, self.backoff * 2 ** (delivery.attempts - 1))
        return self._outcome(delivery, _Action.RETRY, error=description, retry_in=retry_in)

    def _outcome(
        self,
        delivery: Delivery,
        action: _Action,
        *,
        error: str | None = None,
        message_id: int | None = None,
        retry_in: float = 0.0,
    ) -> _Outcome:
        return _Outcome(delivery, action, self._clock(), error, message_id, retry_in)

    def _describe(self, error: TelegramAPIError) -> str:
        """Short, and without the bot token (some network errors quote the URL)."""
        text = f"{type(error).__name__}: {error.message}"
        return text.replace(self.bot.token, "<token>")

    def _rate_limited(self) -> None:
        if self._on_rate_limited is not None:
            try:
                self._on_rate_limited()
            except Exception:  # counting must never cost a delivery
                logger.exception("could not count a 429")

    def _count(self, outcome: _Outcome) -> None:
        stats = self.stats
        match outcome.action:
            case _Action.SENT:
                stats.sent += 1
            case _Action.FAILED:
                stats.failed += 1
            case _Action.BLOCKED:
                stats.blocked += 1
            case _Action.RETRY:
                stats.retried += 1
            case _Action.REFUSED:
                stats.rate_limited += 1
            case _Action.UNKNOWN:
                stats.unknown += 1

    @staticmethod
    async def _record(conn: AsyncConnection, outcomes: list[_Outcome]) -> None:
        sent = [(o.delivery.id, o.at, o.message_id) for o in outcomes if o.action is _Action.SENT]
        await mark_sent_many(conn, sent)  # the bulk of them, in one statement
        for outcome in outcomes:
            delivery = outcome.delivery
            match outcome.action:
                case _Action.SENT:
                    pass
                case _Action.FAILED:
                    await mark_failed(conn, delivery.id, error=outcome.error or "failed")
                case _Action.BLOCKED:
                    await set_blocked(conn, delivery.user_id, True)
                    await mark_failed(conn, delivery.id, error=outcome.error or "blocked")
                case _Action.RETRY:
                    await reschedule(
                        conn,
                        delivery.id,
                        attempts=delivery.attempts,
                        next_attempt_at=outcome.at + timedelta(seconds=outcome.retry_in),
                        error=outcome.error,
                    )
                case _Action.REFUSED | _Action.RELEASED:
                    # Due at once: the pause lives in memory (after a restart the first send
                    # may meet the 429 again, which costs one request).
                    await reschedule(
                        conn,
                        delivery.id,
                        attempts=delivery.attempts - 1,
                        next_attempt_at=outcome.at,
                        error=outcome.error,
                    )
                case _Action.UNKNOWN:
                    await mark_unknown(conn, delivery.id, error=outcome.error or "unknown")


def _reply_markup(raw: str | None) -> ReplyMarkup | None:
    """The stored JSON as the aiogram type it describes; ValueError if it is none of them."""
    if raw is None:
        return None
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("reply_markup is not an object")
    kinds: list[tuple[str, type[ReplyMarkup]]] = [
        ("inline_keyboard", InlineKeyboardMarkup),
        ("keyboard", ReplyKeyboardMarkup),
        ("remove_keyboard", ReplyKeyboardRemove),
        ("force_reply", ForceReply),
    ]
    for key, kind in kinds:
        if key in data:
            return kind.model_validate(data)
    raise ValueError("unknown kind of reply_markup")


__all__ = [
    "DEFAULT_PER_SECOND",
    "FREE_MAX_PER_SECOND",
    "PAID_MAX_PER_SECOND",
    "RateLimiter",
    "Sender",
    "SenderStats",
]
