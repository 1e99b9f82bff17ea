"""A coordinator's announcement: who may get it, how long it may be, when it goes out, and
how its delivery adds up. No database, no Telegram."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from domain.recurrence import local_to_utc

# Telegram's limits: a message's text, and a photo's caption.
MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
# Someone who helped at the center this recently (or is signed up to help) is one of its
# volunteers.
VOLUNTEER_WINDOW: Final = timedelta(days=90)
# How far ahead an announcement may be scheduled.
MAX_AHEAD: Final = timedelta(days=365)


class Audience(StrEnum):
    SUBSCRIBERS = "subscribers"  # people subscribed to the center
    ACTIVITY = "activity"  # people signed up for one upcoming activity (or waiting)
    VOLUNTEERS = "volunteers"  # people with a volunteer shift at the center, recent or to come


class BroadcastState(StrEnum):
    SCHEDULED = "scheduled"  # waits for its time; nothing queued yet
    SENDING = "sending"  # its messages are queued
    DONE = "done"
    CANCELLED = "cancelled"  # stopped by a coordinator, before or while it went out


class TextProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"


def text_limit(with_photo: bool) -> int:
    return MAX_CAPTION if with_photo else MAX_TEXT


def telegram_length(text: str) -> int:
    """Length as Telegram counts it, in UTF-16 code units: an emoji may count as two."""
    return len(text.encode("utf-16-le")) // 2


# Characters that show nothing, beyond whitespace: zero-width spaces and joiners (Unicode
# category Cf), and the blank letters people paste to look empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")


def is_blank(text: str) -> bool:
    return all(
        ch.isspace() or ch in _BLANK_LETTERS or unicodedata.category(ch) in ("Cf", "Cc")
        for ch in text
    )


def check_text(text: str, *, with_photo: bool) -> TextProblem | None:
    """Whether the coordinator's text (plain, before HTML escaping, which Telegram undoes)
    can go out as a message, or as the caption of a photo."""
    if is_blank(text):
        return TextProblem.EMPTY
    if telegram_length(text.strip()) > text_limit(with_photo):
        return TextProblem.TOO_LONG
    return None


class SendAtProblem(StrEnum):
    FORMAT = "format"
    PAST = "past"
    TOO_FAR = "too_far"


_DAY_MONTH = re.compile(
    r"(?P<day>\d{1,2})[./](?P<month>\d{1,2})(?:[./](?P<year>\d{4}|\d{2}))?"
    r"\s+(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
)
_ISO = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})"
)


def parse_send_at(text: str, zone: str, now: datetime) -> datetime | SendAtProblem:
    """The moment ``text`` names in the center's time zone, as an aware UTC datetime.

    ``25.12 18:00`` (the next 25 December, this year's if it has not passed), ``25.12.2026
    18:00``, ``25.12.26 18:00`` or ``2026-12-25 18:00``. It must lie after ``now`` and at most
    a year ahead. A time that falls into a spring-forward gap moves on by the gap.
    """
    cleaned = " ".join(text.split())
    match = _DAY_MONTH.fullmatch(cleaned) or _ISO.fullmatch(cleaned)
    if match is None:
        return SendAtProblem.FORMAT
    today = now.astimezone(ZoneInfo(zone)).date()
    raw_year = match.group("year")
    year = today.year if raw_year is None else int(raw_year)
    if raw_year is not None and len(raw_year) == 2:
        year += 2000
    try:
        day = date(year, int(match.group("month")), int(match.group("day")))
        at = time(int(match.group("hour")), int(match.group("minute")))
        if raw_year is None and day < today:
            day = day.replace(year=year + 1)
    except ValueError:  # 31.02, 25:00, 29.02 of a year without one
        return SendAtProblem.FORMAT
    moment = local_to_utc(day, at, zone)
    if moment <= now:
        return SendAtProblem.PAST
    if moment - now > MAX_AHEAD:
        return SendAtProblem.TOO_FAR
    return moment


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an announcement's messages are. Every recipient is in exactly one of the
    counts: ``left`` (queued or on the wire) until the end, then one of the others."""

    recipients: int
    sent: int = 0
    failed: int = 0  # refused by Telegram, or out of attempts (not counting ``blocked``)
    blocked: int = 0  # the person has blocked the bot
    unknown: int = 0  # on the wire when the bot stopped: never sent twice, so never resent
    cancelled: int = 0  # not sent: the coordinator stopped the announcement
    left: int = 0

    @property
    def finished(self) -> bool:
        return self.left == 0

    @property
    def accounted(self) -> int:
        return self.sent + self.failed + self.blocked + self.unknown + self.cancelled + self.left
