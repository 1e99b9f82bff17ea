import math
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import timezones
from domain.timezones import is_valid_timezone, timezone_at


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (54.7104, 20.4522, "Europe/Kaliningrad"),  # Kaliningrad
        (55.7558, 37.6173, "Europe/Moscow"),  # Moscow
        (59.9386, 30.3141, "Europe/Moscow"),  # Saint Petersburg
        (56.8389, 60.6057, "Asia/Yekaterinburg"),  # Yekaterinburg
        (56.4149, 61.9189, "Asia/Yekaterinburg"),  # Kamensk-Uralsky
        (53.7596, 87.1216, "Asia/Novokuznetsk"),  # Novokuznetsk
        (55.3547, 86.0873, "Asia/Novokuznetsk"),  # Kemerovo
        (56.0153, 92.8932, "Asia/Krasnoyarsk"),  # Krasnoyarsk
        (56.2694, 90.4993, "Asia/Krasnoyarsk"),  # Achinsk
        (53.1009, 91.4125, "Asia/Krasnoyarsk"),  # Sayanogorsk
        (43.1155, 131.8855, "Asia/Vladivostok"),  # Vladivostok
        (47.0409, 142.0416, "Asia/Sakhalin"),  # Kholmsk
        (64.7337, 177.5089, "Asia/Anadyr"),  # Anadyr
        (66.3205, -179.1184, "Asia/Anadyr"),  # Egvekinot, east of the antimeridian
        (44.6167, 33.5254, "Europe/Simferopol"),  # Sevastopol
        (49.5883, 34.5514, "Europe/Kyiv"),  # Poltava
        (49.9685, 33.6089, "Europe/Kyiv"),  # Myrhorod
        (50.4501, 30.5234, "Europe/Kyiv"),  # Kyiv
    ],
)
def test_timezone_of_cities(lat, lon, expected):
    name = timezone_at(lat, lon)
    assert name == expected
    assert zoneinfo.ZoneInfo(name).key == expected


def _utc_offset(name):
    return zoneinfo.ZoneInfo(name).utcoffset(datetime(2026, 1, 15, tzinfo=UTC))


@pytest.mark.parametrize(
    ("lat", "lon", "hours"),
    [
        (0.0, -30.0, -2),  # mid-Atlantic
        (0.0, -150.0, -10),  # mid-Pacific
        (-40.0, 90.0, 6),  # southern Indian Ocean
        (0.0, 0.0, 0),
    ],
)
def test_open_sea_gets_a_nautical_zone(lat, lon, hours):
    name = timezone_at(lat, lon)
    assert name.startswith("Etc/GMT")
    assert _utc_offset(name) == timedelta(hours=hours)


@pytest.mark.parametrize("answer", ["", "Bogus/Zone", "Europe"])
def test_unknown_answer_from_boundary_data_falls_back(monkeypatch, answer):
    monkeypatch.setattr(timezones.tzfpy, "get_tz", lambda lng, lat: answer)
    # East longitude means a positive offset, although the Etc name carries a minus.
    assert timezone_at(55.0, 150.0) == "Etc/GMT-10"
    assert _utc_offset(timezone_at(55.0, 150.0)) == timedelta(hours=10)
    assert timezone_at(55.0, -100.0) == "Etc/GMT+7"
    assert timezone_at(55.0, 7.0) == "Etc/GMT"
    assert timezone_at(55.0, 7.5) == "Etc/GMT-1"
    assert timezone_at(55.0, 180.0) == "Etc/GMT-12"
    assert timezone_at(55.0, -180.0) == "Etc/GMT+12"


def test_out_of_range_coordinates_still_give_a_valid_zone():
    assert timezone_at(math.nan, 37.0) == "Etc/UTC"
    assert timezone_at(55.0, math.inf) == "Etc/UTC"
    assert timezone_at(55.7558, 37.6173 + 360.0) == "Europe/Moscow"
    assert is_valid_timezone(timezone_at(95.0, 10.0))
    assert is_valid_timezone(timezone_at(-95.0, 10.0))


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
)
def test_always_loadable(lat, lon):
    zoneinfo.ZoneInfo(timezone_at(lat, lon))


@pytest.mark.parametrize(
    "name", ["Europe/Moscow", "Asia/Anadyr", "Europe/Kyiv", "Europe/Kiev", "UTC", "Etc/GMT-12"]
)
def test_valid_names(name):
    assert is_valid_timezone(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Europe",
        "Nowhere/City",
        "Europe/Mosсow",  # Cyrillic "с"
        " Europe/Moscow",
        "../etc/passwd",
        "/etc/passwd",
        "Europe/../Europe/Moscow",
        "Europe/Moscow\x00",
        "Etc/GMT+15",
        None,
        42,
    ],
)
def test_invalid_names(name):
    assert is_valid_timezone(name) is False
