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
        ideas,
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
        ideas.router,  # the same
        # Coordinators' and admins' routers: every handler checks the user's rights (see
        # handlers.access); what fails the check gets a refusal, not the residents' handlers.
        # Before those, as the residents' dialogs are: a coordinator's dialog takes the text
        # the search would otherwise take, and ends on a menu button or command.
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
    from handlers import coord, coord_cancel, coord_edit, coord_ideas, coord_new, coord_save

    return [
        coord.router,
        coord_new.router,
        coord_save.router,
        coord_edit.router,
        coord_cancel.router,
        coord_ideas.router,
    ]
