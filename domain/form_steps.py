"""The steps of the new-activity dialog: their order, and reading a typed answer into the
draft. The dialog (handlers.coord_new) only asks and shows."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from domain.activity_form import (
    MAX_CAPACITY,
    MAX_DESCRIPTION,
    MAX_PLACE,
    MAX_ROLE,
    MAX_TITLE,
    MAX_VOLUNTEERS,
    Draft,
    Problem,
    clean_line,
    clean_text,
    date_problem,
    parse_count,
    parse_date,
    parse_duration,
    parse_repeat_end,
    parse_time,
    start_problem,
)
from domain.recurrence import local_to_utc

# The steps the preview can send the coordinator back to, in the dialog's order.
FIELD_STEPS: Final = (
    "title",
    "category",
    "day",
    "time",
    "duration",
    "capacity",
    "role",
    "place",
    "description",
    "repeat",
)
ORDER: Final = (*FIELD_STEPS, "preview")
# Steps answered by typing (some also have buttons); the others only by buttons. "places",
# "days" and "end" follow "role" and "repeat" when their answer asks for them.
TEXT_STEPS: Final = (
    "title",
    "day",
    "time",
    "duration",
    "capacity",
    "role",
    "places",
    "place",
    "description",
    "end",
)
ALL_STEPS: Final = (*ORDER, "places", "days", "end")
# Typed instead of pressing "No limit".
UNLIMITED_WORDS: Final = frozenset(
    {"unlimited", "no limit", "∞", "-", "без ограничений", "без обмежень"}
)


def next_step(step: str, draft: Draft, *, editing: bool) -> str:
    """The step after ``step``: the next one, or back to the preview once it was shown.
    A few steps lead on to their own follow-up either way."""
    if step == "role" and draft.volunteer_role:
        return "places"
    if step == "capacity" and not draft.participants and not draft.volunteer_role:
        return "role"  # a shift for volunteers only needs their task
    if step == "repeat":
        return "days" if draft.repeats else "preview"
    if step == "days":
        return "end"
    if editing or step == "end":
        return "preview"
    if step == "places":
        return "place"
    return ORDER[ORDER.index(step) + 1]


def read_answer(
    step: str, text: str, draft: Draft, zone: ZoneInfo, now: datetime
) -> Problem | None:
    """Take a typed answer to ``step`` into the draft, or say what is wrong with it (the
    draft is then unchanged)."""
    today = now.astimezone(zone).date()
    value: object
    if step == "title":
        value, field = clean_line(text, MAX_TITLE), "title"
    elif step == "day":
        value, field = parse_date(text, today), "day"
        if not isinstance(value, Problem):
            value = date_problem(value, today) or value
    elif step == "time":
        value, field = parse_time(text), "at"
        if not isinstance(value, Problem) and draft.day is not None:
            value = start_problem(local_to_utc(draft.day, value, zone), now) or value
    elif step == "duration":
        value, field = parse_duration(text), "duration"
    elif step == "capacity":
        unlimited = text.strip().lower() in UNLIMITED_WORDS
        value = None if unlimited else parse_count(text, MAX_CAPACITY)
        if not isinstance(value, Problem):
            draft.participants = True
        field = "capacity"
    elif step == "role":
        value, field = clean_line(text, MAX_ROLE), "volunteer_role"
    elif step == "places":
        value, field = parse_count(text, MAX_VOLUNTEERS), "volunteer_places"
    elif step == "place":
        value, field = clean_line(text, MAX_PLACE), "place_note"
    elif step == "description":
        value, field = clean_text(text, MAX_DESCRIPTION), "description"
    elif step == "end" and draft.day is not None:
        value, field = parse_repeat_end(text, draft.day, today), "last_date"
    else:
        raise ValueError(f"{step} takes no typed answer")
    if isinstance(value, Problem):
        return value
    before = getattr(draft, field)
    setattr(draft, field, value)
    if step == "end" and draft.first_start(zone, now) is None:
        draft.last_date = before
        return Problem.NO_OCCURRENCE
    return None
