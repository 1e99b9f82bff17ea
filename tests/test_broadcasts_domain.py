"""Announcements without a database: text limits, the time to send, how a report adds up."""

from datetime import UTC, datetime

import pytest

from domain.broadcasts import (
    MAX_CAPTION,
    MAX_TEXT,
    Progress,
    SendAtProblem,
    TextProblem,
    check_text,
    parse_send_at,
    telegram_length,
)

MOSCOW = "Europe/Moscow"  # UTC+3 all year
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # 15:00 in Moscow


@pytest.mark.parametrize(
    ("text", "with_photo", "problem"),
    [
        ("Чаепитие в пятницу", False, None),
        ("a" * MAX_TEXT, False, None),
        ("a" * (MAX_TEXT + 1), False, TextProblem.TOO_LONG),
        ("a" * MAX_CAPTION, True, None),
        ("a" * (MAX_CAPTION + 1), True, TextProblem.TOO_LONG),
        ("😀" * (MAX_TEXT // 2), False, None),  # two UTF-16 units each, as Telegram counts
        ("😀" * (MAX_TEXT // 2) + "a", False, TextProblem.TOO_LONG),
        ("  " + "a" * MAX_TEXT + "\n", False, None),  # Telegram trims the ends
        (" \n\t", False, TextProblem.EMPTY),
        ("\u200b\u2060", False, TextProblem.EMPTY),  # zero-width characters show nothing
        ("\u3164", True, TextProblem.EMPTY),  # the blank letter pasted as "empty"
    ],
)
def test_text_limits(text, with_photo, problem):
    assert check_text(text, with_photo=with_photo) is problem


def test_telegram_counts_utf16_units():
    assert telegram_length("ab") == 2
    assert telegram_length("ё") == 1
    assert telegram_length("👍") == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22.11 18:00", datetime(2026, 11, 22, 15, 0, tzinfo=UTC)),
        ("25.12 9:30", datetime(2026, 12, 25, 6, 30, tzinfo=UTC)),
        ("  25.12   09.30 ", datetime(2026, 12, 25, 6, 30, tzinfo=UTC)),
        ("1.1 10:00", datetime(2027, 1, 1, 7, 0, tzinfo=UTC)),  # January: next year's
        ("25.12.2026 18:00", datetime(2026, 12, 25, 15, 0, tzinfo=UTC)),
        ("25.12.26 18:00", datetime(2026, 12, 25, 15, 0, tzinfo=UTC)),
        ("2026-12-25 18:00", datetime(2026, 12, 25, 15, 0, tzinfo=UTC)),
        ("22.11 15:01", datetime(2026, 11, 22, 12, 1, tzinfo=UTC)),
    ],
)
def test_send_at_is_read_in_the_centers_zone(text, expected):
    assert parse_send_at(text, MOSCOW, NOW) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("22.11 15:00", SendAtProblem.PAST),  # this very minute is not the future
        ("22.11 09:00", SendAtProblem.PAST),  # earlier today: not next year
        ("21.11.2026 18:00", SendAtProblem.PAST),
        ("23.11.2027 18:00", SendAtProblem.TOO_FAR),
        ("tomorrow", SendAtProblem.FORMAT),
        ("31.02 10:00", SendAtProblem.FORMAT),
        ("25.12 25:00", SendAtProblem.FORMAT),
        ("25.12", SendAtProblem.FORMAT),
        ("18:00", SendAtProblem.FORMAT),
        ("29.02.2027 10:00", SendAtProblem.FORMAT),
    ],
)
def test_send_at_refusals(text, problem):
    assert parse_send_at(text, MOSCOW, NOW) is problem


def test_send_at_in_a_spring_forward_gap_moves_on():
    # Kyiv skips 03:00–04:00 on 29 March 2026: 03:30 is read as 04:30 summer time.
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_send_at("29.03 03:30", "Europe/Kyiv", now) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )


def test_the_report_adds_up():
    going = Progress(recipients=10, sent=4, failed=1, blocked=1, left=4)
    assert not going.finished and going.accounted == 10
    stopped = Progress(recipients=10, sent=4, failed=1, blocked=1, unknown=1, cancelled=3)
    assert stopped.finished and stopped.accounted == 10
