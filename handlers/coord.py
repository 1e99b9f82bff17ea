"""/coord: the coordinator's menu for one center; the sections live in their own modules."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.access import CenterAccess, CoordinatorAccess
from handlers.callbacks import CoordMenuCb, CoordSection
from handlers.ui import N_, show_in_place
from storage.centers import Center

router = Router(name=__name__)

_SECTIONS = (
    (CoordSection.ACTIVITIES, N_("🗓 Activities and sign-ups")),
    (CoordSection.NEW_ACTIVITY, N_("➕ New activity or shift")),
    (CoordSection.BROADCAST, N_("📣 Announcement")),
    (CoordSection.IDEAS, N_("💡 Residents' ideas")),
    (CoordSection.POSTER, N_("🖨 QR poster")),
    (CoordSection.STATS, N_("📊 Figures")),
    (CoordSection.TEAM, N_("👥 Coordinators")),
)


def menu_text(center: Center) -> str:
    return _("<b>{name}</b>\n{address}\n\nWhat would you like to do?").format(
        name=escape(center.name), address=escape(center.address)
    )


def menu_keyboard(center_id: int) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=_(label),
                callback_data=CoordMenuCb(section=section, center_id=center_id).pack(),
            )
        ]
        for section, label in _SECTIONS
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def back_to_menu(center_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("‹ Menu"),
        callback_data=CoordMenuCb(section=CoordSection.MENU, center_id=center_id).pack(),
    )


@router.message(Command("coord"), CoordinatorAccess())
async def coord(message: Message, centers: list[Center], state: FSMContext) -> None:
    await state.clear()  # the menu leaves any half-finished coordinator dialog
    if len(centers) == 1:
        await message.answer(menu_text(centers[0]), reply_markup=menu_keyboard(centers[0].id))
        return
    rows = [
        [
            InlineKeyboardButton(
                text=center.name,
                callback_data=CoordMenuCb(section=CoordSection.MENU, center_id=center.id).pack(),
            )
        ]
        for center in centers
    ]
    await message.answer(
        _("Which center?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.MENU), CenterAccess())
async def open_menu(query: CallbackQuery, center: Center, state: FSMContext) -> None:
    await state.clear()
    await show_in_place(query, menu_text(center), menu_keyboard(center.id))
    await query.answer()
