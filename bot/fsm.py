"""Where dialog state lives: in this process, or in Redis when several instances share it.

With ``REDIS_URL`` every instance reads and writes the same dialog state, so a dialog
begun on one instance goes on on whichever receives the next update; and a per-user lock
in Redis makes one user's updates wait for each other across instances, as they would in
one process. Without it the state stays in memory, as a single process needs.
"""

from __future__ import annotations

from datetime import timedelta

from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage

from bot.config import Settings

# Keys look like ``sosedi:<bot id>:<chat>:<user>:state``: one Redis may serve other
# programs, or this bot's playground and another token, without their dialogs mixing.
KEY_PREFIX = "sosedi"
# A dialog left half-way is forgotten after this long (every step starts the count again),
# so that Redis does not keep the drafts of everyone who ever walked away.
DIALOG_TTL = timedelta(days=1)
# The per-user lock expires after this long if its holder dies with it; a handler never
# needs nearly as long. The waiter polls often: the lock is held for milliseconds.
LOCK_TIMEOUT_SECONDS = 60
LOCK_POLL_SECONDS = 0.01


def create_fsm(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation | None]:
    """Dialog storage and event isolation for the dispatcher; None for the isolation means
    aiogram's default, which takes no lock."""
    if settings.redis_url is None:
        return MemoryStorage(), None
    # Only instances that share state need the Redis client.
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    keys = DefaultKeyBuilder(prefix=KEY_PREFIX, with_bot_id=True)
    storage = RedisStorage.from_url(
        settings.redis_url, key_builder=keys, state_ttl=DIALOG_TTL, data_ttl=DIALOG_TTL
    )
    isolation = RedisEventIsolation(
        storage.redis,
        key_builder=keys,
        lock_kwargs={"timeout": LOCK_TIMEOUT_SECONDS, "sleep": LOCK_POLL_SECONDS},
    )
    return storage, isolation


async def check_reachable(storage: BaseStorage) -> None:
    """Fail at start-up, not at a user's first message, when Redis cannot be reached."""
    redis = getattr(storage, "redis", None)
    if redis is not None:
        await redis.ping()
