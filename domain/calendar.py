"""iCalendar (RFC 5545) export of activities, so residents can add them to their calendars.

The file is small and its rules are few, so it is written by hand rather than through a
library: lines end with CRLF, long lines are folded at 75 octets without splitting a UTF-8
character, TEXT values are escaped, and every zone used gets a VTIMEZONE built from the
installed zone database for the span of the events.

Event UIDs must stay the same for the same activity across exports: a client that imports
the file again then updates the events (using ``SEQUENCE`` to tell newer from older) instead
of adding duplicates. Build them with :func:`activity_uid`, e.g. ``activity-42@sosedi.bot``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["PRODID", "CalendarEvent", "activity_uid", "build_calendar"]

PRODID = "-//Sosedi//Sosedi community centers bot//EN"

# RFC 5545 §3.1: "Lines of text SHOULD NOT be longer than 75 octets, excluding the line break."
_MAX_LINE_OCTETS = 75

# Observances that never change are dated from the Unix epoch, as common zone exports
# (e.g. tzurl.org) do; clients only consult them for times inside the events' span.
_EPOCH_LOCAL = datetime(1970, 1, 1)

# Zone transitions are found by sampling the UTC offset at this step and bisecting where it
# changes; zones change offset at most a few times a year, so a one-day step misses none.
_SCAN_STEP = timedelta(days=1)

# TEXT may not carry control characters other than HTAB (RFC 5545 §3.3.11); they would
# corrupt the line structure or be rejected by strict parsers, and carry no meaning here.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CalendarEvent:
    """One activity as a calendar event.

    ``starts_at`` and ``ends_at`` are aware datetimes (UTC in the database); they are
    written as local times of ``timezone``, the center's IANA zone, so clients show them
    right even after the zone's rules change. ``uid`` must be stable for the activity (see
    :func:`activity_uid`); raise ``sequence`` whenever the event is changed or cancelled.
    """

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    location: str
    description: str
    url: str | None = None
    cancelled: bool = False
    sequence: int = 0


def activity_uid(activity_id: int, domain: str = "sosedi.bot") -> str:
    """Stable event UID for an activity: ``activity-<id>@<domain>``.

    Clients match re-imported events by UID, so it must depend on nothing but the activity.
    """
    # bool is an int, and a float would give "activity-1.0": both are caller bugs that
    # would silently produce a second, different UID for the same activity.
    if isinstance(activity_id, bool) or not isinstance(activity_id, int):
        raise TypeError(f"activity_id must be an int, got {type(activity_id).__name__}")
    if not domain or any(ch.isspace() or ch == "@" for ch in domain):
        raise ValueError(f"invalid UID domain: {domain!r}")
    return f"activity-{activity_id}@{domain}"


def build_calendar(events: Sequence[CalendarEvent], calendar_name: str, now: datetime) -> bytes:
    """Serialise ``events`` into an iCalendar file (UTF-8 bytes, CRLF line endings).

    ``calendar_name`` becomes ``X-WR-CALNAME``; ``now`` (aware) becomes every event's
    ``DTSTAMP``. Events keep the given order and time zones are sorted by name, so the same
    input always gives the same bytes.
    """
    events = list(events)
    _check_aware(now, "now")
    seen_uids: set[str] = set()
    for event in events:
        _validate(event)
        # Two events with one UID are one event to a client: the second would overwrite
        # the first on import.
        if event.uid in seen_uids:
            raise ValueError(f"duplicate event UID: {event.uid!r}")
        seen_uids.add(event.uid)

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(calendar_name)}",
    ]
    for zone_name in sorted({event.timezone for event in events}):
        zone_events = [event for event in events if event.timezone == zone_name]
        start = min(event.starts_at for event in zone_events)
        end = max(event.ends_at for event in zone_events)
        lines.extend(_vtimezone(zone_name, start, end))
    stamp = _utc_stamp(now)
    for event in events:
        lines.extend(_vevent(event, stamp))
    lines.append("END:VCALENDAR")
    return b"".join(_fold(line) for line in lines)


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def _validate(event: CalendarEvent) -> None:
    _check_aware(event.starts_at, "starts_at")
    _check_aware(event.ends_at, "ends_at")
    if event.ends_at < event.starts_at:
        raise ValueError(f"event {event.uid!r} ends before it starts")
    if not event.uid or not event.uid.strip():
        raise ValueError("event UID must not be empty")
    # Raises ZoneInfoNotFoundError for unknown zones before any output is produced.
    zoneinfo.ZoneInfo(event.timezone)
    if event.url is not None and (not event.url or re.search(r"[\x00-\x20\x7f]", event.url)):
        # A URI value is not escaped, so whitespace or line breaks would break the file.
        raise ValueError(f"invalid URL for event {event.uid!r}: {event.url!r}")
    if isinstance(event.sequence, bool) or not isinstance(event.sequence, int):
        raise TypeError("sequence must be an int")
    if event.sequence < 0:
        raise ValueError("sequence must not be negative")


def _vevent(event: CalendarEvent, stamp: str) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(event.uid)}",
        f"DTSTAMP:{stamp}",
        f"SEQUENCE:{event.sequence}",
        _local_time_property("DTSTART", event.starts_at, event.timezone),
        _local_time_property("DTEND", event.ends_at, event.timezone),
        f"SUMMARY:{_text(event.title)}",
    ]
    # Empty properties show up as blank fields in some clients; leaving them out is cleaner.
    if event.location:
        lines.append(f"LOCATION:{_text(event.location)}")
    if event.description:
        lines.append(f"DESCRIPTION:{_text(event.description)}")
    if event.url is not None:
        lines.append(f"URL:{event.url}")
    lines.append("STATUS:CANCELLED" if event.cancelled else "STATUS:CONFIRMED")
    lines.append("END:VEVENT")
    return lines


def _local_time_property(name: str, moment: datetime, zone_name: str) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo(zone_name))
    # A local time repeated when clocks go back means its first occurrence (RFC 5545
    # §3.3.5), so an event in the second occurrence is only exact when written in UTC.
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return f"{name}:{_utc_stamp(moment)}"
    return f"{name};TZID={zone_name}:{local:%Y%m%dT%H%M%S}"


def _utc_stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _vtimezone(zone_name: str, start: datetime, end: datetime) -> list[str]:
    """A VTIMEZONE for ``zone_name`` valid from ``start`` to ``end``.

    Covers whole calendar years around the events, so an event moved by a few weeks after
    export is still described. Each transition is listed as its own observance with the
    real offsets, instead of RRULEs that would have to be inferred from the zone's history.
    """
    zone = zoneinfo.ZoneInfo(zone_name)
    # A day's margin keeps local dates near New Year inside the span whatever the offset.
    span_start = datetime(start.astimezone(UTC).year, 1, 1, tzinfo=UTC) - timedelta(days=1)
    span_end = datetime(end.astimezone(UTC).year + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)

    # The observance in force at the start of the span: the zone's latest transition within
    # the year before, or, for zones without DST, a constant offset.
    previous = _transitions(zone, span_start - timedelta(days=366), span_start)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone_name}"]
    if previous:
        lines.extend(_observance(zone, previous[-1]))
    else:
        at_start = span_start.astimezone(zone)
        offset = at_start.utcoffset() or timedelta(0)
        lines.extend(
            _observance_lines(
                daylight=bool(at_start.dst()),
                local_start=_EPOCH_LOCAL,
                offset_from=offset,
                offset_to=offset,
                tzname=at_start.tzname(),
            )
        )
    for moment in _transitions(zone, span_start, span_end):
        lines.extend(_observance(zone, moment))
    lines.append("END:VTIMEZONE")
    return lines


def _transitions(zone: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in ``(start, end]`` at which the zone's UTC offset changes."""
    found = []
    before = start
    offset = start.astimezone(zone).utcoffset()
    while before < end:
        after = min(before + _SCAN_STEP, end)
        new_offset = after.astimezone(zone).utcoffset()
        if new_offset != offset:
            found.append(_first_with_offset(zone, before, after, new_offset))
            offset = new_offset
        before = after
    return found


def _first_with_offset(
    zone: zoneinfo.ZoneInfo, low: datetime, high: datetime, offset: timedelta | None
) -> datetime:
    # Invariant: ``low`` has the old offset, ``high`` the new one; transitions fall on
    # whole seconds, so narrowing to one second finds the exact instant.
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high


def _observance(zone: zoneinfo.ZoneInfo, moment: datetime) -> list[str]:
    before = (moment - timedelta(seconds=1)).astimezone(zone)
    after = moment.astimezone(zone)
    offset_from = before.utcoffset() or timedelta(0)
    offset_to = after.utcoffset() or timedelta(0)
    # DTSTART of an observance is the local wall time of the onset, read on the clock that
    # was in force just before it (RFC 5545 §3.6.5).
    local_start = (moment.astimezone(UTC) + offset_from).replace(tzinfo=None)
    return _observance_lines(
        daylight=bool(after.dst()),
        local_start=local_start,
        offset_from=offset_from,
        offset_to=offset_to,
        tzname=after.tzname(),
    )


def _observance_lines(
    *,
    daylight: bool,
    local_start: datetime,
    offset_from: timedelta,
    offset_to: timedelta,
    tzname: str | None,
) -> list[str]:
    kind = "DAYLIGHT" if daylight else "STANDARD"
    lines = [
        f"BEGIN:{kind}",
        f"DTSTART:{local_start:%Y%m%dT%H%M%S}",
        f"TZOFFSETFROM:{_utc_offset(offset_from)}",
        f"TZOFFSETTO:{_utc_offset(offset_to)}",
    ]
    if tzname:
        lines.append(f"TZNAME:{_text(tzname)}")
    lines.append(f"END:{kind}")
    return lines


def _utc_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    # RFC 5545 forbids "-0000"; seconds appear only for historical local mean times.
    text = f"{sign}{hours:02d}{minutes:02d}"
    return f"{text}{secs:02d}" if secs else text


def _text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    value = _CONTROL_CHARS.sub("", value)
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    # Any line-break convention becomes the escaped "\n" the format uses for new lines.
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def _fold(line: str) -> bytes:
    """Encode one content line, folded at 75 octets on UTF-8 character boundaries."""
    chunks: list[bytes] = []
    current = bytearray()
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > _MAX_LINE_OCTETS:
            chunks.append(bytes(current))
            # A continuation line starts with one space, which counts toward its length.
            current = bytearray(b" ")
        current += encoded
    chunks.append(bytes(current))
    return b"\r\n".join(chunks) + b"\r\n"
