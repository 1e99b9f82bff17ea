"""Telegram handlers: one router per feature, included in the order of ``get_routers``."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    """Routers in matching order: commands and buttons first, free text (a search) after
    them, and the catch-all fallback last."""
    from handlers import (
        access,
        activities,
        activity_card,
        centers,
        consent,
        errors,
        fallback,
        membership,
        news_settings,
        privacy,
        ratings,
        reminders,
        schedule,
        settings,
        start,
        volunteering,
    )

    return [
        errors.router,
        ratings.router,  # its comment dialog ends on any command or menu button: before them all
        # Coordinators' and admins' routers: every handler checks the user's rights (see
        # handlers.access); what fails the check gets a refusal, not the residents' fallback.
        # Before the residents' routers: a dialog's text must not be taken for a search, and
        # a command or menu button must end the dialog before it does what it always does.
        *coordinator_routers(),
        access.refusals,
        start.router,
        consent.router,
        privacy.router,
        settings.router,
        news_settings.router,
        membership.router,
        volunteering.router,  # its dialog ends on any menu button: before the menus' routers
        schedule.router,
        reminders.router,
        activity_card.router,
        activities.router,
        centers.router,
        fallback.router,
    ]


def coordinator_routers() -> list[Router]:
    from handlers import (
        broadcast_report,
        coord,
        coord_broadcast,
        coord_broadcast_audience,
        coord_broadcast_send,
    )

    return [
        coord.router,
        coord_broadcast.router,
        coord_broadcast_audience.router,
        coord_broadcast_send.router,
        broadcast_report.router,
    ]
