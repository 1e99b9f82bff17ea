"""Calendar (.ics) files for activities: one, or a whole schedule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.calendar import CalendarEvent, activity_uid, build_calendar
from storage.activities import Activity


def activity_calendar(items: Sequence[Activity], *, name: str, now: datetime) -> bytes:
    # Stable UIDs: importing the file again updates the events instead of adding copies.
    events = [
        CalendarEvent(
            uid=activity_uid(activity.id),
            title=activity.title,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            timezone=activity.timezone,
            location=activity.center_name
            + (f", {activity.place_note}" if activity.place_note else ""),
            description=activity.description,
            cancelled=activity.status != "scheduled",
        )
        for activity in items
    ]
    return build_calendar(events, calendar_name=name, now=now)
