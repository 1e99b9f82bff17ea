import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import PRODID, CalendarEvent, activity_uid, build_calendar

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


# A tiny validating reader, strict where the exporter must be: it rejects bare LF or CR,
# over-long physical lines, lines that are not valid UTF-8 on their own (a character split
# by folding), unbalanced components and unknown escapes.


@dataclass
class Prop:
    name: str
    params: dict[str, str]
    value: str


@dataclass
class Component:
    name: str
    props: list[Prop] = field(default_factory=list)
    children: list["Component"] = field(default_factory=list)

    def all(self, name):
        return [p for p in self.props if p.name == name]

    def one(self, name):
        found = self.all(name)
        assert len(found) == 1, f"{self.name} must have exactly one {name}, has {len(found)}"
        return found[0]

    def get(self, name):
        found = self.all(name)
        return found[0].value if found else None

    def sub(self, name):
        return [c for c in self.children if c.name == name]


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line, "bare CR or LF"
        assert len(line) <= 75, f"line of {len(line)} octets: {line!r}"
        line.decode("utf-8")  # raises if folding cut a multi-byte character
    return lines


def unfold(data: bytes) -> list[str]:
    logical: list[bytes] = []
    for line in physical_lines(data):
        if line.startswith((b" ", b"\t")):
            assert logical, "continuation before any line"
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return [line.decode("utf-8") for line in logical]


def parse_line(line: str) -> Prop:
    head, sep, value = line.partition(":")
    assert sep, f"no value in {line!r}"
    name, *raw_params = head.split(";")
    params = {}
    for raw in raw_params:
        key, eq, val = raw.partition("=")
        assert eq and key and val, f"bad parameter in {line!r}"
        params[key] = val
    assert name and name.replace("-", "").isalnum() and name.upper() == name, name
    return Prop(name, params, value)


def unescape(value: str) -> str:
    out = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            assert char not in ";,", f"unescaped {char!r} in TEXT {value!r}"
            out.append(char)
            continue
        escaped = next(chars)
        assert escaped in "\\;,nN", f"unknown escape \\{escaped}"
        out.append("\n" if escaped in "nN" else escaped)
    return "".join(out)


def parse(data: bytes) -> Component:
    stack: list[Component] = []
    root = None
    for line in unfold(data):
        prop = parse_line(line)
        if prop.name == "BEGIN":
            stack.append(Component(prop.value))
        elif prop.name == "END":
            assert stack and stack[-1].name == prop.value, f"unbalanced END:{prop.value}"
            done = stack.pop()
            if stack:
                stack[-1].children.append(done)
            else:
                assert root is None, "content after the calendar"
                root = done
        else:
            assert stack, f"property outside a component: {line!r}"
            stack[-1].props.append(prop)
    assert not stack and root is not None and root.name == "VCALENDAR"
    validate(root)
    return root


def validate(cal: Component) -> None:
    assert cal.one("VERSION").value == "2.0"
    cal.one("PRODID")
    zones = {tz.one("TZID").value: tz for tz in cal.sub("VTIMEZONE")}
    assert len(zones) == len(cal.sub("VTIMEZONE")), "a zone defined twice"
    for tz in zones.values():
        observances = tz.sub("STANDARD") + tz.sub("DAYLIGHT")
        assert observances
        for obs in observances:
            datetime.strptime(obs.one("DTSTART").value, "%Y%m%dT%H%M%S")
            parse_offset(obs.one("TZOFFSETFROM").value)
            parse_offset(obs.one("TZOFFSETTO").value)
    for event in cal.sub("VEVENT"):
        for name in ("UID", "DTSTAMP", "DTSTART", "SEQUENCE", "STATUS", "SUMMARY"):
            event.one(name)
        assert event.get("DTSTAMP").endswith("Z")
        for name in ("DTSTART", "DTEND"):
            tzid = event.one(name).params.get("TZID")
            assert tzid is None or tzid in zones, f"{name} uses undefined zone {tzid}"


def parse_offset(text: str) -> timedelta:
    assert text[0] in "+-" and len(text) in (5, 7), text
    sign = -1 if text[0] == "-" else 1
    seconds = int(text[1:3]) * 3600 + int(text[3:5]) * 60 + int(text[5:7] or 0)
    return sign * timedelta(seconds=seconds)


def observances(cal: Component, tzid: str) -> list[tuple[str, datetime, timedelta, timedelta]]:
    (tz,) = [tz for tz in cal.sub("VTIMEZONE") if tz.get("TZID") == tzid]
    found = [
        (
            obs.name,
            datetime.strptime(obs.get("DTSTART"), "%Y%m%dT%H%M%S"),
            parse_offset(obs.get("TZOFFSETFROM")),
            parse_offset(obs.get("TZOFFSETTO")),
        )
        for obs in tz.children
    ]
    return sorted(found, key=lambda item: item[1])


def to_utc(cal: Component, prop: Prop) -> datetime:
    """Resolve a DATE-TIME the way a client does: the latest observance whose onset is not
    after the local time gives the offset."""
    if prop.value.endswith("Z"):
        assert "TZID" not in prop.params
        return datetime.strptime(prop.value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    local = datetime.strptime(prop.value, "%Y%m%dT%H%M%S")
    applicable = [obs for obs in observances(cal, prop.params["TZID"]) if obs[1] <= local]
    assert applicable, f"no observance covers {prop.value}"
    offset = applicable[-1][3]
    return (local - offset).replace(tzinfo=UTC)


def make_event(uid="activity-1@sosedi.bot", **changes) -> CalendarEvent:
    base = CalendarEvent(
        uid=uid,
        title="Шахматный клуб",
        starts_at=datetime(2026, 7, 15, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 7, 15, 17, 0, tzinfo=UTC),
        timezone="Europe/Kyiv",
        location="Магазин «Соседи», ул. Ленина, 5",
        description="Приходите!",
    )
    return replace(base, **changes)


def build(*events, name="Соседи") -> bytes:
    return build_calendar(list(events), name, NOW)


def test_calendar_headers_and_event_properties():
    event = make_event(url="https://t.me/sosedi_bot?start=activity_1", sequence=3)
    cal = parse(build(event, name="Соседи: Киев"))
    assert cal.get("PRODID") == PRODID
    assert cal.get("CALSCALE") == "GREGORIAN"
    assert cal.get("METHOD") == "PUBLISH"
    assert unescape(cal.get("X-WR-CALNAME")) == "Соседи: Киев"
    (vevent,) = cal.sub("VEVENT")
    assert vevent.get("UID") == "activity-1@sosedi.bot"
    assert vevent.get("DTSTAMP") == "20260601T093000Z"
    assert vevent.get("SEQUENCE") == "3"
    assert vevent.get("STATUS") == "CONFIRMED"
    assert unescape(vevent.get("SUMMARY")) == "Шахматный клуб"
    assert unescape(vevent.get("LOCATION")) == "Магазин «Соседи», ул. Ленина, 5"
    assert unescape(vevent.get("DESCRIPTION")) == "Приходите!"
    assert vevent.get("URL") == "https://t.me/sosedi_bot?start=activity_1"


def test_cancelled_event_and_optional_fields():
    event = make_event(cancelled=True, sequence=1, location="", description="")
    (vevent,) = parse(build(event)).sub("VEVENT")
    assert vevent.get("STATUS") == "CANCELLED"
    assert vevent.get("SEQUENCE") == "1"
    assert vevent.all("LOCATION") == vevent.all("DESCRIPTION") == vevent.all("URL") == []


def test_lines_end_with_crlf_only():
    data = build(make_event(description="one\ntwo\r\nthree\rfour"))
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")


def test_long_cyrillic_title_is_folded_on_character_boundaries():
    title = ("Очень длинное название занятия для соседей " * 8)[:300]
    assert len(title) == 300
    data = build(make_event(title=title))
    summary_lines = [line for line in data.split(b"\r\n") if line.startswith(b"SUMMARY:")]
    assert len(summary_lines) == 1
    # 300 two-octet letters cannot fit in 75 octets, so there are continuation lines.
    start = data.split(b"\r\n").index(summary_lines[0])
    continuation = data.split(b"\r\n")[start + 1 : start + 10]
    assert continuation[0].startswith(b" ")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))
    (vevent,) = parse(data).sub("VEVENT")
    assert unescape(vevent.get("SUMMARY")) == title


def test_folding_with_mixed_octet_widths():
    # 1-, 2-, 3- and 4-octet characters shift the fold points through every position.
    title = "a" + "жєґ€😀" * 60
    (vevent,) = parse(build(make_event(title=title))).sub("VEVENT")
    assert unescape(vevent.get("SUMMARY")) == title


def test_text_values_are_escaped():
    tricky = "a\\b; c, d\ne\r\nf:g"
    data = build(make_event(title=tricky, location=tricky, description=tricky))
    assert b"SUMMARY:a\\\\b\\; c\\, d\\ne\\nf:g\r\n" in data
    (vevent,) = parse(data).sub("VEVENT")
    for name in ("SUMMARY", "LOCATION", "DESCRIPTION"):
        assert unescape(vevent.get(name)) == "a\\b; c, d\ne\nf:g"


def test_control_characters_are_dropped():
    (vevent,) = parse(build(make_event(title="a\x00b\x1bc\td"))).sub("VEVENT")
    assert unescape(vevent.get("SUMMARY")) == "abc\td"


def test_kyiv_local_times_across_dst():
    summer = make_event(
        uid=activity_uid(1),
        starts_at=datetime(2026, 7, 15, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 7, 15, 17, 0, tzinfo=UTC),
    )
    winter = make_event(
        uid=activity_uid(2),
        starts_at=datetime(2026, 1, 20, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 1, 20, 16, 30, tzinfo=UTC),
    )
    data = build(summer, winter)
    assert b"DTSTART;TZID=Europe/Kyiv:20260715T180000\r\n" in data  # +03:00
    assert b"DTEND;TZID=Europe/Kyiv:20260715T200000\r\n" in data
    assert b"DTSTART;TZID=Europe/Kyiv:20260120T170000\r\n" in data  # +02:00
    assert b"DTEND;TZID=Europe/Kyiv:20260120T183000\r\n" in data

    cal = parse(data)
    assert len(cal.sub("VTIMEZONE")) == 1  # both events share the zone
    obs = observances(cal, "Europe/Kyiv")
    kinds = {(kind, to) for kind, _, _, to in obs}
    assert ("STANDARD", timedelta(hours=2)) in kinds
    assert ("DAYLIGHT", timedelta(hours=3)) in kinds
    # The real EU rules: summer time from 03:00 on the last Sunday of March to 04:00 on
    # the last Sunday of October, local time before the switch.
    onsets = {start for _, start, _, _ in obs}
    assert datetime(2026, 3, 29, 3, 0) in onsets
    assert datetime(2026, 10, 25, 4, 0) in onsets

    for vevent, event in zip(cal.sub("VEVENT"), (summer, winter), strict=True):
        assert to_utc(cal, vevent.one("DTSTART")) == event.starts_at
        assert to_utc(cal, vevent.one("DTEND")) == event.ends_at


@pytest.mark.parametrize(
    ("zone", "offset", "tzname"),
    [
        ("Europe/Moscow", "+0300", "MSK"),
        ("Asia/Yekaterinburg", "+0500", "+05"),
        ("Asia/Vladivostok", "+1000", "+10"),
    ],
)
def test_zones_without_dst_get_one_fixed_offset(zone, offset, tzname):
    july = make_event(uid=activity_uid(1), timezone=zone)
    january = make_event(
        uid=activity_uid(2),
        timezone=zone,
        starts_at=datetime(2026, 1, 10, 8, 0, tzinfo=UTC),
        ends_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC),
    )
    cal = parse(build(july, january))
    (tz,) = cal.sub("VTIMEZONE")
    assert tz.get("TZID") == zone
    assert tz.sub("DAYLIGHT") == []
    (standard,) = tz.sub("STANDARD")
    assert standard.get("TZOFFSETFROM") == standard.get("TZOFFSETTO") == offset
    assert standard.get("TZNAME") == tzname
    for vevent, event in zip(cal.sub("VEVENT"), (july, january), strict=True):
        assert vevent.one("DTSTART").params == {"TZID": zone}
        assert to_utc(cal, vevent.one("DTSTART")) == event.starts_at


def test_moscow_is_utc_plus_three():
    event = make_event(timezone="Europe/Moscow")
    assert b"DTSTART;TZID=Europe/Moscow:20260715T180000\r\n" in build(event)


def test_vladivostok_local_date_rolls_over():
    event = make_event(
        timezone="Asia/Vladivostok",
        starts_at=datetime(2026, 12, 31, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
    )
    data = build(event)
    assert b"DTSTART;TZID=Asia/Vladivostok:20270101T010000\r\n" in data
    cal = parse(data)
    assert to_utc(cal, cal.sub("VEVENT")[0].one("DTSTART")) == event.starts_at


def test_one_vtimezone_per_zone_in_name_order():
    events = [
        make_event(uid=activity_uid(1), timezone="Europe/Moscow"),
        make_event(uid=activity_uid(2), timezone="Asia/Vladivostok"),
        make_event(uid=activity_uid(3), timezone="Europe/Moscow"),
        make_event(uid=activity_uid(4), timezone="Europe/Kyiv"),
    ]
    cal = parse(build(*events))
    assert [tz.get("TZID") for tz in cal.sub("VTIMEZONE")] == [
        "Asia/Vladivostok",
        "Europe/Kyiv",
        "Europe/Moscow",
    ]
    # Events keep the caller's order.
    assert [e.get("UID") for e in cal.sub("VEVENT")] == [e.uid for e in events]


def test_same_input_gives_same_bytes():
    events = [
        make_event(uid=activity_uid(1)),
        make_event(uid=activity_uid(2), timezone="Asia/Vladivostok"),
    ]
    first = build(*events)
    assert build(*events) == first
    assert build(*reversed(events)) != first
    later = build_calendar(events, "Соседи", NOW + timedelta(days=1))
    # Only the DTSTAMP lines differ when the export is made at another time.
    changed = set(first.split(b"\r\n")) ^ set(later.split(b"\r\n"))
    assert changed == {b"DTSTAMP:20260601T093000Z", b"DTSTAMP:20260602T093000Z"}


def test_second_occurrence_of_repeated_hour_is_written_in_utc():
    # On 2026-10-25 Kyiv clocks go from 04:00 back to 03:00; 03:30 happens twice.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 03:30 EEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 03:30 EET
    events = [
        make_event(uid=activity_uid(1), starts_at=first, ends_at=first + timedelta(hours=3)),
        make_event(uid=activity_uid(2), starts_at=second, ends_at=second + timedelta(hours=2)),
    ]
    data = build(*events)
    assert b"DTSTART;TZID=Europe/Kyiv:20261025T033000\r\n" in data
    assert b"DTSTART:20261025T013000Z\r\n" in data
    cal = parse(data)
    for vevent, event in zip(cal.sub("VEVENT"), events, strict=True):
        assert to_utc(cal, vevent.one("DTSTART")) == event.starts_at
        assert to_utc(cal, vevent.one("DTEND")) == event.ends_at


def test_empty_calendar_is_still_valid():
    cal = parse(build_calendar([], "Соседи", NOW))
    assert cal.sub("VEVENT") == cal.sub("VTIMEZONE") == []


def test_activity_uid():
    assert activity_uid(42) == "activity-42@sosedi.bot"
    assert activity_uid(7, domain="example.org") == "activity-7@example.org"
    with pytest.raises(TypeError):
        activity_uid(1.0)
    with pytest.raises(TypeError):
        activity_uid(True)
    with pytest.raises(ValueError):
        activity_uid(1, domain="bad domain")


@pytest.mark.parametrize(
    "changes",
    [
        {"starts_at": datetime(2026, 7, 15, 15, 0)},
        {"ends_at": datetime(2026, 7, 15, 14, 0, tzinfo=UTC)},
        {"timezone": "Mars/Olympus_Mons"},
        {"uid": ""},
        {"url": "https://example.org/a b"},
        {"sequence": -1},
    ],
)
def test_invalid_events_are_rejected(changes):
    with pytest.raises((ValueError, TypeError, zoneinfo.ZoneInfoNotFoundError)):
        build(make_event(**changes))


def test_duplicate_uids_and_naive_now_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        build(make_event(), make_event())
    with pytest.raises(ValueError, match="aware"):
        build_calendar([make_event()], "Соседи", datetime(2026, 1, 1))


ZONES = [
    "Europe/Kyiv",
    "Europe/Moscow",
    "Europe/Kaliningrad",
    "Asia/Yekaterinburg",
    "Asia/Vladivostok",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",  # summer time over New Year
    "Asia/Kolkata",  # half-hour offset
    "America/St_Johns",  # negative half-hour offset with DST
]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    starts=st.lists(
        st.datetimes(
            min_value=datetime(2005, 1, 1),
            max_value=datetime(2035, 12, 31),
            timezones=st.just(UTC),
        ),
        min_size=1,
        max_size=4,
    ),
    minutes=st.integers(min_value=0, max_value=24 * 60),
)
def test_clients_recover_every_instant(zone, starts, minutes):
    events = [
        make_event(
            uid=activity_uid(i),
            timezone=zone,
            starts_at=start.replace(microsecond=0),
            ends_at=start.replace(microsecond=0) + timedelta(minutes=minutes),
        )
        for i, start in enumerate(starts)
    ]
    cal = parse(build(*events))
    for vevent, event in zip(cal.sub("VEVENT"), events, strict=True):
        assert to_utc(cal, vevent.one("DTSTART")) == event.starts_at
        assert to_utc(cal, vevent.one("DTEND")) == event.ends_at
