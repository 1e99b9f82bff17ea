"""Coordinator and admin rights: every such handler checks them, and a refusal changes nothing."""

from aiogram.filters.callback_data import CallbackQueryFilter

from handlers import coordinator_routers
from handlers.access import ACCESS_FILTERS, CoordCallback


def _has_access_check(handler) -> bool:
    return any(isinstance(f.callback, ACCESS_FILTERS) for f in handler.filters or ())


def _coord_callback(handler) -> bool:
    return any(
        isinstance(f.callback, CallbackQueryFilter)
        and issubclass(f.callback.callback_data, CoordCallback)
        for f in handler.filters or ()
    )


def test_every_coordinator_handler_checks_rights(dispatcher):
    coordinator = {router.name for router in coordinator_routers()}
    checked, unchecked = 0, []
    for router in dispatcher.chain_tail:
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                if router.name in coordinator or _coord_callback(handler):
                    checked += 1
                    if not _has_access_check(handler):
                        unchecked.append(f"{router.name}.{name}: {handler.callback.__name__}")
    assert checked >= 2
    assert unchecked == []
