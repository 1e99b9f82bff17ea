"""How updates are routed, checked on the dispatcher the bot runs."""

import asyncio

from tests.helpers import EKATERINBURG, consenting_user


def test_every_handler_and_its_filters_run_on_the_event_loop(dispatcher):
    # aiogram hands a callable that is not a coroutine (a bare F expression, a lambda) to a
    # worker thread each time it is checked; wrap F expressions in handlers.ui.Match.
    checked, in_threads = 0, []
    for router in dispatcher.chain_tail:
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                for callable_ in (handler, *(handler.filters or ())):
                    checked += 1
                    if not callable_.awaitable:
                        in_threads.append(f"{router.name}.{name}: {handler.callback.__name__}")
    assert checked > 50
    assert in_threads == []


async def test_a_session_never_leaves_the_event_loop(bot_env, monkeypatch):
    # Router-level filters too: any trip to a thread while the bot handles updates fails.
    trips = []

    async def to_thread(function, /, *args, **kwargs):
        trips.append(function)
        return function(*args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    user = await consenting_user(bot_env)
    await user.press("📍 Ближайший центр", latitude=EKATERINBURG[0], longitude=EKATERINBURG[1])
    await user.send("Екатеринбург")
    await user.send("/nonsense")
    await user.press("🗓 Занятия")
    await user.press("📋 Мои записи")
    assert trips == []
