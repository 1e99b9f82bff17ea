"""Coordinator and admin rights: every such handler checks them, and a refusal changes nothing."""

import enum

from aiogram.filters.callback_data import CallbackQueryFilter

from handlers import coordinator_routers
from handlers.access import ACCESS_FILTERS, CoordCallback, descendants
from tests.activity_helpers import add_activity
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    revoke_coordinator,
)


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


def _every_coord_callback() -> list[type]:
    return sorted(descendants(CoordCallback), key=lambda cls: cls.__prefix__)


def _values(field_name: str, annotation, ids: dict[str, int]) -> list:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)
    if field_name in ids:
        return [ids[field_name]]
    if annotation is str or "str" in str(annotation):
        return ["A" * 24]
    if annotation is bool:
        return [True]
    return [1]


def forged_buttons(ids: dict[str, int]) -> list[str]:
    """Every coordinator button, every action, aimed at the center in ``ids``."""
    packed = []
    for cls in _every_coord_callback():
        combos = [{}]
        for name, field in cls.model_fields.items():
            combos = [
                {**combo, name: value}
                for combo in combos
                for value in _values(name, field.annotation, ids)
            ]
        for combo in combos:
            try:
                packed.append(cls(**combo).pack())
            except ValueError:
                continue  # a value outside the field's own bounds: its filter refuses it anyway
    return packed


async def test_every_coordinator_button_is_refused_without_the_right(bot_env):
    env = bot_env
    ekb = await center_id_by_external(env, "demo-ekb-1")
    other = await center_id_by_external(env, "demo-msk-1")
    activity = await add_activity(env)
    olga = await coordinating_user(env, ekb, first_name="Ольга")
    resident = await consenting_user(env, first_name="Пётр")
    foreign = await coordinating_user(env, other, first_name="Вера")
    revoked = await coordinating_user(env, ekb, first_name="Глеб")
    await revoke_coordinator(env, revoked, ekb)
    buttons = forged_buttons({"center_id": ekb, "activity_id": activity, "user_id": olga.id})
    assert len(buttons) >= 10
    before = await env.rows()
    for user in (resident, foreign, revoked):
        menu = await user.last_bot_message()
        for data in buttons:
            await user.callback(menu.message_id, data)
        answers = (await env.tg.callbacks(user.id))[-len(buttons) :]
        refused = [
            a
            for a in answers
            if any(
                words in ((a["answer"] or {}).get("text") or "")
                for words in ("координаторы этого центра", "администраторов сети")
            )
        ]
        assert len(refused) == len(buttons), [a["data"] for a in answers if a not in refused]
    for user in (resident, revoked):  # no center of their own: the commands explain
        for command in ("/coord", "/poster"):
            await user.send(command)
            assert "приглашению" in (await user.last_bot_message()).text
    for user in (resident, foreign, revoked):
        await user.send("/admin")
        assert "администраторов сети" in (await user.last_bot_message()).text
    assert await env.rows() == before
