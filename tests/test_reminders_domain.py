"""When pushes go out: reminders, quiet hours, the weekly digest, across eleven time zones and
Kyiv's daylight-saving changes (last Sundays of March and October, at 03:00/04:00 local)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.reminders import (
    DEFAULT_QUIET,
    DEFAULT_REMINDERS,
    PlannedReminder,
    QuietHours,
    ReminderKind,
    format_reminders,
    is_quiet,
    next_weekly,
    parse_reminders,
    plan_reminders,
    quiet_ends,
    rating_due,
    release_at,
    reminder_due,
    reminder_to_send,
    still_worth_sending,
    unconfirmed_from,
    week_bounds,
)

H24, H2, H1, MORNING = ReminderKind.H24, ReminderKind.H2, ReminderKind.H1, ReminderKind.MORNING
KYIV = ZoneInfo("Europe/Kyiv")
# Zone, UTC offset in November (none of these but Kyiv changes its clocks).
ZONES = [
    ("Europe/Kaliningrad", 2),
    ("Europe/Moscow", 3),
    ("Asia/Yekaterinburg", 5),
    ("Asia/Krasnoyarsk", 7),
    ("Asia/Vladivostok", 10),
    ("Asia/Sakhalin", 11),
    ("Europe/Kyiv", 2),
]
ZONE_NAMES = [name for name, _ in ZONES]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str | ZoneInfo, *args: int) -> datetime:
    """A local wall-clock time (first occurrence if ambiguous) as UTC."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def wall(moment: datetime, zone: str | ZoneInfo) -> datetime:
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return moment.astimezone(tz).replace(tzinfo=None)


# Stored choice


def test_defaults():
    assert sorted(DEFAULT_REMINDERS) == [H24, H2]
    assert (DEFAULT_QUIET.start, DEFAULT_QUIET.end) == (time(22, 0), time(8, 0))


def test_stored_choice_round_trips_in_a_fixed_order():
    assert format_reminders({MORNING, H24}) == "24h,morning"
    assert format_reminders(set(ReminderKind)) == "24h,2h,1h,morning"
    for text in ["24h,2h", "1h", "morning", "24h,2h,1h,morning", ""]:
        assert format_reminders(parse_reminders(text)) == text


def test_never_chosen_means_defaults_and_empty_means_off():
    assert parse_reminders(None) == DEFAULT_REMINDERS
    assert parse_reminders("") == frozenset()
    assert format_reminders(frozenset()) == ""


def test_unknown_tokens_and_stray_spaces_are_ignored():
    assert parse_reminders(" 2H , weekly,, 1h,30m ") == {H2, H1}
    assert parse_reminders("off") == frozenset()


# Reminder times


@pytest.mark.parametrize(("zone", "offset"), ZONES)
def test_lead_times_are_elapsed_in_every_zone(zone, offset):
    starts_at = local(zone, 2026, 11, 24, 18, 0)
    assert starts_at == utc(2026, 11, 24, 18 - offset)
    assert reminder_due(H24, starts_at, zone) == starts_at - timedelta(hours=24)
    assert reminder_due(H2, starts_at, zone) == starts_at - timedelta(hours=2)
    assert reminder_due(H1, starts_at, zone) == starts_at - timedelta(hours=1)
    assert reminder_due(MORNING, starts_at, zone) == local(zone, 2026, 11, 24, 9, 0)


def test_24h_before_is_elapsed_across_kyivs_spring_change():
    # Sunday 29 March 2026, 18:00 summer time (+03:00); Saturday was still +02:00.
    starts_at = local(KYIV, 2026, 3, 29, 18, 0)
    due = reminder_due(H24, starts_at, KYIV)
    assert starts_at == utc(2026, 3, 29, 15)
    assert due == utc(2026, 3, 28, 15)
    # Exactly a day of elapsed time, so the wall clock shows 17:00, not 18:00.
    assert wall(due, KYIV) == datetime(2026, 3, 28, 17, 0)


def test_24h_before_is_elapsed_across_kyivs_autumn_change():
    # Sunday 25 October 2026, 18:00 winter time (+02:00); Saturday was still +03:00.
    starts_at = local(KYIV, 2026, 10, 25, 18, 0)
    due = reminder_due(H24, starts_at, KYIV)
    assert due == utc(2026, 10, 24, 16)
    assert wall(due, KYIV) == datetime(2026, 10, 24, 19, 0)


def test_morning_follows_the_local_clock_on_dst_days():
    # 09:00 in Kyiv is 07:00 UTC in winter and 06:00 UTC in summer; both change days are
    # Sundays whose change (03:00/04:00) lies before the morning.
    spring = reminder_due(MORNING, local(KYIV, 2026, 3, 29, 12, 0), KYIV)
    autumn = reminder_due(MORNING, local(KYIV, 2026, 10, 25, 12, 0), KYIV)
    assert spring == utc(2026, 3, 29, 6)
    assert autumn == utc(2026, 10, 25, 7)
    assert wall(spring, KYIV).time() == wall(autumn, KYIV).time() == time(9, 0)


def test_morning_is_on_the_local_date_not_the_utc_one():
    # 12:00 on Tuesday 24 November in Vladivostok is 02:00 UTC; the morning is 23:00 UTC Monday.
    starts_at = local("Asia/Vladivostok", 2026, 11, 24, 12, 0)
    assert reminder_due(MORNING, starts_at, "Asia/Vladivostok") == utc(2026, 11, 23, 23)
    # Kholmsk: 09:00 is 22:00 UTC the day before.
    starts_at = local("Asia/Sakhalin", 2026, 11, 24, 15, 0)
    assert reminder_due(MORNING, starts_at, "Asia/Sakhalin") == utc(2026, 11, 23, 22)


@pytest.mark.parametrize(("hour", "minute"), [(0, 30), (7, 30), (9, 0), (9, 30), (10, 0)], ids=str)
def test_no_morning_reminder_for_an_activity_at_ten_or_earlier(hour, minute):
    starts_at = local("Europe/Moscow", 2026, 11, 24, hour, minute)
    assert reminder_due(MORNING, starts_at, "Europe/Moscow") is None


def test_morning_reminder_from_just_after_ten():
    starts_at = local("Europe/Moscow", 2026, 11, 24, 10, 1)
    assert reminder_due(MORNING, starts_at, "Europe/Moscow") == local(
        "Europe/Moscow", 2026, 11, 24, 9, 0
    )


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        reminder_due(H2, datetime(2026, 11, 24, 18), "Europe/Moscow")


# Several reminders for one activity


def kinds_of(plan: list[PlannedReminder]) -> list[ReminderKind]:
    return [reminder.kind for reminder in plan]


def test_morning_and_2h_at_the_same_time_make_one_message():
    starts_at = local("Asia/Yekaterinburg", 2026, 11, 24, 11, 0)
    plan = plan_reminders({MORNING, H2}, starts_at, "Asia/Yekaterinburg")
    assert plan == [
        PlannedReminder(H2, starts_at - timedelta(hours=2), starts_at - timedelta(hours=2))
    ]


def test_of_two_reminders_less_than_an_hour_apart_the_earlier_stays():
    starts_at = local("Europe/Moscow", 2026, 11, 24, 10, 30)  # morning 09:00, 1h at 09:30
    assert kinds_of(plan_reminders({MORNING, H1}, starts_at, "Europe/Moscow")) == [MORNING]


def test_reminders_an_hour_or_more_apart_all_go_in_order():
    starts_at = local("Europe/Moscow", 2026, 11, 24, 18, 0)
    plan = plan_reminders(set(ReminderKind), starts_at, "Europe/Moscow")
    assert kinds_of(plan) == [H24, MORNING, H2, H1]
    assert [wall(r.send_at, "Europe/Moscow") for r in plan] == [
        datetime(2026, 11, 23, 18),
        datetime(2026, 11, 24, 9),
        datetime(2026, 11, 24, 16),
        datetime(2026, 11, 24, 17),
    ]
    assert plan_reminders(frozenset(), starts_at, "Europe/Moscow") == []


def test_closeness_is_judged_after_quiet_hours():
    # 09:30 activity: 2h at 07:30 waits for 08:00; 1h at 08:30 would follow half an hour later.
    starts_at = local("Asia/Krasnoyarsk", 2026, 11, 24, 9, 30)
    plan = plan_reminders({H2, H1}, starts_at, "Asia/Krasnoyarsk")
    assert kinds_of(plan) == [H2]
    assert plan[0].send_at == local("Asia/Krasnoyarsk", 2026, 11, 24, 8, 0)


# Quiet hours


@pytest.mark.parametrize("zone", ZONE_NAMES)
def test_default_quiet_hours_cross_midnight_in_every_zone(zone):
    def quiet_at(day: int, hour: int, minute: int = 0) -> bool:
        return is_quiet(local(zone, 2026, 11, day, hour, minute), zone)

    assert not quiet_at(23, 21, 59)
    assert quiet_at(23, 22, 0)
    assert quiet_at(23, 23, 59)
    assert quiet_at(24, 0, 0)
    assert quiet_at(24, 7, 59)
    assert not quiet_at(24, 8, 0)
    assert not quiet_at(24, 13, 0)
    # The window that began yesterday evening ends this morning; from the afternoon, the
    # next one ends tomorrow morning.
    assert quiet_ends(local(zone, 2026, 11, 23, 23, 0), zone) == local(zone, 2026, 11, 24, 8, 0)
    assert quiet_ends(local(zone, 2026, 11, 24, 3, 0), zone) == local(zone, 2026, 11, 24, 8, 0)
    assert quiet_ends(local(zone, 2026, 11, 24, 8, 0), zone) == local(zone, 2026, 11, 25, 8, 0)
    assert quiet_ends(local(zone, 2026, 11, 24, 13, 0), zone) == local(zone, 2026, 11, 25, 8, 0)


@pytest.mark.parametrize("zone", ZONE_NAMES)
def test_a_2h_reminder_for_0730_goes_at_once_at_0530(zone):
    starts_at = local(zone, 2026, 11, 24, 7, 30)
    due = reminder_due(H2, starts_at, zone)
    assert wall(due, zone) == datetime(2026, 11, 24, 5, 30)
    assert is_quiet(due, zone)
    # Quiet hours end at 08:00, after the start: this is the reminder's only chance.
    assert release_at(due, zone, starts_at=starts_at) == due
    # Its 24h reminder, at 07:30 the day before, waits until 08:00 that day.
    plan = plan_reminders({H24, H2, MORNING}, starts_at, zone)
    assert [(r.kind, wall(r.send_at, zone)) for r in plan] == [
        (H24, datetime(2026, 11, 23, 8, 0)),
        (H2, datetime(2026, 11, 24, 5, 30)),
    ]


def test_release_outside_quiet_hours_and_for_other_pushes():
    zone = "Europe/Kaliningrad"
    afternoon = local(zone, 2026, 11, 24, 15, 0)
    assert release_at(afternoon, zone) == afternoon
    late = local(zone, 2026, 11, 24, 22, 30)
    assert release_at(late, zone) == local(zone, 2026, 11, 25, 8, 0)
    # An activity starting exactly when quiet hours end: waiting gains nothing.
    at_eight = local(zone, 2026, 11, 25, 8, 0)
    assert release_at(late, zone, starts_at=at_eight) == late
    at_nine = local(zone, 2026, 11, 25, 9, 0)
    assert release_at(late, zone, starts_at=at_nine) == at_eight


def test_configurable_quiet_hours():
    zone = "Europe/Moscow"
    siesta = QuietHours(time(13, 0), time(15, 0))
    assert is_quiet(local(zone, 2026, 11, 24, 13, 0), zone, siesta)
    assert not is_quiet(local(zone, 2026, 11, 24, 15, 0), zone, siesta)
    assert not is_quiet(local(zone, 2026, 11, 24, 23, 0), zone, siesta)
    assert quiet_ends(local(zone, 2026, 11, 24, 14, 0), zone, siesta) == local(
        zone, 2026, 11, 24, 15, 0
    )
    never = QuietHours(time(0, 0), time(0, 0))
    moment = local(zone, 2026, 11, 24, 3, 0)
    assert not is_quiet(moment, zone, never)
    assert quiet_ends(moment, zone, never) == moment
    assert release_at(moment, zone, never) == moment


def test_kyiv_quiet_hours_over_both_changes():
    # The default window spans the changes at 03:00/04:00 and ends at 08:00 either way.
    assert quiet_ends(utc(2026, 3, 28, 21), KYIV) == local(KYIV, 2026, 3, 29, 8, 0)
    assert quiet_ends(utc(2026, 3, 28, 21), KYIV) == utc(2026, 3, 29, 5)
    assert quiet_ends(utc(2026, 10, 24, 21), KYIV) == utc(2026, 10, 25, 6)


def test_a_quiet_end_in_the_spring_gap_is_the_change_itself():
    till_half_three = QuietHours(time(22, 0), time(3, 30))
    # 03:30 does not exist on 29 March; the clock leaves the window at 04:00 (01:00 UTC).
    assert quiet_ends(utc(2026, 3, 28, 23), KYIV, till_half_three) == utc(2026, 3, 29, 1)


def test_a_quiet_end_in_the_autumn_overlap_counts_twice():
    till_half_three = QuietHours(time(22, 0), time(3, 30))
    # First 03:30 (summer time) is 00:30 UTC; then 03:00-04:00 comes again in winter time.
    assert quiet_ends(utc(2026, 10, 24, 23), KYIV, till_half_three) == utc(2026, 10, 25, 0, 30)
    second_ten_past_three = utc(2026, 10, 25, 1, 10)
    assert wall(second_ten_past_three, KYIV) == datetime(2026, 10, 25, 3, 10)
    assert is_quiet(second_ten_past_three, KYIV, till_half_three)
    assert quiet_ends(second_ten_past_three, KYIV, till_half_three) == utc(2026, 10, 25, 1, 30)


# After downtime


def test_still_worth_sending_until_the_start():
    starts_at = utc(2026, 11, 24, 15)
    assert still_worth_sending(starts_at, starts_at - timedelta(minutes=1))
    assert not still_worth_sending(starts_at, starts_at)
    assert not still_worth_sending(starts_at, starts_at + timedelta(hours=5))


def test_the_job_sends_each_reminder_when_due():
    zone = "Europe/Moscow"
    starts_at = local(zone, 2026, 11, 24, 18, 0)

    def sent_at(now: datetime) -> ReminderKind | None:
        found = reminder_to_send(DEFAULT_REMINDERS, starts_at, zone, now)
        return None if found is None else found.kind

    assert sent_at(local(zone, 2026, 11, 23, 17, 59)) is None
    assert sent_at(local(zone, 2026, 11, 23, 18, 0)) is H24
    assert sent_at(local(zone, 2026, 11, 24, 15, 59)) is H24  # deduplicated by the queue
    assert sent_at(local(zone, 2026, 11, 24, 16, 0)) is H2
    assert sent_at(local(zone, 2026, 11, 24, 18, 0)) is None


def test_after_downtime_only_the_latest_overdue_reminder_goes_and_only_before_the_start():
    zone = "Asia/Vladivostok"
    starts_at = local(zone, 2026, 11, 24, 18, 0)
    back = local(zone, 2026, 11, 24, 16, 30)  # down since two days ago
    found = reminder_to_send(set(ReminderKind), starts_at, zone, back)
    assert found is not None
    assert found.kind is H2
    assert reminder_to_send(set(ReminderKind), starts_at, zone, starts_at) is None


def test_reminders_due_before_the_sign_up_are_not_sent():
    zone = "Europe/Moscow"
    starts_at = local(zone, 2026, 11, 24, 18, 0)
    signed_up_at = local(zone, 2026, 11, 24, 12, 0)
    plan = plan_reminders(DEFAULT_REMINDERS, starts_at, zone, signed_up_at=signed_up_at)
    assert kinds_of(plan) == [H2]
    now = signed_up_at + timedelta(minutes=1)
    assert (
        reminder_to_send(DEFAULT_REMINDERS, starts_at, zone, now, signed_up_at=signed_up_at) is None
    )


# Weekly digest


@pytest.mark.parametrize(("zone", "offset"), ZONES)
def test_digest_on_monday_at_ten_in_every_zone(zone, offset):
    # Wednesday 25 November 2026 → Monday 30 November, 10:00 local.
    found = next_weekly(utc(2026, 11, 25, 12), zone)
    assert found == utc(2026, 11, 30, 10) - timedelta(hours=offset)
    # Strictly after: at the very moment, the next one is a week later.
    assert next_weekly(found, zone) == found + timedelta(days=7)
    assert next_weekly(found - timedelta(seconds=1), zone) == found


def test_digest_on_the_monday_after_a_change_keeps_local_ten():
    before = next_weekly(utc(2026, 3, 20), KYIV)
    after = next_weekly(before, KYIV)
    assert (before, after) == (utc(2026, 3, 23, 8), utc(2026, 3, 30, 7))
    assert after - before == timedelta(days=7, hours=-1)
    autumn = next_weekly(utc(2026, 10, 24), KYIV)
    assert autumn == utc(2026, 10, 26, 8)
    assert wall(autumn, KYIV) == datetime(2026, 10, 26, 10, 0)


def test_digest_at_a_time_the_change_skips_or_repeats():
    # Sunday 03:30: skipped on 29 March (first moment after is 04:00 = 01:00 UTC)...
    assert next_weekly(utc(2026, 3, 28), KYIV, 7, time(3, 30)) == utc(2026, 3, 29, 1)
    # ...repeated on 25 October: the first occurrence, and not again an hour later.
    first = next_weekly(utc(2026, 10, 24), KYIV, 7, time(3, 30))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_weekly(first, KYIV, 7, time(3, 30)) == local(KYIV, 2026, 11, 1, 3, 30)


def test_weekday_must_be_iso():
    with pytest.raises(ValueError, match="weekday"):
        next_weekly(utc(2026, 11, 25), "Europe/Moscow", 0, time(10, 0))


def test_week_bounds_are_local_mondays():
    # 20:30 UTC on Sunday is Monday 06:30 in Vladivostok, a new week; Sunday 23:30 in Moscow.
    sunday_night = utc(2026, 11, 29, 20, 30)
    assert week_bounds(sunday_night, "Asia/Vladivostok") == (
        local("Asia/Vladivostok", 2026, 11, 30, 0, 0),
        local("Asia/Vladivostok", 2026, 12, 7, 0, 0),
    )
    assert week_bounds(sunday_night, "Europe/Moscow") == (
        local("Europe/Moscow", 2026, 11, 23, 0, 0),
        local("Europe/Moscow", 2026, 11, 30, 0, 0),
    )


def test_a_week_with_a_change_is_an_hour_shorter_or_longer():
    spring_start, spring_end = week_bounds(utc(2026, 3, 26, 12), KYIV)
    assert (spring_start, spring_end) == (utc(2026, 3, 22, 22), utc(2026, 3, 29, 21))
    assert spring_end - spring_start == timedelta(hours=167)
    autumn_start, autumn_end = week_bounds(utc(2026, 10, 22, 12), KYIV)
    assert autumn_end - autumn_start == timedelta(hours=169)


# Rating and confirmation


def test_rating_an_hour_after_the_end_and_confirmation_three_hours_before_the_start():
    ends_at = local("Asia/Sakhalin", 2026, 11, 24, 20, 30)
    assert rating_due(ends_at) == ends_at + timedelta(hours=1)
    # 21:30 is before quiet hours; an activity ending at 21:30 is asked the next morning.
    late = rating_due(local("Asia/Sakhalin", 2026, 11, 24, 21, 30))
    assert release_at(late, "Asia/Sakhalin") == local("Asia/Sakhalin", 2026, 11, 25, 8, 0)
    starts_at = utc(2026, 11, 24, 15)
    assert unconfirmed_from(starts_at) == utc(2026, 11, 24, 12)


# Properties

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
wall_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONE_NAMES),
    due=instants,
    lead=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    start=wall_times,
    end=wall_times,
)
def test_release_is_never_early_and_never_quiet_without_cause(zone, due, lead, start, end):
    quiet = QuietHours(start, end)
    starts_at = due + lead
    released = release_at(due, zone, quiet, starts_at=starts_at)
    assert released >= due
    assert released <= max(due, starts_at) or released == quiet_ends(due, zone, quiet)
    if is_quiet(released, zone, quiet):
        # Only a reminder whose activity starts before quiet hours end may go out in them.
        assert released == due
        assert starts_at <= quiet_ends(due, zone, quiet)
    assert release_at(due, zone, quiet) >= released


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONE_NAMES),
    after=instants,
    weekday=st.integers(min_value=1, max_value=7),
    at=wall_times,
)
def test_next_weekly_lands_on_the_requested_local_day_and_time(zone, after, weekday, at):
    found = next_weekly(after, zone, weekday, at)
    assert found > after
    assert found - after <= timedelta(days=7, hours=1)
    assert found.tzinfo is UTC
    seen = wall(found, zone)
    naive = datetime.combine(seen.date(), at)
    exists = wall(naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), zone) == naive
    if exists:
        assert seen == naive
        assert seen.isoweekday() == weekday
    else:
        # Pushed out of a spring gap: the first moment after it, at most a few hours on.
        assert naive < seen <= naive + timedelta(hours=2)


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONE_NAMES), moment=instants)
def test_week_bounds_hold_the_moment_and_start_on_a_local_monday(zone, moment):
    start, end = week_bounds(moment, zone)
    assert start <= moment < end
    assert wall(start, zone).time() == time(0, 0)
    assert wall(start, zone).isoweekday() == 1
    assert timedelta(hours=167) <= end - start <= timedelta(hours=169)
