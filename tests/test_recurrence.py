"""Weekly rules in local wall-clock time, across time zones and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.recurrence import (
    WeeklyRule,
    format_weekdays,
    local_to_utc,
    occurrences,
    parse_local_time,
    parse_weekdays,
)

KYIV = ZoneInfo("Europe/Kyiv")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rule(weekdays, at: str, first: date, *, minutes=60, last=None, every=1) -> WeeklyRule:
    return WeeklyRule(frozenset(weekdays), parse_local_time(at), minutes, first, last, every)


def starts(rule_: WeeklyRule, zone: str, since: date, until: date) -> list[datetime]:
    return [o.starts_at for o in occurrences(rule_, zone, since, until)]


def test_moscow_has_no_daylight_saving():
    weekly = rule({1, 3}, "18:00", date(2026, 11, 23), minutes=90)
    found = list(occurrences(weekly, "Europe/Moscow", date(2026, 11, 1), date(2026, 12, 6)))

    assert [o.starts_at for o in found] == [
        utc(2026, 11, 23, 15),
        utc(2026, 11, 25, 15),
        utc(2026, 11, 30, 15),
        utc(2026, 12, 2, 15),
    ]
    assert all(o.ends_at - o.starts_at == timedelta(minutes=90) for o in found)
    assert all(o.starts_at.tzinfo is UTC for o in found)
    # Summer is no different.
    summer = rule({1}, "18:00", date(2026, 7, 6))
    assert starts(summer, "Europe/Moscow", date(2026, 7, 6), date(2026, 7, 6)) == [
        utc(2026, 7, 6, 15)
    ]


def test_kyiv_keeps_local_time_across_the_last_sunday_of_march():
    sundays = rule({7}, "18:00", date(2026, 3, 1))
    found = starts(sundays, "Europe/Kyiv", date(2026, 3, 22), date(2026, 4, 5))

    assert found == [utc(2026, 3, 22, 16), utc(2026, 3, 29, 15), utc(2026, 4, 5, 15)]
    assert {s.astimezone(KYIV).time() for s in found} == {time(18, 0)}


def test_kyiv_keeps_local_time_across_the_last_sunday_of_october():
    sundays = rule({7}, "18:00", date(2026, 3, 1))
    found = starts(sundays, "Europe/Kyiv", date(2026, 10, 18), date(2026, 11, 1))

    assert found == [utc(2026, 10, 18, 15), utc(2026, 10, 25, 16), utc(2026, 11, 1, 16)]
    assert {s.astimezone(KYIV).time() for s in found} == {time(18, 0)}


def test_a_time_in_the_spring_gap_moves_forward_by_the_gap():
    # 2026-03-29 in Kyiv: clocks jump from 03:00 to 04:00; 03:30 does not exist.
    at_gap = rule({7}, "03:30", date(2026, 3, 22))
    found = starts(at_gap, "Europe/Kyiv", date(2026, 3, 22), date(2026, 4, 5))

    assert found == [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 4, 5, 0, 30)]
    assert found[1].astimezone(KYIV).time() == time(4, 30)
    assert found[2].astimezone(KYIV).time() == time(3, 30)
    assert local_to_utc(date(2026, 3, 29), time(3, 30), "Europe/Kyiv") == found[1]


def test_an_ambiguous_time_takes_its_first_occurrence():
    # 2026-10-25 in Kyiv: 03:00-04:00 happens twice, first in summer time (+03:00).
    found = local_to_utc(date(2026, 10, 25), time(3, 30), "Europe/Kyiv")
    assert found == utc(2026, 10, 25, 0, 30)
    assert found.astimezone(KYIV).utcoffset() == timedelta(hours=3)


def test_duration_is_elapsed_time_across_a_change():
    night = rule({7}, "02:30", date(2026, 3, 29), minutes=120)
    [occurrence] = occurrences(night, KYIV, date(2026, 3, 29), date(2026, 3, 29))
    assert occurrence.starts_at == utc(2026, 3, 29, 0, 30)
    assert occurrence.ends_at == utc(2026, 3, 29, 2, 30)
    assert occurrence.ends_at.astimezone(KYIV).time() == time(5, 30)


def test_every_other_week_counts_from_the_week_of_the_first_date():
    # First date Thursday 26 November: that week (from Monday 23rd) counts, the next does not.
    fortnightly = rule({2, 4}, "10:00", date(2026, 11, 26), every=2)
    found = starts(fortnightly, "Europe/Moscow", date(2026, 11, 1), date(2026, 12, 31))

    assert [s.date() for s in found] == [
        date(2026, 11, 26),
        date(2026, 12, 8),
        date(2026, 12, 10),
        date(2026, 12, 22),
        date(2026, 12, 24),
    ]


def test_last_date_and_window_bounds_are_inclusive():
    fridays = rule({5}, "12:00", date(2026, 11, 27), last=date(2026, 12, 11))
    everything = starts(fridays, "Europe/Moscow", date(2026, 1, 1), date(2027, 1, 1))
    assert [s.date() for s in everything] == [
        date(2026, 11, 27),
        date(2026, 12, 4),
        date(2026, 12, 11),
    ]
    window = starts(fridays, "Europe/Moscow", date(2026, 12, 4), date(2026, 12, 4))
    assert [s.date() for s in window] == [date(2026, 12, 4)]
    assert starts(fridays, "Europe/Moscow", date(2026, 12, 12), date(2027, 1, 1)) == []


def test_vladivostok_morning_is_the_previous_utc_day():
    # UTC+10: 09:30 on Tuesday 24 November is 23:30 UTC on Monday 23rd; the local date counts.
    tuesdays = rule({2}, "09:30", date(2026, 11, 1))
    found = starts(tuesdays, "Asia/Vladivostok", date(2026, 11, 24), date(2026, 11, 24))
    assert found == [utc(2026, 11, 23, 23, 30)]


def test_kholmsk_is_eleven_hours_ahead():
    mornings = rule({1, 2, 3, 4, 5, 6, 7}, "08:00", date(2026, 11, 23))
    found = starts(mornings, "Asia/Sakhalin", date(2026, 11, 23), date(2026, 11, 24))
    assert found == [utc(2026, 11, 22, 21), utc(2026, 11, 23, 21)]


def test_nothing_before_the_first_date():
    weekly = rule({1, 2, 3, 4, 5, 6, 7}, "10:00", date(2026, 11, 25))
    found = starts(weekly, "Europe/Moscow", date(2026, 11, 20), date(2026, 11, 26))
    assert [s.date() for s in found] == [date(2026, 11, 25), date(2026, 11, 26)]


@pytest.mark.parametrize(
    ("weekdays", "every", "minutes"),
    [(set(), 1, 60), ({0}, 1, 60), ({8}, 1, 60), ({1}, 3, 60), ({1}, 1, 0)],
)
def test_invalid_rules_are_refused(weekdays, every, minutes):
    with pytest.raises(ValueError):
        rule(weekdays, "10:00", date(2026, 11, 23), every=every, minutes=minutes)


def test_parsing_and_formatting():
    assert parse_weekdays("1,3") == frozenset({1, 3})
    assert parse_weekdays(" 5 , 1 ") == frozenset({1, 5})
    assert format_weekdays([3, 1, 1]) == "1,3"
    for bad in ("", "0", "8", "1;3", "1,,3", "mon"):
        with pytest.raises(ValueError):
            parse_weekdays(bad)
    assert parse_local_time("18:30") == time(18, 30)
    assert parse_local_time("9:05") == time(9, 5)
    assert parse_local_time("18:30:00") == time(18, 30)
    for bad in ("24:00", "18:60", "1830", "18.30", "18:30:15", ""):
        with pytest.raises(ValueError):
            parse_local_time(bad)
