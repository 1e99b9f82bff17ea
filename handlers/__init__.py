"""Telegram handlers: one router per feature, included in the order of ``get_routers``."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    """Routers in matching order: commands and buttons first, free text (a search) after
    them, then the catch-all fallback; routers of other kinds of update at the end."""
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
        ratings.router,  # its comment dialog ends on any command or menu button: before them all
        ideas.router,  # the same
        invites.router,  # /start with an invitation: before /start itself
        start.router,
        # Before the menus: coordinators' dialogs take free text that would otherwise be a
        # search. Its root filters let residents' updates pass by at the cost of one check.
        access.coordination(coordinator_routers()),
        volunteering.router,  # its dialog ends on any menu button: before the menus' routers
        # What residents press most comes early: every router an update passes on its way
        # costs it as much as two or three filter checks, and none of the routers below
        # shares a button, a command or a callback prefix with these three.
        schedule.router,
        activity_card.router,
        activities.router,
        consent.router,
        privacy.router,
        settings.router,
        news_settings.router,
        reminders.router,
        centers.router,  # its search takes any text: after every button's router
        fallback.router,
        # Neither takes messages or button presses, which would only pass through them.
        membership.router,
        errors.router,
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
