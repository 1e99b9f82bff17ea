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
        invites,
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
        invites.router,  # /start with an invitation: before /start itself
        start.router,
        # Before the menus: coordinators' dialogs take free text that would otherwise be a
        # search. Its root filters let residents' updates pass by at the cost of one check.
        access.coordination(coordinator_routers()),
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
    """Coordinators' and admins' routers: every handler checks the user's rights (see
    handlers.access)."""
    from handlers import (
        admin,
        admin_import,
        broadcast_report,
        coord,
        coord_activities,
        coord_broadcast,
        coord_broadcast_audience,
        coord_broadcast_send,
        coord_cancel,
        coord_edit,
        coord_guest_removal,
        coord_guests,
        coord_ideas,
        coord_new,
        coord_rollcall,
        coord_save,
        coord_signups,
        coord_stats,
        coord_team,
        poster,
    )

    return [
        coord.router,
        coord_new.router,
        coord_save.router,
        coord_activities.router,
        coord_edit.router,
        coord_cancel.router,
        coord_signups.router,
        coord_guests.router,
        coord_guest_removal.router,
        coord_rollcall.router,
        coord_ideas.router,
        coord_broadcast.router,
        coord_broadcast_audience.router,
        coord_broadcast_send.router,
        broadcast_report.router,
        coord_team.router,
        poster.router,
        coord_stats.router,
        admin.router,
        admin_import.router,
    ]
