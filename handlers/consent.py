"""Consent to store personal data (152-FZ style): a separate, explicit, versioned act."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.commands import refresh_personal_commands
from bot.config import Settings
from bot.sender import Sender
from handlers.callbacks import ConsentAction, ConsentCb
from handlers.notify import queue_promotions
from handlers.ui import main_menu, remove_buttons
from storage.centers import get_center
from storage.database import Database
from storage.signups import cancel_all
from storage.subscriptions import subscribe
from storage.users import User, delete_user, get_user, save_consent

router = Router(name=__name__)


def is_consented(account: User | None, settings: Settings) -> bool:
    """Consent counts only for the current text: a changed text must be agreed to again."""
    return account is not None and account.consent_version == settings.consent_version


def consent_text(version: str) -> str:
    return _(
        "<b>Privacy and consent</b>\n\n"
        "To remember you, the bot stores:\n"
        "• your Telegram ID and name;\n"
        "• the language you chose, and which reminders and news you want;\n"
        "• the centers you subscribe to, the activities and shifts you sign up for (with how "
        "many people come with you), and your volunteer profile if you fill it in;\n"
        "• the ratings and comments you leave after an activity, and the ideas you propose to "
        "a center (the center's coordinators read them);\n"
        "• if you coordinate a center: which one, and a log of what you do as its coordinator, "
        "kept after you leave it for accountability;\n"
        "• when you gave this consent and to which version of this text.\n\n"
        "Purpose: to show you community centers, remind you of what you signed up for and "
        "send you their news. A location you "
        "share is used only to find the nearest centers and is not stored. Nothing is passed "
        "to third parties.\n\n"
        "At any time: /mydata sends you everything stored about you, /forget deletes it, "
        "/privacy shows this text and lets you withdraw consent.\n\n"
        "Version of this text: {version}"
    ).format(version=escape(version))


async def send_consent_screen(
    bot: Bot, chat_id: int, settings: Settings, center_id: int = 0
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ I agree"),
                    callback_data=ConsentCb(
                        action=ConsentAction.ACCEPT, center_id=center_id
                    ).pack(),
                ),
                InlineKeyboardButton(
                    text=_("❌ No, thanks"),
                    callback_data=ConsentCb(action=ConsentAction.DECLINE).pack(),
                ),
            ]
        ]
    )
    await bot.send_message(chat_id, consent_text(settings.consent_version), reply_markup=keyboard)


async def ask_for_consent(query: CallbackQuery, settings: Settings, center_id: int = 0) -> None:
    """A button that needs consent was pressed without it: say so, and show the terms."""
    await query.answer(_("First, please read and accept the privacy terms."))
    await send_consent_screen(query.bot, query.from_user.id, settings, center_id)


@router.callback_query(ConsentCb.filter(F.action == ConsentAction.ACCEPT))
async def accept(
    query: CallbackQuery,
    callback_data: ConsentCb,
    bot: Bot,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    subscribed_to = None
    # Decided inside the write transaction: two taps handled at once must not both record.
    async with db.write() as conn:
        already = is_consented(await get_user(conn, query.from_user.id), settings)
        if not already:
            already = not await save_consent(
                conn,
                user_id=query.from_user.id,
                display_name=query.from_user.full_name[:128],
                language=i18n.current_locale,
                consent_version=settings.consent_version,
                now=clock(),
                renew=False,
            )
        if callback_data.center_id:
            subscribed_to = await get_center(conn, callback_data.center_id)
            if subscribed_to is not None:
                await subscribe(conn, query.from_user.id, subscribed_to.id, now=clock())
    await query.answer(_("You have already agreed.") if already else _("Thank you!"))
    await remove_buttons(query)
    if not already:
        text = _("Thank you! Consent recorded. Here is the menu: the buttons are at the bottom.")
        await bot.send_message(query.from_user.id, text, reply_markup=main_menu())
        if query.from_user.id in settings.admin_ids:
            await refresh_personal_commands(bot, i18n, db, query.from_user.id, admin=True)
    if subscribed_to is not None:
        await bot.send_message(
            query.from_user.id,
            _("⭐ You are subscribed to {name}.").format(name=escape(subscribed_to.name)),
        )


@router.callback_query(ConsentCb.filter(F.action == ConsentAction.DECLINE))
async def decline(
    query: CallbackQuery,
    bot: Bot,
    sender: Sender,
    settings: Settings,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    async with db.write() as conn:
        current = await get_user(conn, query.from_user.id)
        already = is_consented(current, settings)
        if current is not None and not already:
            # Declining a changed text withdraws consent: what was kept under the old goes,
            # and seats held go to the waitlist.
            rules = settings.signup_rules()
            promotions = await cancel_all(conn, current.id, now=clock(), rules=rules)
            await delete_user(conn, query.from_user.id)
            await queue_promotions(conn, i18n, promotions, rules=rules, now=clock())
    sender.notify()
    await remove_buttons(query)
    if already:
        # An old consent screen pressed later: nothing is erased without /forget's question.
        await query.answer(_("You have already agreed. To withdraw consent, send /privacy."))
        return
    await query.answer()
    text = _(
        "Understood: nothing about you is stored.\n\n"
        "Without consent I cannot remember you, so there are no subscriptions or news. You "
        "can still find centers: share your location or type a city or street.\n\n"
        "If you change your mind, send /privacy."
    )
    await bot.send_message(query.from_user.id, text, reply_markup=main_menu())
