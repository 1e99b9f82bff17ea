"""Finding centers (by location or by text), the center card, subscribing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.access import RefusedCoordDialog
from handlers.callbacks import (
    CenterAction,
    CenterCb,
    ListCb,
    MyCentersCb,
    NearbyPageCb,
    Scope,
    SearchPageCb,
)
from handlers.consent import ask_for_consent, is_consented, send_consent_screen
from handlers.ui import FIND, MY_CENTERS, NEAREST, Match, MenuButton, show_in_place
from handlers.views import (
    PAGE_SIZE,
    center_card,
    center_card_keyboard,
    center_list_keyboard,
    center_summary,
)
from storage.centers import Center, get_center, search_centers
from storage.database import Database
from storage.nearest import NearestCenters
from storage.subscriptions import is_subscribed, subscribe, subscribed_centers, unsubscribe
from storage.users import User, get_user

router = Router(name=__name__)

SEARCH_KEY = "searches"
_MAX_QUERY = 100
_KEPT_SEARCHES = 10
MY_CENTERS_PAGE = 10


async def send_center_card(
    bot: Bot, chat_id: int, center: Center, *, subscribed: bool, now: datetime
) -> None:
    await bot.send_venue(
        chat_id, center.latitude, center.longitude, title=center.name, address=center.address
    )
    await bot.send_message(
        chat_id,
        center_card(center, subscribed=subscribed, now=now),
        reply_markup=center_card_keyboard(center, subscribed=subscribed),
    )


@router.message(Match(F.location))
async def nearby(message: Message, nearest_centers: NearestCenters) -> None:
    location = message.location
    page = NearbyPageCb(
        latitude=round(location.latitude, 4), longitude=round(location.longitude, 4), offset=0
    )
    text, keyboard = await _nearby_page(page, nearest_centers)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(NearbyPageCb.filter())
async def nearby_page(
    query: CallbackQuery, callback_data: NearbyPageCb, nearest_centers: NearestCenters
) -> None:
    text, keyboard = await _nearby_page(callback_data, nearest_centers)
    await query.answer()
    await show_in_place(query, text, keyboard)


async def _nearby_page(
    page: NearbyPageCb, nearest_centers: NearestCenters
) -> tuple[str, InlineKeyboardMarkup | None]:
    found, more = await nearest_centers.find(
        page.latitude, page.longitude, limit=PAGE_SIZE, offset=page.offset
    )
    if not found:
        return _("There are no community centers in the list yet."), None
    lines = [_("<b>Nearest community centers</b>")]
    for number, (center, metres) in enumerate(found, start=page.offset + 1):
        lines.append(center_summary(number, center, metres))
    lines.append(_("Tap a center to see its card."))
    previous = page.model_copy(update={"offset": page.offset - PAGE_SIZE}) if page.offset else None
    following = page.model_copy(update={"offset": page.offset + PAGE_SIZE}) if more else None
    centers = [center for center, _metres in found]
    keyboard = center_list_keyboard(centers, page.offset + 1, previous, following)
    nearby = ListCb(scope=Scope.NEARBY, latitude=page.latitude, longitude=page.longitude)
    keyboard.inline_keyboard.append(
        [InlineKeyboardButton(text=_("🗓 What's on nearby"), callback_data=nearby.pack())]
    )
    return "\n\n".join(lines), keyboard


@router.message(MenuButton(FIND))
async def ask_for_place(message: Message) -> None:
    await message.answer(
        _("Type the name of your city, town or street, for example: <i>Yekaterinburg</i>.")
    )


@router.message(MenuButton(MY_CENTERS))
async def my_centers(
    message: Message, account: User | None, settings: Settings, db: Database
) -> None:
    if account is not None and not is_consented(account, settings):
        await send_consent_screen(message.bot, message.chat.id, settings)
        return
    text, keyboard = await _my_centers_page(account, 0, db)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(MyCentersCb.filter())
async def my_centers_page(
    query: CallbackQuery, callback_data: MyCentersCb, account: User | None, db: Database
) -> None:
    text, keyboard = await _my_centers_page(account, callback_data.offset, db)
    await query.answer()
    await show_in_place(query, text, keyboard)


async def _my_centers_page(
    account: User | None, offset: int, db: Database
) -> tuple[str, InlineKeyboardMarkup | None]:
    centers = []
    if account is not None:
        async with db.read() as conn:
            centers = await subscribed_centers(conn, account.id)
    if not centers:
        return (
            _(
                "You are not subscribed to any center yet. Find one with the 📍 button or by "
                "typing a city, open it and tap “Subscribe”."
            ),
            None,
        )
    page = centers[offset : offset + MY_CENTERS_PAGE]
    lines = [_("<b>Your centers</b>")]
    lines += [
        center_summary(number, center, None) for number, center in enumerate(page, offset + 1)
    ]
    previous = MyCentersCb(offset=max(0, offset - MY_CENTERS_PAGE)) if offset else None
    more = len(centers) > offset + MY_CENTERS_PAGE
    following = MyCentersCb(offset=offset + MY_CENTERS_PAGE) if more else None
    return "\n\n".join(lines), center_list_keyboard(page, offset + 1, previous, following)


@router.message(MenuButton(NEAREST))
async def location_not_shared(message: Message) -> None:
    # The button's text arrives only from clients that cannot share a location.
    await message.answer(
        _(
            "This device did not send a location. Open Telegram on your phone and tap "
            "“📍 Nearest center” there, or type the name of your city or street."
        )
    )


# Not inside a coordinator's or admin's dialog: its answer goes to the coordinators'
# routers after this one (which refuse it when the rights are gone).
@router.message(Match(F.text & ~F.text.startswith("/")), ~RefusedCoordDialog())
async def search(message: Message, state: FSMContext, db: Database) -> None:
    query = " ".join(message.text.split())[:_MAX_QUERY]
    token = hashlib.sha1(query.encode()).hexdigest()[:8]
    searches = dict((await state.get_data()).get(SEARCH_KEY, {}))
    searches.pop(token, None)
    searches[token] = query
    # Only the latest few lists can page; older ones answer "search again".
    await state.update_data({SEARCH_KEY: dict(list(searches.items())[-_KEPT_SEARCHES:])})
    text, keyboard = await _search_page(query, token, 0, db)
    await message.answer(text, reply_markup=keyboard)


@router.callback_query(SearchPageCb.filter())
async def search_page(
    query: CallbackQuery, callback_data: SearchPageCb, state: FSMContext, db: Database
) -> None:
    text_query = (await state.get_data()).get(SEARCH_KEY, {}).get(callback_data.token)
    if not text_query:
        await query.answer(_("This list is out of date. Please search again."))
        return
    text, keyboard = await _search_page(text_query, callback_data.token, callback_data.offset, db)
    await query.answer()
    await show_in_place(query, text, keyboard)


async def _search_page(
    text_query: str, token: str, offset: int, db: Database
) -> tuple[str, InlineKeyboardMarkup | None]:
    async with db.read() as conn:
        found = await search_centers(conn, text_query, limit=PAGE_SIZE + 1, offset=offset)
    if not found:
        return (
            _(
                "I found no center for “{query}”. Check the spelling, try just the name of the "
                "city, or share your location with the 📍 button."
            ).format(query=escape(text_query)),
            None,
        )
    page = found[:PAGE_SIZE]
    lines = [_("<b>Centers for “{query}”</b>").format(query=escape(text_query))]
    lines += [
        center_summary(number, center, None) for number, center in enumerate(page, offset + 1)
    ]
    lines.append(_("Tap a center to see its card."))
    previous = SearchPageCb(token=token, offset=max(0, offset - PAGE_SIZE)) if offset else None
    following = (
        SearchPageCb(token=token, offset=offset + PAGE_SIZE) if len(found) > PAGE_SIZE else None
    )
    return "\n\n".join(lines), center_list_keyboard(page, offset + 1, previous, following)


@router.callback_query(CenterCb.filter(F.action == CenterAction.OPEN))
async def open_center(
    query: CallbackQuery,
    callback_data: CenterCb,
    bot: Bot,
    account: User | None,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    async with db.read() as conn:
        center = await get_center(conn, callback_data.center_id)
        subscribed = bool(center and account and await is_subscribed(conn, account.id, center.id))
    if center is None:
        await query.answer(_("This center is no longer in the list."))
        return
    await query.answer()
    await send_center_card(bot, query.from_user.id, center, subscribed=subscribed, now=clock())


@router.callback_query(
    CenterCb.filter(F.action.in_({CenterAction.SUBSCRIBE, CenterAction.UNSUBSCRIBE}))
)
async def toggle_subscription(
    query: CallbackQuery,
    callback_data: CenterCb,
    bot: Bot,
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime],
) -> None:
    wants = callback_data.action == CenterAction.SUBSCRIBE
    async with db.write() as conn:
        # Re-read inside the transaction: a /forget handled at the same moment may have
        # removed the user after the middleware loaded them.
        current = await get_user(conn, query.from_user.id)
        center = await get_center(conn, callback_data.center_id)
        consented = is_consented(current, settings)
        # Leaving is always allowed; joining needs the current consent.
        if center is not None and current is not None and (consented or not wants):
            if wants:
                await subscribe(conn, current.id, center.id, now=clock())
            else:
                await unsubscribe(conn, current.id, center.id)
    if center is None:
        await query.answer(_("This center is no longer in the list."))
        return
    if wants and not consented:
        await ask_for_consent(query, settings, center.id)
        return
    subscribed = wants
    await query.answer(_("Subscribed.") if subscribed else _("Unsubscribed."))
    text = center_card(center, subscribed=subscribed, now=clock())
    await show_in_place(query, text, center_card_keyboard(center, subscribed=subscribed))
