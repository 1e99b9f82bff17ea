"""Who may act as a coordinator or an admin, checked in the database on every update.

Every coordinator handler carries ``CenterAccess`` (an action on one center),
``CoordinatorAccess`` (a command that starts from the user's centers) or ``AdminAccess``.
``tests/test_access.py`` fails when a handler of a coordinator router, or any handler of a
``CoordCallback``, is registered without one. Coordinator buttons are callback data the
client controls, so the center is re-derived from the data and the right re-checked each
time: a revoked coordinator's old buttons stop working at once.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.callbacks import AdminCb, CoordCallback
from handlers.ui import EVERY_MENU_BUTTON, MenuButton
from storage.activities import get_activity
from storage.centers import get_center
from storage.coordinators import coordinated_centers, coordinates
from storage.database import Database
from storage.users import User


class CoordinatorStates(StatesGroup):
    """Base of every coordinator and admin dialog (same reason)."""


def is_admin(user_id: int, settings: Settings) -> bool:
    return user_id in settings.admin_ids


class CenterAccess(Filter):
    """The user coordinates the center this update is about (or is an admin).

    The center comes from the button (``center_id``, or ``activity_id`` through the activity)
    or, inside a dialog, from the dialog's state. Injects ``center`` and, when the button
    named one, ``activity``.
    """

    async def __call__(
        self,
        event: TelegramObject,
        account: User | None,
        db: Database,
        settings: Settings,
        state: FSMContext | None = None,
        callback_data: CallbackData | None = None,
    ) -> bool | dict[str, Any]:
        if account is None:
            return False
        center_id = getattr(callback_data, "center_id", None)
        activity_id = getattr(callback_data, "activity_id", None)
        if center_id is None and activity_id is None and state is not None:
            center_id = (await state.get_data()).get("center_id")
        async with db.read() as conn:
            activity = None
            if activity_id is not None:
                activity = await get_activity(conn, activity_id)
                if activity is None or (center_id is not None and center_id != activity.center_id):
                    return False
                center_id = activity.center_id
            if not isinstance(center_id, int):
                return False
            if not (
                is_admin(account.id, settings) or await coordinates(conn, account.id, center_id)
            ):
                return False
            center = await get_center(conn, center_id)
        if center is None:
            return False
        return {"center": center, "activity": activity}


class CoordinatorAccess(Filter):
    """The user coordinates at least one center; injects ``centers``, theirs by name."""

    async def __call__(
        self, event: TelegramObject, account: User | None, db: Database
    ) -> bool | dict[str, Any]:
        if account is None:
            return False
        async with db.read() as conn:
            centers = await coordinated_centers(conn, account.id)
        return {"centers": centers} if centers else False


class AdminAccess(Filter):
    """The user is one of ``ADMIN_IDS`` and has accepted the privacy terms."""

    async def __call__(
        self, event: TelegramObject, account: User | None, settings: Settings
    ) -> bool:
        return account is not None and is_admin(account.id, settings)


ACCESS_FILTERS = (CenterAccess, CoordinatorAccess, AdminAccess)


def descendants(base: type) -> list[type]:
    """Every subclass of ``base``, at any depth: the coordinators' buttons and dialogs are
    known by the base they derive from."""
    found, pending = [], list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _coord_prefixes() -> frozenset[str]:
    return frozenset(cls.__prefix__ for cls in descendants(CoordCallback))


def _coordinator_state_groups() -> frozenset[str]:
    return frozenset(cls.__full_group_name__ for cls in descendants(CoordinatorStates))


class CoordinatorTraffic(Filter):
    """What the coordination routers are for: their commands, buttons and dialogs. The sets
    are taken when the routers are assembled, after every coordinator module is imported."""

    def __init__(self, commands: frozenset[str]) -> None:
        self.commands = commands
        self.prefixes = _coord_prefixes()
        self.dialogs = InCoordinatorDialog()

    async def __call__(self, event: TelegramObject, raw_state: str | None = None) -> bool:
        if isinstance(event, CallbackQuery):
            return (event.data or "").split(":", 1)[0] in self.prefixes
        if isinstance(event, Message):
            if event.text and event.text.startswith("/"):
                command = event.text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()
                if command in self.commands:
                    return True
            if event.document is not None:
                return True  # an admin's file to import; anyone else's falls through
            return await self.dialogs(event, raw_state)
        return False


class AdminButton(Filter):
    async def __call__(self, query: CallbackQuery) -> bool:
        return (query.data or "").split(":", 1)[0] == AdminCb.__prefix__


class InCoordinatorDialog(Filter):
    """``raw_state`` is the dialog state aiogram's FSM middleware read for this update: reading
    it again would be one more round trip to Redis for every resident's message."""

    def __init__(self) -> None:
        self.groups = _coordinator_state_groups()

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        return raw_state is not None and raw_state.split(":", 1)[0] in self.groups


COMMANDS = frozenset({"coord", "poster", "admin"})
_MENU = MenuButton(*EVERY_MENU_BUTTON)


def coordination(routers: list[Router]) -> Router:
    """One parent for the coordinator routers, the refusals last among them. Residents'
    updates fail its root filters and skip every coordinator handler."""
    parent = Router(name=f"{__name__}.coordination")
    traffic = CoordinatorTraffic(COMMANDS)
    parent.message.filter(traffic)
    parent.callback_query.filter(traffic)
    refusals = Router(name=f"{__name__}.refusals")
    refusals.message.register(not_an_admin, Command("admin"))
    refusals.message.register(not_a_coordinator, Command(*COMMANDS))
    refusals.callback_query.register(refuse_admin_button, AdminButton())
    refusals.callback_query.register(refuse_button)
    refusals.message.register(outside_dialog, InCoordinatorDialog())
    parent.include_routers(*routers, refusals)
    return parent


async def not_a_coordinator(message: Message) -> None:
    await message.answer(
        _(
            "This is for the coordinators of a center. A coordinator is appointed with an "
            "invitation link from the chain's administrators."
        )
    )


async def not_an_admin(message: Message) -> None:
    # Coordinators too: running one center does not open the chain's figures and imports.
    await message.answer(_("This is for the chain's administrators only."))


async def refuse_admin_button(query: CallbackQuery) -> None:
    await query.answer(_("This is for the chain's administrators only."), show_alert=True)


async def refuse_button(query: CallbackQuery) -> None:
    # Nothing was changed: the handler that would have acted never ran.
    await query.answer(_("Only this center's coordinators can do that."), show_alert=True)


async def outside_dialog(
    message: Message,
    state: FSMContext,
    account: User | None,
    db: Database,
    settings: Settings,
    i18n: I18n,
) -> None:
    """A message in a coordinator's dialog that no step took."""
    text = message.text or ""
    if text.startswith("/") or await _MENU(message, i18n):
        # The person moved on: the dialog ends and the command or button does its usual job.
        await state.clear()
        raise SkipHandler
    allowed = account is not None and (
        is_admin(account.id, settings)
        or await CenterAccess()(message, account, db, settings, state)
    )
    if not allowed:
        await state.clear()
        await message.answer(_("Only this center's coordinators can do that."))
        return
    await message.answer(_("Please answer the question above, or send /coord to start again."))
