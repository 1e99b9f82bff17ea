"""Offline time-zone lookup for coordinates.

Centers and users are spread over eleven time zones, so reminders and broadcast windows
must use the zone of the place itself, resolved without any network call.
"""

from __future__ import annotations

import functools
import math
import zoneinfo

import tzfpy

__all__ = ["is_valid_timezone", "timezone_at"]

# Returned when coordinates are not numbers at all; any zone would be a guess.
_UNKNOWN_ZONE = "Etc/UTC"


# zoneinfo itself keeps only the last few zones it loaded; an import spanning eleven zones
# would read zone files from disk on nearly every row.
@functools.lru_cache(maxsize=1024)
def is_valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA zone that ``zoneinfo.ZoneInfo`` can load."""
    if not isinstance(name, str) or not name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    # ValueError covers malformed keys and non-zone files in the database; OSError covers
    # directory names such as "Europe".
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _nautical_zone(lon: float) -> str:
    # Nautical zones are 15° wide and centred on multiples of 15°; half-up rounding keeps
    # the boundaries deterministic (round() would use banker's rounding).
    offset = max(-12, min(12, math.floor(lon / 15.0 + 0.5)))
    if offset == 0:
        return "Etc/GMT"
    # POSIX-style names invert the sign: UTC+3 is "Etc/GMT-3".
    return f"Etc/GMT{-offset:+d}"


def timezone_at(lat: float, lon: float) -> str:
    """IANA time-zone name for a point, always loadable by ``zoneinfo.ZoneInfo``.

    Uses the bundled tzfpy boundaries; over open sea, or if the boundary data names a
    zone the installed database lacks, falls back to the nautical ``Etc/GMT±N`` zone of
    the longitude.
    """
    lat = float(lat)
    lon = float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return _UNKNOWN_ZONE
    lat = max(-90.0, min(90.0, lat))
    if not -180.0 <= lon <= 180.0:
        lon = (lon + 180.0) % 360.0 - 180.0
    name = tzfpy.get_tz(lon, lat)  # tzfpy takes longitude first
    if is_valid_timezone(name):
        return name
    return _nautical_zone(lon)
