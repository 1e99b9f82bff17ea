"""The outbound queue: every push the bot makes on its own, one row per message.

A row's life::

    pending --claim_due--> sending --mark_sent--> sent
       ^                      |----mark_failed--> failed
       |                      |----reschedule---> pending (a retry, later)
       |                      '----recover_in_flight (start-up)--> unknown
       '-- enqueue

    pending --(storage.broadcasts.cancel_broadcast)--> cancelled: its announcement was stopped

``sending`` means "handed to Telegram, outcome not yet recorded". Telegram has no idempotency
key, so a row found in ``sending`` after a crash may or may not have reached the user: it becomes
``unknown`` and is never sent again. Every ``pending`` row is still sent after a restart.

Each function takes a connection inside a transaction the caller opened (``db.write()``), so
that several steps can share one short transaction. Nothing here talks to Telegram.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import dialect_insert
from storage.schema import deliveries, users

PENDING: Final = "pending"
SENDING: Final = "sending"
SENT: Final = "sent"
FAILED: Final = "failed"
UNKNOWN: Final = "unknown"
CANCELLED: Final = "cancelled"
STATES: Final = (PENDING, SENDING, SENT, FAILED, UNKNOWN, CANCELLED)

MAX_ERROR_LENGTH: Final = 200
BLOCKED_ERROR: Final = "skipped: the user has blocked the bot"
IN_FLIGHT_ERROR: Final = "in flight when the sender stopped; not resent"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    user_id: int
    kind: str
    dedup_key: str | None
    text: str
    reply_markup: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    error: str | None
    telegram_message_id: int | None
    photo: str | None = None  # a Telegram file_id: sent as a photo, ``text`` its caption


_COLUMNS = [deliveries.c[name] for name in Delivery.__slots__]


def _delivery(row: Any) -> Delivery:
    return Delivery(**{name: row._mapping[name] for name in Delivery.__slots__})


def _short(error: str | None) -> str | None:
    if error is None:
        return None
    return error if len(error) <= MAX_ERROR_LENGTH else error[: MAX_ERROR_LENGTH - 1] + "…"


async def enqueue(
    conn: AsyncConnection,
    *,
    user_id: int,
    kind: str,
    text: str,
    reply_markup: str | Mapping[str, Any] | None = None,
    dedup_key: str | None = None,
    now: datetime,
    not_before: datetime | None = None,
    photo: str | None = None,
    broadcast_id: int | None = None,
) -> int | None:
    """Queue one message for ``user_id``'s private chat; returns its id.

    ``text`` is HTML; with a ``photo`` (a Telegram file_id) it is the photo's caption.
    ``reply_markup`` is the Bot API's reply_markup, as JSON text or a mapping.
    With a ``dedup_key`` that is already queued (in whatever state), nothing is added and the
    answer is None: enqueueing the same reminder twice is harmless. ``not_before`` holds the
    message back until then. Tell the sender (``Sender.notify``) after the transaction commits.
    """
    if isinstance(reply_markup, Mapping):
        reply_markup = json.dumps(reply_markup, ensure_ascii=False, separators=(",", ":"))
    elif reply_markup is not None:
        json.loads(reply_markup)  # refuse broken JSON now, not when it is due
    values = {
        "user_id": user_id,
        "kind": kind,
        "dedup_key": dedup_key,
        "text": text,
        "reply_markup": reply_markup,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before is not None else now,
        "created_at": now,
        "photo": photo,
        "broadcast_id": broadcast_id,
    }
    statement = dialect_insert(conn)(deliveries).values(**values)
    if dedup_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[deliveries.c.dedup_key])
    return (await conn.execute(statement.returning(deliveries.c.id))).scalar_one_or_none()


async def claim_due(
    conn: AsyncConnection,
    *,
    now: datetime,
    limit: int,
    exclude_users: Collection[int] = (),
) -> list[Delivery]:
    """Take up to ``limit`` due pending deliveries, oldest first (the longest due, then the
    first enqueued: id order for rows that became due together), and mark them ``sending``.

    At most one per user (the oldest due one) and none for ``exclude_users``: a chat takes one
    message at a time, so a sender passes the chats it is still sending to or holding back.
    Each claimed row counts one more attempt. Due rows of users who blocked the bot are marked
    failed instead, never claimed. Call inside ``db.write()`` and commit before sending.
    """
    if limit <= 0:
        return []
    claimed: list[Delivery] = []
    seen: set[int] = set()
    blocked: list[int] = []
    # SQLite: one writer at a time, so big pages cost nothing but saved round trips. Elsewhere
    # every row a page reads stays locked (FOR UPDATE) until this transaction ends, skipped by
    # the other instances' claims: a page only as big as the claims still wanted locks little
    # more than it takes.
    sqlite_page = max(2 * limit, 64) if conn.dialect.name == "sqlite" else None
    due = select(*_COLUMNS, users.c.blocked).join(users, users.c.id == deliveries.c.user_id)
    due = due.where(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= now)
    # The index's order, so that a page costs its size however long the queue is.
    order = (deliveries.c.next_attempt_at, deliveries.c.id)
    query = due
    # A bounded scan: rows held back by ``exclude_users`` wait for a later call.
    for _ in range(20):
        page = sqlite_page or limit - len(claimed)
        rows = (
            await conn.execute(
                query.order_by(*order).limit(page).with_for_update(of=deliveries, skip_locked=True)
            )
        ).all()
        for row in rows:
            if row.blocked:
                blocked.append(row.id)
            elif row.user_id not in seen and row.user_id not in exclude_users:
                seen.add(row.user_id)
                claimed.append(_delivery(row))
                if len(claimed) == limit:
                    break
        if len(claimed) == limit or len(rows) < page:
            break
        last = rows[-1]
        query = due.where(tuple_(*order) > tuple_(last.next_attempt_at, last.id))
    # The rows are still pending: this transaction holds the write lock (SQLite) or their row
    # locks (FOR UPDATE). Filtering on ``state`` again would make SQLite use the state index
    # and walk every pending row instead of looking the ids up.
    if blocked:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
            .values(state=FAILED, error=BLOCKED_ERROR),
            {"ids": blocked},
        )
    if claimed:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
            .values(state=SENDING, attempts=deliveries.c.attempts + 1),
            {"ids": [d.id for d in claimed]},
        )
    return [_claimed(d) for d in claimed]


def _claimed(delivery: Delivery) -> Delivery:
    return replace(delivery, state=SENDING, attempts=delivery.attempts + 1)


async def _finish(conn: AsyncConnection, delivery_id: int, **values: Any) -> bool:
    """Record the outcome of a ``sending`` row; False if it is no longer one (erased, recovered)."""
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == SENDING)
        .values(**values)
    )
    return result.rowcount > 0


async def mark_sent(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    now: datetime,
    telegram_message_id: int | None,
) -> bool:
    return await _finish(
        conn,
        delivery_id,
        state=SENT,
        sent_at=now,
        telegram_message_id=telegram_message_id,
        error=None,
    )


async def mark_sent_many(
    conn: AsyncConnection, sent: Sequence[tuple[int, datetime, int | None]]
) -> None:
    """``mark_sent`` for many rows in one statement: (delivery id, sent at, message id)."""
    if not sent:
        return
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("delivery_id"), deliveries.c.state == SENDING)
        .values(
            state=SENT,
            sent_at=bindparam("at"),
            telegram_message_id=bindparam("message_id"),
            error=None,
        ),
        [{"delivery_id": i, "at": at, "message_id": m} for i, at, m in sent],
    )


async def mark_failed(conn: AsyncConnection, delivery_id: int, *, error: str) -> bool:
    """Given up: Telegram refused it, or it ran out of attempts."""
    return await _finish(conn, delivery_id, state=FAILED, error=_short(error))


async def mark_unknown(conn: AsyncConnection, delivery_id: int, *, error: str) -> bool:
    """It may or may not have reached the user: never sent again."""
    return await _finish(conn, delivery_id, state=UNKNOWN, error=_short(error))


async def reschedule(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    attempts: int,
    next_attempt_at: datetime,
    error: str | None,
) -> bool:
    """Back to ``pending`` until ``next_attempt_at``, with the attempt count the caller decides
    (a refused-for-rate or never-sent try does not count)."""
    return await _finish(
        conn,
        delivery_id,
        state=PENDING,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        error=_short(error),
    )


async def recover_in_flight(conn: AsyncConnection) -> int:
    """At start-up, before any sender runs: every ``sending`` row becomes ``unknown``.

    Telegram has no idempotency key, so a message that may have gone out is never resent.
    Returns how many rows changed. Only safe while no other sender works on this database.
    """
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.state == SENDING)
        .values(state=UNKNOWN, error=IN_FLIGHT_ERROR)
    )
    return result.rowcount


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> Delivery | None:
    row = (await conn.execute(select(*_COLUMNS).where(deliveries.c.id == delivery_id))).first()
    return _delivery(row) if row else None


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    """Rows per state, every state present (zero when none)."""
    counts = dict.fromkeys(STATES, 0)
    rows = await conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))
    for state, count in rows:
        counts[state] = count
    return counts


async def has_due(conn: AsyncConnection, *, now: datetime) -> bool:
    """Whether some pending row's time has come."""
    first = await conn.scalar(
        select(deliveries.c.id)
        .where(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= now)
        .limit(1)
    )
    return first is not None


async def count_due(conn: AsyncConnection, *, now: datetime) -> int:
    """How many pending rows are due: the queue the sender has yet to work through."""
    return await conn.scalar(
        select(func.count())
        .select_from(deliveries)
        .where(deliveries.c.state == PENDING, deliveries.c.next_attempt_at <= now)
    )


async def next_due_at(conn: AsyncConnection) -> datetime | None:
    """When the earliest pending row becomes due (possibly in the past), or None."""
    return await conn.scalar(
        select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.state == PENDING)
    )
