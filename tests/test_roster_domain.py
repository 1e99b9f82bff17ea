"""The roster's rules without a database: guests, roll call, marks, pages, the CSV file, and
volunteer hours confirmed by a roll call."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from domain.hours import Shift, summarise
from domain.roster import (
    MAX_GUEST_PARTY,
    ROLL_CALL_WINDOW,
    Mark,
    RosterRefusal,
    attended_of,
    clean_name,
    guest_refusal,
    mark_of,
    next_mark,
    parse_party,
    party_limit,
    roll_call_refusal,
    split_pages,
)
from domain.roster_csv import delimiter_for, roster_csv, safe_cell

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_tap_cycles_through_the_marks():
    assert next_mark(Mark.UNMARKED) is Mark.PRESENT
    assert next_mark(Mark.PRESENT) is Mark.ABSENT
    assert next_mark(Mark.ABSENT) is Mark.UNMARKED
    for attended in (True, False, None):
        assert attended_of(mark_of(attended)) is attended


@pytest.mark.parametrize(
    ("status", "starts_in", "accepts", "expected"),
    [
        ("scheduled", timedelta(hours=1), True, None),
        ("cancelled", timedelta(hours=1), True, RosterRefusal.CANCELLED),
        ("scheduled", timedelta(0), True, RosterRefusal.STARTED),
        ("scheduled", -timedelta(hours=1), True, RosterRefusal.STARTED),
        ("scheduled", timedelta(hours=1), False, RosterRefusal.NO_PARTICIPANTS),
    ],
)
def test_when_guests_may_be_registered(status, starts_in, accepts, expected):
    refusal = guest_refusal(
        status=status, starts_at=NOW + starts_in, accepts_participants=accepts, now=NOW
    )
    assert refusal == expected


@pytest.mark.parametrize(
    ("status", "started_ago", "expected"),
    [
        ("scheduled", -timedelta(seconds=1), RosterRefusal.NOT_STARTED),
        ("scheduled", timedelta(0), None),
        ("scheduled", ROLL_CALL_WINDOW - timedelta(seconds=1), None),
        ("scheduled", ROLL_CALL_WINDOW, RosterRefusal.ROLL_CALL_CLOSED),
        ("cancelled", timedelta(hours=1), RosterRefusal.CANCELLED),
    ],
)
def test_the_roll_call_is_open_from_the_start_for_a_week(status, started_ago, expected):
    assert roll_call_refusal(status=status, starts_at=NOW - started_ago, now=NOW) == expected


def test_names_are_tidied_and_bounded():
    assert clean_name("  Пётр \n  Петров ") == "Пётр Петров"
    assert clean_name("   ") is None
    assert clean_name("Я" * 128) == "Я" * 128
    assert clean_name("Я" * 129) is None


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("3", 3, 3),
        (" 2 ", 3, 2),
        ("4", 3, None),
        ("0", 3, None),
        ("-1", 3, None),
        ("1.5", 3, None),
        ("abc", 3, None),
        ("", 3, None),
        ("٣", 3, None),  # a digit, but not one people type for a party size
        ("²", 3, None),  # isdigit() says yes, int() says no
        ("99999999999999999999", 100, None),
    ],
)
def test_party_sizes_as_typed(text, limit, expected):
    assert parse_party(text, limit) == expected


def test_the_party_limit_is_the_places_left():
    assert party_limit(None) == MAX_GUEST_PARTY
    assert party_limit(2) == 2
    assert party_limit(0) == 0
    assert party_limit(10_000) == MAX_GUEST_PARTY


def test_long_lists_split_into_pages_within_the_budget():
    lines = [f"{n}. {'x' * 50}" for n in range(200)]
    pages = split_pages(lines, 1000)
    assert [line for page in pages for line in page] == lines
    assert all(len("\n".join(page)) <= 1000 for page in pages)
    assert len(pages) > 1
    assert split_pages([], 100) == [[]]
    assert split_pages(["y" * 300, "z"], 100) == [["y" * 300], ["z"]]


def test_csv_opens_in_excel_and_keeps_formulas_out():
    header = ["Имя", "Роль"]
    rows = [["Анна", "участник"], ["=1+2", "гость"], ["Ли; Мин", 3]]
    content = roster_csv(header, rows, locale="ru")
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in content
    parsed = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert parsed == [header, ["Анна", "участник"], ["'=1+2", "гость"], ["Ли; Мин", "3"]]
    assert delimiter_for("en") == "," and delimiter_for("uk") == ";"
    english = roster_csv(["Name"], [["Ann, Bo"]], locale="en").decode("utf-8-sig")
    assert english == 'Name\r\n"Ann, Bo"\r\n'
    for risky in ("+1", "-1", "@x", "\tx"):
        assert safe_cell(risky) == "'" + risky
    assert safe_cell(None) == "" and safe_cell(2) == "2"


def test_hours_confirmed_by_a_roll_call_are_counted_apart():
    def shift(day, hours, confirmed):
        start = NOW + timedelta(days=day)
        return Shift(
            "Центр", "Пермь", "Asia/Yekaterinburg", start, start + timedelta(hours=hours), confirmed
        )

    summary = summarise([shift(0, 2, True), shift(1, 3, False), shift(2, 1.5, True)])
    assert summary.total == 6.5
    assert summary.confirmed_total == 3.5
    assert summary.unconfirmed_total == 3.0
    assert summarise([]).confirmed_total == 0 == summarise([]).unconfirmed_total
