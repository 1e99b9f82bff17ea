"""The new-activity form's rules, without Telegram: reading dates, times, lengths and numbers
as coordinators type them, the draft and the rows it becomes, and the order of the steps."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.activity_form import (
    Draft,
    Problem,
    clean_line,
    clean_text,
    date_problem,
    idea_title,
    parse_count,
    parse_date,
    parse_duration,
    parse_repeat_end,
    parse_time,
    parse_when,
    start_problem,
    weeks_end,
)
from domain.form_steps import next_step, read_answer

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")
KYIV = ZoneInfo("Europe/Kyiv")
TODAY = date(2026, 11, 22)  # a Sunday
NOW = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # 12:00 in Yekaterinburg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12", date(2026, 12, 25)),
        (" 25.12.2026 ", date(2026, 12, 25)),
        ("25/12/26", date(2026, 12, 25)),
        ("2026-12-25", date(2026, 12, 25)),
        ("1.1", date(2027, 1, 1)),  # a day-month already past this year: next year's
        ("22.11", TODAY),
        ("20.11", date(2026, 11, 20)),  # only days ago: a slip, left in the past to refuse
        ("31.02", Problem.BAD_DATE),
        ("2026-13-01", Problem.BAD_DATE),
        ("tomorrow", Problem.BAD_DATE),
        ("25.12.", Problem.BAD_DATE),
        ("", Problem.BAD_DATE),
    ],
)
def test_dates(text, expected):
    assert parse_date(text, TODAY) == expected


def test_a_date_must_lie_between_today_and_a_year_ahead():
    assert date_problem(TODAY, TODAY) is None
    assert date_problem(TODAY - timedelta(days=1), TODAY) is Problem.PAST
    assert date_problem(TODAY + timedelta(days=365), TODAY) is None
    assert date_problem(TODAY + timedelta(days=366), TODAY) is Problem.TOO_FAR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:30", time(18, 30)),
        ("9:05", time(9, 5)),
        ("18.30", time(18, 30)),
        ("18", time(18, 0)),
        ("0:00", time(0, 0)),
        ("24:00", Problem.BAD_TIME),
        ("18:60", Problem.BAD_TIME),
        ("18:3", Problem.BAD_TIME),
        ("half past six", Problem.BAD_TIME),
    ],
)
def test_times(text, expected):
    assert parse_time(text) == expected


def test_a_new_start_takes_a_date_and_time_in_either_order_or_only_a_time():
    day = date(2026, 12, 1)
    assert parse_when("25.12 18:30", day, TODAY) == (date(2026, 12, 25), time(18, 30))
    assert parse_when("18:30 25.12", day, TODAY) == (date(2026, 12, 25), time(18, 30))
    assert parse_when("19:00", day, TODAY) == (day, time(19, 0))
    assert parse_when("25.12 evening", day, TODAY) is Problem.BAD_DATE
    assert parse_when("on 25.12 18:30", day, TODAY) is Problem.BAD_DATE
    assert parse_when("evening", day, TODAY) is Problem.BAD_TIME


def test_a_start_must_be_ahead_and_within_a_year():
    assert start_problem(NOW, NOW) is Problem.PAST
    assert start_problem(NOW + timedelta(minutes=1), NOW) is None
    assert start_problem(NOW + timedelta(days=366), NOW) is Problem.TOO_FAR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90),
        ("1:30", 90),
        ("0:05", 5),
        ("24:00", 1440),
        ("0:04", Problem.BAD_DURATION),
        ("1:75", Problem.BAD_DURATION),
        ("1441", Problem.BAD_DURATION),
        ("1.5", Problem.BAD_DURATION),
        ("long", Problem.BAD_DURATION),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


def test_counts_texts_and_titles():
    assert parse_count(" 12 ", 100) == 12
    assert parse_count("0", 100) is Problem.BAD_NUMBER
    assert parse_count("101", 100) is Problem.BAD_NUMBER
    assert parse_count("-3", 100) is Problem.BAD_NUMBER
    assert parse_count("ten", 100) is Problem.BAD_NUMBER
    assert clean_line("  Knitting \n club ", 20) == "Knitting club"
    assert clean_line(" \n ", 20) is Problem.EMPTY
    assert clean_line("x" * 21, 20) is Problem.TOO_LONG
    assert clean_text("  Line one\n\nLine two  ", 50) == "Line one\n\nLine two"
    assert clean_text("x" * 51, 50) is Problem.TOO_LONG
    assert idea_title("Chess on Saturdays\nI can bring boards.") == "Chess on Saturdays"
    long = "A very long idea about " + "many things " * 10
    assert idea_title(long) == (
        "A very long idea about many things many things many things many things many…"
    ), "cut at a word, within 80 characters"


def test_the_end_of_a_series_is_a_date_or_a_number_of_weeks():
    first = date(2026, 11, 23)
    assert weeks_end(first, 1) == date(2026, 11, 29)
    assert parse_repeat_end("8", first, TODAY) == date(2027, 1, 17)
    assert parse_repeat_end("0", first, TODAY) is Problem.BAD_NUMBER
    assert parse_repeat_end("53", first, TODAY) is Problem.BAD_NUMBER
    assert parse_repeat_end("31.01.2027", first, TODAY) == date(2027, 1, 31)
    assert parse_repeat_end("22.11", first, TODAY) is Problem.END_BEFORE_START
    assert parse_repeat_end("01.01.2028", first, TODAY) is Problem.TOO_FAR
    assert parse_repeat_end("soon", first, TODAY) is Problem.BAD_DATE


def complete(**values) -> Draft:
    base = {
        "title": "Chess",
        "category": "lectures",
        "day": date(2026, 11, 25),
        "at": time(18, 30),
        "duration": 90,
        "capacity": 12,
    }
    return Draft(**{**base, **values})


def test_a_one_off_in_the_centers_time_becomes_its_row():
    draft = complete(place_note="Hall 2", volunteer_role="Tea", volunteer_places=2)
    row = draft.activity_row(7, YEKATERINBURG, NOW)
    assert row["starts_at"] == datetime(2026, 11, 25, 13, 30, tzinfo=UTC), "18:30 at UTC+5"
    assert row["ends_at"] == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert (row["center_id"], row["capacity"], row["place_note"]) == (7, 12, "Hall 2")
    assert (row["volunteer_role"], row["volunteer_places"]) == ("Tea", 2)
    assert row["accepts_participants"] is True and row["created_at"] == NOW
    assert Draft.from_data(draft.to_data()) == draft


def test_a_shift_for_volunteers_only_has_no_participants_places():
    draft = complete(capacity=None, participants=False, volunteer_role="Sort", volunteer_places=3)
    row = draft.activity_row(7, YEKATERINBURG, NOW)
    assert (row["accepts_participants"], row["capacity"]) == (False, None)
    assert draft.problem(YEKATERINBURG, NOW) is None
    assert complete(participants=False).problem(YEKATERINBURG, NOW) is Problem.INCOMPLETE


def test_a_time_in_kyivs_spring_gap_follows_the_series_convention():
    draft = complete(day=date(2027, 3, 28), at=time(3, 30))
    assert draft.first_start(KYIV, NOW) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_what_keeps_a_draft_from_being_saved():
    assert Draft(title="Chess").problem(YEKATERINBURG, NOW) is Problem.INCOMPLETE
    assert complete(category="dancing").problem(YEKATERINBURG, NOW) is Problem.INCOMPLETE
    assert complete(day=TODAY, at=time(11, 0)).problem(YEKATERINBURG, NOW) is Problem.PAST
    assert complete(day=date(2027, 11, 30)).problem(YEKATERINBURG, NOW) is Problem.TOO_FAR
    # Only Saturdays, within a Monday-to-Friday span: the series never happens.
    never = complete(day=date(2026, 11, 23), weekdays=frozenset({6}), last_date=date(2026, 11, 27))
    assert never.problem(YEKATERINBURG, NOW) is Problem.NO_OCCURRENCE


def test_a_series_starts_with_its_first_date_still_to_come_and_becomes_its_row():
    # Today's 11:00 (Sunday) has passed, and every other week skips the next one: the
    # series starts on the Wednesday of the week after.
    draft = complete(
        day=TODAY, at=time(11, 0), weekdays=frozenset({3, 7}), every_weeks=2, last_date=None
    )
    assert draft.first_start(YEKATERINBURG, NOW) == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    row = draft.series_row(7, NOW)
    assert (row["weekdays"], row["every_weeks"], row["local_time"]) == ("3,7", 2, "11:00")
    assert (row["first_date"], row["last_date"], row["duration_minutes"]) == (TODAY, None, 90)
    assert "starts_at" not in row


def test_the_steps_follow_the_answers():
    draft = complete()
    assert next_step("title", draft, editing=False) == "category"
    assert next_step("capacity", draft, editing=False) == "role"
    assert next_step("role", draft, editing=False) == "place"
    assert next_step("role", complete(volunteer_role="Tea"), editing=True) == "places"
    assert next_step("places", draft, editing=False) == "place"
    assert next_step("places", draft, editing=True) == "preview"
    assert next_step("repeat", draft, editing=False) == "preview"
    weekly = complete(weekdays=frozenset({1}))
    assert next_step("repeat", weekly, editing=True) == "days"
    assert next_step("days", weekly, editing=True) == "end"
    assert next_step("end", weekly, editing=False) == "preview"
    only_volunteers = complete(participants=False, capacity=None)
    assert next_step("capacity", only_volunteers, editing=True) == "role"
    assert next_step("title", draft, editing=True) == "preview"


def test_typed_answers_go_into_the_draft_or_leave_it_as_it_was():
    draft = Draft()
    assert read_answer("title", "  Chess  ", draft, YEKATERINBURG, NOW) is None
    assert read_answer("day", "21.11", draft, YEKATERINBURG, NOW) is Problem.PAST
    assert read_answer("day", "22.11", draft, YEKATERINBURG, NOW) is None
    assert read_answer("time", "11:59", draft, YEKATERINBURG, NOW) is Problem.PAST
    assert draft.at is None
    assert read_answer("time", "12:01", draft, YEKATERINBURG, NOW) is None
    assert read_answer("capacity", "без ограничений", draft, YEKATERINBURG, NOW) is None
    assert (draft.title, draft.day, draft.at, draft.capacity) == ("Chess", TODAY, time(12, 1), None)
    draft.duration, draft.weekdays, draft.last_date = 60, frozenset({6}), date(2026, 12, 31)
    assert read_answer("end", "22.11", draft, YEKATERINBURG, NOW) is Problem.NO_OCCURRENCE
    assert draft.last_date == date(2026, 12, 31), "unchanged by a wrong answer"
    with pytest.raises(ValueError):
        read_answer("category", "sport", draft, YEKATERINBURG, NOW)
