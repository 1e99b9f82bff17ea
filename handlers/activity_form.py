"""How the new-activity dialog looks: each step's question and buttons, the hints for a wrong
answer, and the preview, which is the residents' own card (handlers.activity_views)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_date, get_day_names

from domain.activities import Category, Role
from domain.activity_form import (
    MAX_CAPACITY,
    MAX_DESCRIPTION,
    MAX_PLACE,
    MAX_ROLE,
    MAX_TITLE,
    MAX_VOLUNTEERS,
    MAX_WEEKS,
    Draft,
    Problem,
)
from domain.recurrence import occurrences
from handlers.activity_views import CATEGORY_NAMES, activity_card
from handlers.callbacks import CoordFormCb, FormAction
from handlers.ui import N_
from handlers.views import utc_offset_label
from storage.activities import Activity
from storage.centers import Center

DURATIONS = (30, 60, 90, 120, 180)
CAPACITIES = (10, 15, 20, 30)
VOLUNTEERS = (1, 2, 3, 5)
END_WEEKS = (4, 8, 12)
UNLIMITED = "unlimited"
VOLUNTEERS_ONLY = "volunteers"
NO_END = "none"

# The labels of domain.form_steps.FIELD_STEPS, in their order.
FIELDS = (
    ("title", N_("Title")),
    ("category", N_("Category")),
    ("day", N_("Date")),
    ("time", N_("Time")),
    ("duration", N_("Duration")),
    ("capacity", N_("Participants")),
    ("role", N_("Volunteers")),
    ("place", N_("Place")),
    ("description", N_("Description")),
    ("repeat", N_("Repeat")),
)


def button(text: str, center_id: int, action: FormAction, value: str = "") -> InlineKeyboardButton:
    callback = CoordFormCb(center_id=center_id, action=action, value=value)
    return InlineKeyboardButton(text=text, callback_data=callback.pack())


def rows_of(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def duration_label(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("{minutes} min").format(minutes=rest)
    if not rest:
        return _("{hours} h").format(hours=hours)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)


def short_date(day: date, locale: str) -> str:
    return format_date(day, "d MMMM yyyy", locale=locale)


def weekday_names(weekdays: frozenset[int] | set[int], locale: str) -> str:
    names = get_day_names("abbreviated", locale=locale)
    return ", ".join(names[day - 1] for day in sorted(weekdays))


def problem_text(problem: Problem, step: str) -> str:
    """The hint after a wrong answer at ``step``; the dialog stays at that step."""
    if problem is Problem.EMPTY:
        return _("Please send some text.")
    if problem is Problem.TOO_LONG:
        limit = {"title": MAX_TITLE, "role": MAX_ROLE, "place": MAX_PLACE}.get(
            step, MAX_DESCRIPTION
        )
        return _("That is too long: please keep it within {limit} characters.").format(limit=limit)
    if problem is Problem.BAD_DATE:
        return _("I could not read this date. Send it like 25.12, 25.12.2026 or 2026-12-25.")
    if problem is Problem.BAD_TIME:
        return _("I could not read this time. Send it like 18:30.")
    if problem is Problem.PAST:
        if step == "preview":
            return _("It would start in the past: change the date or the time.")
        if step == "time":
            return _("This time has already passed. Send a later time.")
        return _("This date has already passed. Send a date from today on.")
    if problem is Problem.TOO_FAR:
        return _("That is more than a year ahead. Send a nearer date.")
    if problem is Problem.BAD_DURATION:
        return _(
            "Send the length in minutes (90) or as hours and minutes (1:30), from 5 minutes "
            "to 24 hours."
        )
    if problem is Problem.BAD_NUMBER:
        highest = {"capacity": MAX_CAPACITY, "places": MAX_VOLUNTEERS, "end": MAX_WEEKS}
        return _("Send a whole number from 1 to {highest}, or press a button.").format(
            highest=highest.get(step, MAX_CAPACITY)
        )
    if problem is Problem.END_BEFORE_START:
        return _("The last date cannot come before the first one.")
    if problem is Problem.NO_OCCURRENCE:
        return _("None of the chosen days falls between the first and the last date.")
    return _("Some details are still missing: use “Edit a field”.")


def prompt(
    step: str, draft: Draft, center: Center, *, editing: bool, now: datetime, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question of one step and its buttons."""
    cid = center.id
    rows: list[list[InlineKeyboardButton]] = []
    if step == "title":
        text = _(
            "<b>New activity or shift</b> at {center}\n\n"
            "Send the title as residents will see it, up to {limit} characters. "
            "For example: <i>Knitting club</i>."
        ).format(center=escape(center.name), limit=MAX_TITLE)
        if draft.title:
            text += "\n\n" + _("Now: <b>{value}</b>").format(value=escape(draft.title))
            if not editing:  # a suggestion; when editing, "Back to the preview" keeps it
                rows.append([button(_("✅ Keep it"), cid, FormAction.KEEP)])
    elif step == "category":
        text = _("Choose the category.")
        choices = [button(_(CATEGORY_NAMES[c]), cid, FormAction.CATEGORY, c) for c in Category]
        rows += rows_of(choices, 2)
    elif step == "day":
        zone = ZoneInfo(center.timezone)
        local_now = now.astimezone(zone)
        example = (local_now.date() + timedelta(days=1)).strftime("%d.%m")
        text = _(
            "Which day? Send the date, for example {example} or {example}.{year}.\n"
            "Dates and times are the center's local time ({offset})."
        ).format(example=example, year=local_now.year, offset=utc_offset_label(local_now))
    elif step == "time":
        text = _("What time does it start? Send it like 18:30, the center's local time.")
    elif step == "duration":
        text = _("How long does it last? Send minutes (90) or hours and minutes (1:30).")
        choices = [button(duration_label(m), cid, FormAction.DURATION, str(m)) for m in DURATIONS]
        rows += rows_of(choices, 3)
    elif step == "capacity":
        text = _("How many participants can come? Send a number or choose.")
        choices = [button(str(n), cid, FormAction.CAPACITY, str(n)) for n in CAPACITIES]
        rows.append(choices)
        rows.append([button(_("♾ No limit"), cid, FormAction.CAPACITY, UNLIMITED)])
        rows.append([button(_("🙋 Volunteers only"), cid, FormAction.CAPACITY, VOLUNTEERS_ONLY)])
    elif step == "role":
        if draft.participants:
            text = _(
                "Do you need volunteers? Send what they will do, for example <i>Tea table "
                "helper</i>, or press “No volunteers”."
            )
            rows.append([button(_("No volunteers"), cid, FormAction.NO_VOLUNTEERS)])
        else:
            text = _(
                "It is a shift for volunteers only. Send what they will do, for example "
                "<i>Sorting donations</i>."
            )
    elif step == "places":
        text = _("How many volunteers are needed? Send a number or choose.")
        rows.append([button(str(n), cid, FormAction.PLACES, str(n)) for n in VOLUNTEERS])
    elif step == "place":
        text = _("Where in the center? For example <i>Hall 2, first floor</i>. Send it, or skip.")
        rows.append([button(_("Skip"), cid, FormAction.SKIP)])
    elif step == "description":
        text = _(
            "Describe it for residents: what to expect, what to bring. Up to {limit} "
            "characters. Send it, or skip."
        ).format(limit=MAX_DESCRIPTION)
        if draft.description:
            text += "\n\n" + _("Now: {value}").format(value=escape(draft.description))
            if not editing:
                rows.append([button(_("✅ Keep it"), cid, FormAction.KEEP)])
        rows.append([button(_("Skip"), cid, FormAction.SKIP)])
    elif step == "repeat":
        text = _("Does it repeat every week?")
        rows.append(
            [
                button(_("Only once"), cid, FormAction.ONCE),
                button(_("🔁 Weekly"), cid, FormAction.WEEKLY),
            ]
        )
    elif step == "days":
        return days_prompt(draft, center, locale)
    elif step == "end":
        assert draft.day is not None
        example = (draft.day + timedelta(weeks=8)).strftime("%d.%m.%Y")
        text = _(
            "Until when? Send the last date, for example {example}, or the number of weeks."
        ).format(example=example)
        weeks = [
            button(ngettext("{n} week", "{n} weeks", n).format(n=n), cid, FormAction.END, str(n))
            for n in END_WEEKS
        ]
        rows.append(weeks)
        rows.append([button(_("No end date"), cid, FormAction.END, NO_END)])
    else:
        raise ValueError(f"no such step: {step}")
    if editing:
        rows.append([button(_("‹ Back to the preview"), cid, FormAction.KEEP)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def days_prompt(draft: Draft, center: Center, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """Days of the week as toggles, how often, then "Next"."""
    cid = center.id
    names = get_day_names("abbreviated", locale=locale)
    days = [
        button(
            ("✅ " if day in draft.weekdays else "") + names[day - 1],
            cid,
            FormAction.WEEKDAY,
            str(day),
        )
        for day in range(1, 8)
    ]
    every = [
        button(("✅ " if draft.every_weeks == n else "") + label, cid, FormAction.EVERY, str(n))
        for n, label in ((1, _("Every week")), (2, _("Every other week")))
    ]
    rows = [days[:4], days[4:], every, [button(_("Next ›"), cid, FormAction.DAYS_DONE)]]
    text = _("Choose the days of the week and how often, then press “Next”.")
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def fields_keyboard(center_id: int) -> InlineKeyboardMarkup:
    choices = [button(_(label), center_id, FormAction.FIELD, step) for step, label in FIELDS]
    rows = rows_of(choices, 2)
    rows.append([button(_("‹ Back to the preview"), center_id, FormAction.KEEP)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def draft_activity(draft: Draft, center: Center, starts_at: datetime) -> Activity:
    """The draft as the activity it will be, to show it with the residents' card."""
    row = draft.shared_row(center.id, starts_at)
    return Activity(
        id=0,
        center_id=center.id,
        series_id=None,
        title=row["title"],
        description=row["description"],
        category=row["category"],
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=draft.duration),
        place_note=row["place_note"],
        accepts_participants=row["accepts_participants"],
        capacity=row["capacity"],
        max_companions=0,
        seats_taken=0,
        volunteer_role=row["volunteer_role"],
        volunteer_places=row["volunteer_places"],
        volunteers_taken=0,
        status="scheduled",
        center_name=center.name,
        timezone=center.timezone,
        city=center.city,
    )


def repeat_summary(draft: Draft, zone: ZoneInfo, locale: str) -> str:
    days = weekday_names(draft.weekdays, locale)
    text = (
        _("🔁 Every week: {days}").format(days=days)
        if draft.every_weeks == 1
        else _("🔁 Every other week: {days}").format(days=days)
    )
    if draft.last_date is None:
        return text + ", " + _("no end date")
    assert draft.day is not None
    count = sum(1 for _o in occurrences(draft.rule(), zone, draft.day, draft.last_date))
    until = _("until {date}").format(date=short_date(draft.last_date, locale))
    times = ngettext("{n} time", "{n} times", count).format(n=count)
    return f"{text}, {until} ({times})"


def preview(
    draft: Draft, center: Center, *, now: datetime, locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The card exactly as residents will see it (and as volunteers will, for a shift),
    with Save, Edit a field and Cancel."""
    zone = ZoneInfo(center.timezone)
    problem = draft.problem(zone, now)
    starts_at = draft.first_start(zone, now)
    parts = [_("<b>Preview.</b> This is how residents will see it:")]
    if starts_at is not None and draft.complete:
        activity = draft_activity(draft, center, starts_at)
        roles = [Role.PARTICIPANT] if activity.accepts_participants else []
        if activity.volunteer_places:
            roles.append(Role.VOLUNTEER)
        for role in roles:
            card = activity_card(
                activity,
                role=role,
                waitlist=0,
                signup=None,
                position=None,
                locale=locale,
                viewer_zone=None,
            )
            if role is Role.VOLUNTEER and activity.accepts_participants:
                parts.append(_("And in 🙋 Volunteering:"))
            parts.append(card)
    if draft.repeats:
        parts.append(repeat_summary(draft, zone, locale))
    if problem is not None:
        parts.append("⚠️ " + problem_text(problem, "preview"))
    cid = center.id
    rows = [
        [button(_("✅ Save"), cid, FormAction.SAVE)],
        [button(_("✏️ Edit a field"), cid, FormAction.FIELDS)],
        [button(_("✖️ Cancel"), cid, FormAction.DISCARD)],
    ]
    return "\n\n".join(parts), InlineKeyboardMarkup(inline_keyboard=rows)
